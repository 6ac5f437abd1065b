#!/usr/bin/env python3
"""Run `pip install` and show its progress in a few short lines (used by `make demo`).

A first `make demo` installs every dependency, which takes about a minute and a half;
`pip --quiet` prints nothing all that time and looks hung, while plain pip prints
hundreds of lines. This prints one line per package pip collects, one when it starts
installing, a heartbeat while a long step runs, and the elapsed time at the end. When
pip fails, its last lines are shown and its exit code is returned.

    python scripts/pip_progress.py PYTHON [pip install arguments ...]
"""

from __future__ import annotations

import collections
import os
import queue
import re
import subprocess
import sys
import threading
import time

COLLECTING = re.compile(r"^Collecting (\S+)")
INSTALLING = re.compile(r"^Installing collected packages: (.*)$")
DONE = re.compile(r"^Successfully installed (.*)$")
HEARTBEAT_S = float(os.environ.get("PIP_PROGRESS_HEARTBEAT_S", "10"))
TAIL_LINES = 30


def summarize(line: str, collected: int) -> tuple[str | None, int]:
    """(the progress line to print for one pip output line or None, packages collected so far)."""
    text = line.strip()
    match = COLLECTING.match(text)
    if match:
        collected += 1
        return f"  [{collected}] collecting {match.group(1)}", collected
    match = INSTALLING.match(text)
    if match:
        count = len([name for name in match.group(1).split(",") if name.strip()])
        return f"  installing {count} package(s)...", collected
    match = DONE.match(text)
    if match:
        return f"  installed {len(match.group(1).split())} package(s)", collected
    return None, collected


def _pump(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    python, args = argv[0], argv[1:]
    command = [python, "-m", "pip", "install", "--progress-bar", "off", *args]
    print(f"pip install {' '.join(args)}", flush=True)
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace")
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    collected = 0
    while True:
        try:
            line = lines.get(timeout=HEARTBEAT_S)
        except queue.Empty:
            print(f"  still working ({time.monotonic() - started:.0f} s)...", flush=True)
            continue
        if line is None:
            break
        tail.append(line.rstrip())
        shown, collected = summarize(line, collected)
        if shown:
            print(shown, flush=True)
    code = process.wait()
    elapsed = time.monotonic() - started
    if code:
        print(f"pip failed (exit {code}) after {elapsed:.0f} s; its last lines:", file=sys.stderr)
        for line in tail:
            print(f"  {line}", file=sys.stderr)
        return code
    print(f"  done in {elapsed:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

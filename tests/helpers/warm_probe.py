"""A stand-in worker entry for the fork-server tests: reports what the forked process looks like.

`main(["--out", FILE, "--code", N, "--hang"])` writes a JSON report (pid, parent, session,
which SDK modules were already imported when it started, its environment marker) and
exits with N, or waits for a signal with --hang.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    out = argv[argv.index("--out") + 1]
    code = int(argv[argv.index("--code") + 1]) if "--code" in argv else 0
    report = {
        "pid": os.getpid(), "ppid": os.getppid(), "sid": os.getsid(0),
        "preloaded": sorted(m for m in ("anthropic", "openai", "amatelier.llm_backend") if m in sys.modules),
        "marker": os.environ.get("WARM_PROBE_MARKER"), "argv0": sys.argv[0],
    }
    print(f"probe says hello from {report['pid']}", file=sys.stderr, flush=True)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(report, handle)
    if "--hang" in argv:
        while True:
            time.sleep(0.05)
    return code

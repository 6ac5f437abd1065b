"""Startup benchmark: median wall time of `amatelier --version` and `amatelier --help`.

Runs each command N times as a fresh subprocess and prints min / median / max in ms.
Target: `--version` median under 150 ms (the CLI must not import an LLM SDK to start).

    python scripts/bench_startup.py [--runs 15] [--target-ms 150]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def amatelier_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m amatelier`."""
    script = Path(sys.executable).with_name("amatelier")
    if script.is_file():
        return [str(script)]
    found = shutil.which("amatelier")
    return [found] if found else [sys.executable, "-m", "amatelier"]


def time_runs(argv: list[str], runs: int, env: dict[str, str]) -> list[float]:
    """Wall-clock milliseconds of each run (one warm-up run first, not counted)."""
    subprocess.run(argv, env=env, capture_output=True, check=True)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--target-ms", type=float, default=150.0,
                        help="report whether the --version median is under this")
    args = parser.parse_args()

    base = amatelier_command()
    with tempfile.TemporaryDirectory() as workspace:
        env = dict(os.environ, AMATELIER_WORKSPACE=workspace)
        results = {}
        for label, extra in (("--version", ["--version"]), ("--help", ["--help"]),
                             ("python -c pass (baseline)", None)):
            argv = base + extra if extra is not None else [sys.executable, "-c", "pass"]
            samples = time_runs(argv, args.runs, env)
            results[label] = samples
            print(f"{label:<28} runs={len(samples):<3} min={min(samples):7.1f} ms  "
                  f"median={statistics.median(samples):7.1f} ms  max={max(samples):7.1f} ms")
    median = statistics.median(results["--version"])
    verdict = "under" if median < args.target_ms else "OVER"
    print(f"--version median {median:.1f} ms is {verdict} the {args.target_ms:.0f} ms target "
          f"(command: {' '.join(base)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Startup benchmark: median wall time of `amatelier --version` and `amatelier --help`.

Runs each command N times as a fresh subprocess and prints min / median / max in ms.
Targets: `--version` and `--help` medians at most 150 ms (the CLI must not import an LLM
SDK or build every command group to start). `--help` is measured as scripts see it (to a
pipe: the stored rendering) and as a terminal sees it (COLUMNS=80 forces the typer path,
the lazy command group).

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
                        help="report whether the --version and --help medians are within this")
    args = parser.parse_args()

    base = amatelier_command()
    with tempfile.TemporaryDirectory() as workspace:
        env = dict(os.environ, AMATELIER_WORKSPACE=workspace)
        results = {}
        terminal = dict(env, COLUMNS="100")
        for label, extra, run_env in (("--version", ["--version"], env), ("--help", ["--help"], env),
                                      ("--help (terminal path)", ["--help"], terminal),
                                      ("python -c pass (baseline)", None, env)):
            argv = base + extra if extra is not None else [sys.executable, "-c", "pass"]
            samples = time_runs(argv, args.runs, run_env)
            results[label] = samples
            print(f"{label:<28} runs={len(samples):<3} min={min(samples):7.1f} ms  "
                  f"median={statistics.median(samples):7.1f} ms  max={max(samples):7.1f} ms")
    for label in ("--version", "--help"):
        median = statistics.median(results[label])
        verdict = "within" if median <= args.target_ms else "OVER"
        print(f"{label} median {median:.1f} ms is {verdict} the {args.target_ms:.0f} ms target "
              f"(command: {' '.join(base)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

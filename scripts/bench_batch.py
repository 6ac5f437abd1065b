#!/usr/bin/env python3
"""Time a benchmark batch offline: the starter suite at --parallel 1 and 2 (local engine).

Prints the wall time of each batch and the mean time per roundtable. Numbers only: it asserts
nothing, and it never uses a provider (AMATELIER_MODE=offline, temporary workspaces).

    python scripts/bench_batch.py [--parallel 1,2] [--engine local]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STARTER = REPO / "examples" / "suites" / "starter"


def run_batch(parallel: int, engine: str) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="amatelier-bench-batch-") as workspace:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.update(AMATELIER_WORKSPACE=workspace, AMATELIER_MODE="offline")
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "amatelier", "batch", "run", str(STARTER),
                                 "--parallel", str(parallel), "--engine", engine, "--json"],
                                env=env, capture_output=True, text=True, cwd=str(REPO))
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"batch failed: {result.stderr.strip().splitlines()[-1:]}")
        return elapsed, json.loads(result.stdout)["counts"]["done"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", default="1,2", help="comma-separated parallelism levels")
    parser.add_argument("--engine", default="local", choices=("local", "ray"))
    args = parser.parse_args()
    for level in (int(p) for p in args.parallel.split(",")):
        elapsed, done = run_batch(level, args.engine)
        print(f"engine={args.engine} parallel={level}: {done} roundtables in {elapsed:.2f} s "
              f"({elapsed / max(done, 1):.2f} s per roundtable)")


if __name__ == "__main__":
    main()

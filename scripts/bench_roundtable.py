"""Benchmark a whole roundtable on the offline backend (answers instantly), so what is
measured is the engine: process start-up, turn handoffs through SQLite, context assembly.

    .venv/bin/python scripts/bench_roundtable.py [--runs 3] [--workers elena,marcus,clare,simon]

Prints, per run and as the median over runs: total wall time of the `amatelier roundtable`
command, turns, handoff latency p50/p95 (turn requested → worker claimed it; message
posted → runner saw it), engine overhead per turn, and peak RSS per worker.
Targets on a 2-core machine: whole roundtable < 5 s; handoff p50 < 20 ms, p95 < 100 ms;
worker RSS < 80 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BRIEFING = REPO / "examples" / "briefings" / "hello-world.md"


def run_once(workers: str, rounds: int, budget: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="amatelier-bench-") as workspace:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMATELIER_")}
        env.update({"AMATELIER_WORKSPACE": workspace, "AMATELIER_MODE": "offline"})
        cmd = [sys.executable, "-m", "amatelier", "roundtable", "--topic", "split the monolith?",
               "--briefing", str(BRIEFING), "--workers", workers, "--max-rounds", str(rounds),
               "--budget", str(budget), "--skip-post"]
        started = time.perf_counter()
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(REPO))
        wall = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"roundtable failed ({result.returncode}):\n{result.stderr}")
        digest = json.loads(result.stdout)
        rss = {}
        for log in (Path(workspace) / "roundtable-server" / "logs").glob("*.log"):
            agent = log.stem.split("-", 1)[1]
            values = [int(v) for v in re.findall(r"maxrss_kb=(\d+)", log.read_text())]
            if values:
                rss[agent] = max(values) / 1024.0
        engine = digest["engine"]
        return {"wall_s": wall, "rounds": digest["rounds"], "turns": engine["turns"],
                "claim_p50": engine["handoff_claim_ms"]["p50"], "claim_p95": engine["handoff_claim_ms"]["p95"],
                "seen_p50": engine["handoff_seen_ms"]["p50"], "seen_p95": engine["handoff_seen_ms"]["p95"],
                "overhead_ms": engine["overhead_per_turn_ms"],
                "overhead_p50_ms": engine["overhead_per_turn_p50_ms"], "rss_mb": rss,
                "duration_s": digest.get("duration_s")}


def show(label: str, r: dict) -> None:
    rss = ", ".join(f"{a} {mb:.1f}" for a, mb in sorted(r["rss_mb"].items()))
    print(f"{label}: wall {r['wall_s']:.2f} s · rounds {r['rounds']} · turns {r['turns']} · "
          f"handoff claim p50 {r['claim_p50']:.1f} / p95 {r['claim_p95']:.1f} ms · "
          f"posted→seen p50 {r['seen_p50']:.1f} / p95 {r['seen_p95']:.1f} ms · "
          f"overhead/turn mean {r['overhead_ms']:.1f} / p50 {r['overhead_p50_ms']:.1f} ms")
    print(f"    peak RSS MB per worker: {rss}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default="elena,marcus,clare,simon")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=3)
    args = parser.parse_args()
    results = []
    for i in range(args.runs):
        result = run_once(args.workers, args.rounds, args.budget)
        show(f"run {i + 1}", result)
        results.append(result)
    med = {key: statistics.median(r[key] for r in results)
           for key in ("wall_s", "claim_p50", "claim_p95", "seen_p50", "seen_p95", "overhead_ms", "overhead_p50_ms")}
    peak = max(mb for r in results for mb in r["rss_mb"].values())
    print()
    print(f"median over {len(results)} runs ({args.workers}; max {args.rounds} rounds; budget {args.budget}):")
    print(f"  total wall time          {med['wall_s']:.2f} s          (target < 5 s)")
    print(f"  turns                    {results[-1]['turns']}")
    print(f"  handoff requested→claimed p50 {med['claim_p50']:.1f} ms, p95 {med['claim_p95']:.1f} ms"
          "  (target p50 < 20, p95 < 100)")
    print(f"  handoff posted→seen      p50 {med['seen_p50']:.1f} ms, p95 {med['seen_p95']:.1f} ms")
    print(f"  engine overhead per turn mean {med['overhead_ms']:.1f} ms, p50 {med['overhead_p50_ms']:.1f} ms"
          "  (mean includes worker start-up on first turns)")
    print(f"  peak worker RSS          {peak:.1f} MB      (target < 80 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Hedged-call benchmark: tail latency with and without `llm.hedge`, on a simulated slow-tailed model.

A backend whose latency is usually short but sometimes very long (a heavy tail, as real
providers have) answers N calls through `call_and_record`, first without hedging, then with
`llm.hedge` (p75 threshold, min 20 samples) in a fresh temp workspace. Prints p50/p95/p99,
how many calls were hedged, how often the hedge won, and the calls sent in total.

    python scripts/bench_hedge.py [--calls 200] [--fast-ms 20] [--slow-ms 400] [--slow-share 0.1]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--fast-ms", type=float, default=20.0)
    parser.add_argument("--slow-ms", type=float, default=400.0)
    parser.add_argument("--slow-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ["AMATELIER_WORKSPACE"] = tempfile.mkdtemp(prefix="amatelier-bench-hedge-")

    from amatelier.backends.base import Completion, LLMBackend
    from amatelier.chat.db import open_db
    from amatelier.chat.llm_calls import call_and_record

    rng = random.Random(args.seed)
    lock = threading.Lock()

    class SlowTail(LLMBackend):
        name = "slow-tail"
        sent = 0

        @classmethod
        def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
            return True, "benchmark"

        def resolve_model(self, model: str) -> str:
            return f"bench-{model}"

        def complete(self, system, prompt, model="sonnet", max_tokens=1024, timeout=120.0, *, task=None,
                     agent=None) -> Completion:
            with lock:
                SlowTail.sent += 1
                slow = rng.random() < args.slow_share
            started = time.perf_counter()
            time.sleep((args.slow_ms if slow else args.fast_ms) / 1000.0)
            return Completion(text="ok", backend=self.name, model=f"bench-{model}",
                              latency_ms=(time.perf_counter() - started) * 1000.0)

    def run(config: dict[str, Any], label: str) -> None:
        conn = open_db()
        conn.execute("DELETE FROM llm_calls")
        SlowTail.sent = 0
        backend = SlowTail(config)
        latencies = []
        for _ in range(args.calls):
            started = time.perf_counter()
            call_and_record(conn, backend, rt_id=None, agent="bench", role="speak", system="s", prompt="p",
                            model="sonnet")
            latencies.append((time.perf_counter() - started) * 1000.0)
        ordered = sorted(latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

        hedged = conn.execute("SELECT COUNT(*), SUM(winner = 'hedge') FROM hedged_calls").fetchone()
        conn.execute("DELETE FROM hedged_calls")
        print(f"{label:>10}: p50 {statistics.median(latencies):7.1f} ms  p95 {pct(95):7.1f} ms  "
              f"p99 {pct(99):7.1f} ms  hedged {hedged[0] or 0:4d} (hedge won {hedged[1] or 0:4d})  "
              f"requests sent {SlowTail.sent}")
        conn.close()

    run({}, "no hedge")
    run({"llm": {"hedge": {"enabled": True, "percentile": 75, "min_samples": 20}}}, "hedge p75")


if __name__ == "__main__":
    main()

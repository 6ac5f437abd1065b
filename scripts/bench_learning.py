#!/usr/bin/env python3
"""Time the learning loop offline: distillation, therapist sessions and the other post steps.

Builds synthetic roundtables (rows and messages written directly, no runner, no workers)
in a temporary workspace and runs the learning hooks on each, as the runner would.

    python scripts/bench_learning.py [--roundtables 5] [--workers 4] [--messages 60]

Prints per-step wall times; numbers only, nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

NAMES = ["elena", "marcus", "clare", "simon", "naomi"]
WORDS = ["lease", "expiry", "replay", "outbox", "migration", "rollback", "checkpoint", "boundary", "schema", "ownership", "latency", "invoice", "reconciliation", "sequence", "failover", "consumer", "contract", "cutover"]


def fake_roundtable(conn, rt_id: str, workers: list[str], messages: int, seed: int) -> dict:
    from amatelier.chat import messages as chat

    conn.execute("INSERT INTO roundtables (id, topic, participants, status, created_at)"
                 " VALUES (?, ?, ?, 'closed', '2026-01-01T00:00:00Z')",
                 (rt_id, f"bench topic {seed}", json.dumps(workers)))
    chat.post(conn, rt_id, "runner", "BRIEFING:\n\nDecide the bench question.", kind="briefing")
    for i in range(messages):
        agent = workers[i % len(workers)]
        peer = workers[(i + 1) % len(workers)]
        words = " ".join(WORDS[(i * 7 + seed + k) % len(WORDS)] for k in range(30))
        chat.post(conn, rt_id, agent, f"Building on {peer}: {words}.", kind="speech",
                  round=1 + i // (2 * len(workers)), phase="SPEAK" if i % 2 == 0 else "REBUTTAL")
    return {"rt_id": rt_id, "topic": f"bench topic {seed}", "workers": workers,
            "ended_at": f"2026-01-{seed + 1:02d}T00:00:00Z", "rounds": 2,
            "contributions": {w: messages // len(workers) for w in workers},
            "scores": {w: {"novelty": 1, "accuracy": 2, "impact": (seed + j) % 4, "challenge": 1,
                           "total": 4 + (seed + j) % 4, "reason": "bench"} for j, w in enumerate(workers)},
            "budget_usage": {w: {"spent": 1, "budget": 3} for w in workers}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roundtables", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--messages", type=int, default=60)
    args = parser.parse_args()
    workspace = Path(tempfile.mkdtemp(prefix="amatelier-bench-learning-"))
    os.environ["AMATELIER_WORKSPACE"] = str(workspace)
    os.environ["AMATELIER_MODE"] = "offline"

    from amatelier import paths
    from amatelier.chat.db import open_db
    from amatelier.config import load_config
    from amatelier.learning import debrief as learning_hooks
    from amatelier.state import RoundtableState

    conn = open_db()
    config = load_config()
    workers = NAMES[: max(1, min(len(NAMES), args.workers))]
    timings: dict[str, list[float]] = {"before_open": [], "after_close": [], "post": []}
    for n in range(args.roundtables):
        digest = fake_roundtable(conn, f"bench{n:03d}", workers, args.messages, n)
        state = RoundtableState(rt_id=digest["rt_id"], topic=digest["topic"], briefing_text="",
                                briefing_path=Path("b.md"), launch_dir=Path("."), workers=workers,
                                judge="judge", config=config, conn=conn, mode="offline",
                                max_rounds=2, budget_per_agent=3)
        for step in ("before_open", "after_close", "post"):
            started = time.perf_counter()
            fn = getattr(learning_hooks, step)
            result = fn(state) if step == "before_open" else fn(state, digest)
            timings[step].append((time.perf_counter() - started) * 1000)
            if step == "after_close":
                digest.update(result)
        (paths.user_digest_dir() / f"digest-{digest['rt_id']}.json").write_text(json.dumps(digest))
    print(f"workspace: {workspace}")
    print(f"{args.roundtables} roundtables, {len(workers)} workers, {args.messages} messages each (offline)")
    for step, values in timings.items():
        print(f"  {step:<12} median {statistics.median(values):8.1f} ms   max {max(values):8.1f} ms")
    index = json.loads(paths.user_shared_skills_index().read_text())
    print(f"  skills indexed: {len(index['entries'])}; "
          f"MEMORY.md sizes: {[len((paths.user_agent_dir(w) / 'MEMORY.md').read_text()) for w in workers]}")


if __name__ == "__main__":
    main()

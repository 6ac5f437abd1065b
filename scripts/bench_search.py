#!/usr/bin/env python3
"""Time the one-time search backfill and a few queries on a synthetic database.

    PYTHONPATH=src python scripts/bench_search.py [--messages 50000]

Prints numbers only; nothing is asserted (timings belong here, not in tests).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from amatelier.chat import db as chatdb
from amatelier.chat.messages import post
from amatelier.chat.roundtables import open_roundtable
from amatelier.search import query

WORDS = ["kafka", "nats", "billing", "monolith", "queue", "partition", "replay", "consumer", "outbox", "lease", "invoice", "platform", "team", "latency", "cost", "migration", "rollback", "schema", "event", "stream", "broker", "ownership", "coupling"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        conn = chatdb.connect(path)
        chatdb.applied_versions(conn)
        for version, name, file in chatdb.available_migrations():
            if version >= 10:
                continue
            if file.suffix == ".py":
                chatdb.migration_module(file).upgrade(conn)
            else:
                conn.executescript(file.read_text(encoding="utf-8"))
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", (version, name))
        rts = [open_roundtable(conn, " ".join(rng.sample(WORDS, 3)) + "?", ["elena"]) for _ in range(50)]
        conn.execute("BEGIN")
        for i in range(args.messages):
            post(conn, rts[i % len(rts)], rng.choice(["elena", "marcus", "clare"]),
                 " ".join(rng.choice(WORDS) for _ in range(60)), kind="speech", round=1, phase="SPEAK")
        conn.execute("COMMIT")
        started = time.perf_counter()
        chatdb.migrate(conn, path)
        print(f"backfill of {args.messages} messages: {time.perf_counter() - started:.2f} s")
        for q in ("kafka", "kafka AND replay", '"outbox lease"', "migra*"):
            started = time.perf_counter()
            hits = query.search(conn, q, limit=10)
            print(f"query {q!r}: {len(hits)} hits in {(time.perf_counter() - started) * 1000:.1f} ms")


if __name__ == "__main__":
    main()

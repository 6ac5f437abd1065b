"""Run a caching fake provider in its own process (for scripts/bench_roundtable.py).

    python -m tests.helpers.fake_serve anthropic|openai [--latency-ms 400] [--answers offline|echo]

Prints one JSON line {"url": ..., "base_url": ...} once it listens, then serves until its
stdin closes (the parent went away) or it receives SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from tests.helpers.fake_caching import CachingAnthropic, LatencyOpenAI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fake_serve", description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=("anthropic", "openai"))
    parser.add_argument("--latency-ms", type=float, default=0.0, help="time each call takes")
    parser.add_argument("--answers", choices=("offline", "echo"), default="offline",
                        help="answer like the offline model, or echo the prompt")
    args = parser.parse_args(argv)
    latency = max(0.0, args.latency_ms) / 1000.0
    kind = CachingAnthropic if args.kind == "anthropic" else LatencyOpenAI
    server = kind(latency, args.answers)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    with server:
        print(json.dumps({"url": server.url, "base_url": server.base_url}), flush=True)
        done.wait()
        totals = getattr(getattr(server, "cache", None), "totals", None)
        if totals:
            print(json.dumps({"cache_totals": totals}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Telemetry benchmark: what `emit()` costs the debate, on a normal disk and on a stuck one.

Emits N events through the JSONL writer and prints the per-call latency (p50 / p99 / max, in
microseconds), how many were written and how many dropped. The "stuck disk" case makes every
write block for `--stall-ms`, to show the debate's side never waits for the disk.

    python scripts/bench_telemetry.py [--events 20000] [--stall-ms 50]
"""

from __future__ import annotations

import argparse
import builtins
import statistics
import tempfile
import time
from pathlib import Path

from amatelier.telemetry import events as ev
from amatelier.telemetry.writer import JsonlWriter


class StalledFile:
    """A file whose every write takes `stall` seconds (a slow or stuck disk)."""

    def __init__(self, stall: float) -> None:
        self.stall = stall

    def write(self, text: str) -> None:
        time.sleep(self.stall)

    def flush(self) -> None: ...

    def close(self) -> None: ...


def run(events: int, directory: Path, stall_ms: float | None) -> None:
    real_open = builtins.open
    if stall_ms is not None:
        builtins.open = lambda file, *a, **k: (StalledFile(stall_ms / 1000.0) if str(file).endswith(".jsonl")
                                               else real_open(file, *a, **k))
    try:
        writer = JsonlWriter(directory / "telemetry.jsonl")
        payload = ev.metric_payload("bench", 1.0, round=1)
        costs = []
        for _ in range(events):
            event = ev.envelope(ev.METRIC, "bench", payload)
            started = time.perf_counter()
            writer.emit(event)
            costs.append((time.perf_counter() - started) * 1e6)
        writer.close(timeout=1.0)
    finally:
        builtins.open = real_open
    costs.sort()
    label = "normal disk" if stall_ms is None else f"disk stalling {stall_ms:g} ms per write"
    print(f"{label:32} emit p50 {statistics.median(costs):6.1f} us  p99 {costs[int(len(costs) * 0.99)]:6.1f} us"
          f"  max {costs[-1]:8.1f} us  written {writer.written}  dropped {writer.dropped}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--stall-ms", type=float, default=50.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args.events, Path(tmp), None)
        run(args.events, Path(tmp), args.stall_ms)


if __name__ == "__main__":
    main()

"""Batch progress on stderr: a rich bar (done/total, failures, cost so far) for a person at a
terminal, one plain line per finished run otherwise (logs, CI, pipes)."""

from __future__ import annotations

import sys
from typing import Any

from amatelier.benchmarks.driver import Progress


def describe(done: int, total: int, failed: int, cost_usd: float) -> str:
    """`7/12 done · 1 failed · $0.0123 so far` (pure, for tests and the plain output)."""
    return f"{done}/{total} done · {failed} failed · ${cost_usd:.4f} so far"


class BatchProgress(Progress):
    """Shows a batch's runs finishing. `live` picks the rich bar over plain lines."""

    def __init__(self, batch_id: str, *, live: bool | None = None, stream: Any = None) -> None:
        self.batch_id = batch_id
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.total = self.done = self.failed = 0
        self.cost = 0.0
        self._bar: Any = None
        self._task: Any = None

    def begin(self, total: int, already_done: int, cost_usd: float) -> None:
        self.total, self.done, self.cost = total, already_done, cost_usd
        if already_done:
            self._line(f"{self.batch_id}: {already_done} of {total} runs already finished; running the rest")
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[failed]} failed · ${task.fields[cost]:.4f}"),
                                 TimeElapsedColumn(), console=Console(file=self.stream), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.batch_id, total=total, completed=already_done,
                                            failed=0, cost=cost_usd)

    def finished(self, key: str, ok: bool, cost_usd: float | None, error: str | None) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        self.cost = cost_usd if cost_usd is not None else self.cost
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, failed=self.failed, cost=self.cost)
            if not ok:
                self._bar.console.print(f"[red]failed[/red] {key}: {error}")
            return
        status = "ok" if ok else f"FAILED: {error}"
        self._line(f"{self.batch_id}: {describe(self.done, self.total, self.failed, self.cost)} · {key} {status}")

    def end(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

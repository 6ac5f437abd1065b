"""A one-line live progress display on stderr while a roundtable runs in a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any


def wanted() -> bool:
    """Show progress only when a person is watching: stderr and stdout are both terminals."""
    return sys.stderr.isatty() and sys.stdout.isatty()


class RunnerProgress:
    """Round, phase, current speaker and elapsed time, redrawn in place (rich, on stderr)."""

    def __init__(self, topic: str) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                  TimeElapsedColumn(), console=self.console, transient=True)
        self._task = self._progress.add_task(f"roundtable: {topic[:60]} · starting", total=None)
        self._topic = topic
        self._progress.start()
        self._started = time.monotonic()
        self._stopped = False

    def update(self, *, round: int = 0, max_rounds: int = 0, phase: str = "", speaker: str = "",
               **_: Any) -> None:
        """Show the current round, phase and speaker."""
        parts = [f"round {round}/{max_rounds}" if round else "setting up"]
        if phase:
            parts.append(phase)
        if speaker:
            parts.append(f"{speaker} is speaking…")
        self._progress.update(self._task, description=" · ".join(parts))

    def refresh(self) -> None:
        """Cheap; rich redraws on its own thread."""

    def stop(self) -> None:
        """Remove the progress line."""
        if not self._stopped:
            self._stopped = True
            self._progress.stop()

"""A one-line live progress display on stderr while a roundtable runs in a terminal.

It shows the roundtable id, round, phase, who holds the turn (and for how long) and the
total elapsed time, redrawn in place by rich. It is transient: when the run ends the line
disappears, so the summary or digest printed afterwards is never garbled. It is only made
when a person is watching (see `wanted()`); piped output gets no progress at all.
"""

from __future__ import annotations

import sys
import time
from typing import Any

# What the line says while the runner works after the debate (keys are runner stage names).
STAGES = {
    "closing": "closing the roundtable · stopping workers",
    "decision": "the chair writes the decision",
    "scoring": "judge scoring",
    "distilling": "distilling skills",
    "post": "therapist sessions and upkeep",
    "digest": "writing the digest",
    "caches": "updating the leaderboard and metrics caches",
}


def wanted() -> bool:
    """Show progress only when a person is watching: stderr and stdout are both terminals."""
    return sys.stderr.isatty() and sys.stdout.isatty()


def describe(*, rt_id: str = "", round: int = 0, max_rounds: int = 0, phase: str = "",
             speaker: str = "", speaker_s: float | None = None, stage: str = "") -> str:
    """The progress line's text (pure, for tests): `rt · round 2/3 · SPEAK · elena is speaking… 4s`."""
    parts = [rt_id] if rt_id else []
    if stage:
        parts.append(STAGES.get(stage, stage))
        return " · ".join(parts)
    parts.append(f"round {round}/{max_rounds}" if round else "setting up")
    if phase:
        parts.append(phase)
    if speaker:
        doing = "is deciding…" if phase == "GATE" else "is speaking…"
        seconds = f" {int(speaker_s)}s" if speaker_s is not None and speaker_s >= 1 else ""
        parts.append(f"{speaker} {doing}{seconds}")
    return " · ".join(parts)


class RunnerProgress:
    """Round, phase, current speaker and elapsed time, redrawn in place (rich, on stderr)."""

    def __init__(self, topic: str, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = console or Console(stderr=True)
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                  TextColumn("[dim]· elapsed[/]"), TimeElapsedColumn(),
                                  console=self.console, transient=True)
        self._topic = topic
        self._state: dict[str, Any] = {}
        self._speaker_since: float | None = None
        self._shown = ""
        self._task = self._progress.add_task(f"roundtable: {topic[:60]} · starting", total=None)
        self._progress.start()
        self._stopped = False

    def started(self, rt_id: str) -> None:
        """The roundtable row exists: say once (it stays on screen) how to follow it live."""
        self._state["rt_id"] = rt_id
        self._progress.console.print(f"[bold]roundtable {rt_id}[/] · {self._topic[:80]} · "
                                     f"follow it live with [cyan]amatelier watch --rt {rt_id}[/]",
                                     highlight=False)
        self._redraw()

    def update(self, *, round: int = 0, max_rounds: int = 0, phase: str = "", speaker: str = "",
               **_: Any) -> None:
        """Show the current round, phase and speaker."""
        if speaker != self._state.get("speaker") or not speaker:
            self._speaker_since = time.monotonic() if speaker else None
        self._state.update(round=round, max_rounds=max_rounds, phase=phase, speaker=speaker, stage="")
        self._redraw()

    def stage(self, name: str) -> None:
        """After the debate: show which post-roundtable step is running (see STAGES)."""
        self._state.update(stage=name, speaker="")
        self._speaker_since = None
        self._redraw()

    def refresh(self) -> None:
        """Called while the runner waits on a turn: keeps the speaker's seconds current."""
        self._redraw()

    def _redraw(self) -> None:
        if self._stopped:
            return
        since = self._speaker_since
        text = describe(**self._state, speaker_s=(time.monotonic() - since) if since else None)
        if text != self._shown:
            self._shown = text
            self._progress.update(self._task, description=text)

    def stop(self) -> None:
        """Remove the progress line (idempotent)."""
        if not self._stopped:
            self._stopped = True
            self._progress.stop()

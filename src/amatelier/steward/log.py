"""The audit trail of one roundtable's Steward requests; it goes into the digest."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from amatelier.atomicio import write_json_atomic
from amatelier.steward.result import StewardResult


class StewardLog:
    """Records agent, request, path used, status, bytes, elapsed and round of each lookup.

    The answer text is kept too (capped at `output_chars`) so an audit can see what an
    agent was told.
    """

    def __init__(self, output_chars: int = 2000) -> None:
        self.output_chars = output_chars
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, agent: str, request: str, result: StewardResult, round_num: int | None,
               *, phase: str | None = None, free: bool = False) -> dict[str, Any]:
        entry = {
            "agent": agent,
            "request": request,
            "path": result.path,
            "status": result.status,
            "bytes": result.bytes,
            "elapsed_s": round(result.elapsed_s, 4),
            "round": round_num,
            "phase": phase,
            "method": result.method,
            "free": free,
            "output": _cap(result.output, self.output_chars),
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def save(self, path: Path) -> None:
        """Write the log as JSON atomically (for audits outside the digest)."""
        write_json_atomic(Path(path), self.entries())


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."

"""Holds on a backend+model: the circuit breaker for provider calls, kept in the database.

A provider that answers `429, retry-after: 3600` means "not for an hour": sleeping on a
cut-down wait and retrying costs every one of that agent's turns minutes for nothing. So
that backend+model is held until the time the provider named, and every later call in
the same roundtable is skipped without a request. Calls that keep failing with 429/5xx
(after their own retries) trip the same breaker for a short cool-down. A hold belongs to
the agent whose calls tripped it (each agent's breaker trips on what it saw itself, so one
agent's failures never silence the others; if the whole provider is down, each agent pays
one failed call before its own hold). Holds live in `llm_holds`, so a worker's later turns
(even after a restart) see them, and the digest lists them as `engine.events` of kind
`breaker`.
"""

from __future__ import annotations

import calendar
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

TRANSIENT_KINDS = ("rate_limit", "server")


@dataclass(frozen=True)
class Hold:
    """One backend+model held until `until` (epoch seconds)."""

    backend: str
    model: str
    until: float
    reason: str

    def line(self) -> str:
        """What a skipped call says: which backend+model, until when, why."""
        return (f"{self.backend} (model {self.model}) is cooling down until {clock(self.until)}: "
                f"{self.reason}; call skipped without a request")


def clock(epoch: float) -> str:
    """HH:MM:SS local time, as a person reads a hold."""
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def active(conn: sqlite3.Connection, rt_id: str | None, agent: str | None, backend: str, model: str,
           now: float | None = None) -> Hold | None:
    """The hold in force on this agent's backend+model in this roundtable, if any (the latest-ending one)."""
    current = time.time() if now is None else now
    try:
        row = conn.execute(
            "SELECT backend, model, until, reason FROM llm_holds WHERE rt_id IS ? AND agent IS ?"
            " AND backend = ? AND model = ? AND until > ? ORDER BY until DESC LIMIT 1",
            (rt_id, agent, backend, model, current)).fetchone()
    except sqlite3.OperationalError:  # a database from before migration 005
        return None
    return Hold(row[0], row[1], float(row[2]), row[3]) if row else None


def add(conn: sqlite3.Connection, *, rt_id: str | None, agent: str | None, backend: str, model: str,
        until: float, reason: str, now: float | None = None) -> Hold:
    """Record a hold (the breaker trips)."""
    current = time.time() if now is None else now
    conn.execute(
        "INSERT INTO llm_holds (rt_id, agent, backend, model, until, reason, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (rt_id, agent, backend, model, until, reason[:500], _stamp(current)))
    return Hold(backend, model, until, reason)


def recent_transient_failures(conn: sqlite3.Connection, rt_id: str | None, agent: str | None, backend: str,
                              model: str, window_s: float, now: float | None = None) -> int:
    """This agent's calls on backend+model that failed for good with 429/5xx within the window."""
    current = time.time() if now is None else now
    row = conn.execute(
        "SELECT COUNT(*) FROM llm_calls WHERE rt_id IS ? AND agent IS ? AND backend = ? AND model = ?"
        " AND status = 'error' AND error_kind IN (?, ?) AND created_at >= ?",
        (rt_id, agent, backend, model, *TRANSIENT_KINDS, _stamp(current - window_s))).fetchone()
    return int(row[0]) if row else 0


def hold_after_failure(*, hold_s: float | None, kind: str, recent_failures: int, threshold: int,
                       cooldown_s: float, now: float) -> tuple[float, str] | None:
    """(until, reason) when a failed call trips the breaker, else None (pure).

    A retry-after beyond the cap holds until the provider's own time; `threshold` calls
    failed for good with 429/5xx within the window hold for `cooldown_s`.
    """
    if hold_s is not None and hold_s > 0:
        return now + hold_s, f"the provider asked to wait {hold_s:g} s (retry-after)"
    if kind in TRANSIENT_KINDS and recent_failures >= threshold and cooldown_s > 0:
        return now + cooldown_s, f"{recent_failures} calls failed with 429/5xx in a row"
    return None


def events(conn: sqlite3.Connection, rt_id: str) -> list[dict[str, Any]]:
    """The roundtable's holds as digest events.

    Shape: {"event": "breaker", "kind": "breaker", "agent", "at" (epoch s), "backend", "model",
    "until" (epoch s), "until_local" (HH:MM:SS), "reason"}: `event` like the runner's other
    engine events, `kind` as readers of the digest look for it.
    """
    try:
        rows = conn.execute(
            "SELECT agent, backend, model, until, reason, created_at FROM llm_holds WHERE rt_id = ?"
            " ORDER BY id", (rt_id,)).fetchall()
    except sqlite3.OperationalError:
        return []
    return [{"event": "breaker", "kind": "breaker", "agent": r[0] or "", "at": _epoch(r[5]) or float(r[3]),
             "backend": r[1], "model": r[2], "until": float(r[3]), "until_local": clock(float(r[3])),
             "reason": r[4]} for r in rows]


def _epoch(stamp: str) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        return None

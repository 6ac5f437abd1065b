"""A roundtable's ceilings in the database: limits, what was spent, holds for calls in flight.

The rules are in `chat.ceilings` (pure); this module is the I/O around them. Every process
that calls a model for a roundtable (runner, workers) goes through `hold()` before the call:
in one IMMEDIATE transaction it sums the recorded calls and the holds of calls still in
flight, checks the worst case of the new call, and either inserts a hold or records the
stop reason and refuses. So two workers answering at the same moment cannot together pass
a ceiling. `release()` drops the hold once the call is recorded (or failed).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from amatelier.backends.base import LLMCallError
from amatelier.chat.ceilings import (
    DECISION_ROLES,
    Estimate,
    Limits,
    Spent,
    Verdict,
    check_call,
    seconds_left,
)
from amatelier.chat.db import transaction
from amatelier.chat.waiting import ChangeWaiter

#: how long a call waits for calls in flight to be recorded before it gives up on a ceiling
HOLD_WAIT_S = 300.0


class CeilingReached(LLMCallError):
    """The next call would not fit under a ceiling; it was not made. `reason` is the stop reason."""

    def __init__(self, reason: str, *, ceiling: str, backend: str = "", model: str = "") -> None:
        super().__init__(reason, kind="ceiling", backend=backend, model=model)
        self.reason = reason
        self.ceiling = ceiling


@dataclass(frozen=True)
class Hold:
    """A reservation for one call in flight; `timeout_s` caps the call under a time limit."""

    id: int
    timeout_s: float | None = None


def set_limits(conn: sqlite3.Connection, rt_id: str, limits: Limits, *,
               started_ts: float | None = None) -> None:
    """Record the limits a roundtable runs under (only when it has at least one)."""
    if not limits.any:
        return
    conn.execute(
        "INSERT OR REPLACE INTO rt_ceilings (rt_id, max_cost_usd, max_tokens, max_minutes, reserve_share,"
        " started_ts) VALUES (?, ?, ?, ?, ?, ?)",
        (rt_id, limits.max_cost_usd, limits.max_tokens, limits.max_minutes, limits.reserve_share,
         started_ts if started_ts is not None else time.time()),
    )


def get_limits(conn: sqlite3.Connection, rt_id: str) -> tuple[Limits, float] | None:
    """(limits, started_ts) of a roundtable, or None when it runs without ceilings."""
    row = conn.execute("SELECT * FROM rt_ceilings WHERE rt_id = ?", (rt_id,)).fetchone()
    if row is None:
        return None
    return (Limits(max_cost_usd=row["max_cost_usd"], max_tokens=row["max_tokens"],
                   max_minutes=row["max_minutes"], reserve_share=float(row["reserve_share"])),
            float(row["started_ts"]))


def spent(conn: sqlite3.Connection, rt_id: str, *, started_ts: float | None = None,
          now: float | None = None, include_holds: bool = True) -> Spent:
    """What the roundtable used: recorded calls (ok or not) plus, by default, holds in flight."""
    row = conn.execute(
        "SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(input_tokens + output_tokens), 0)"
        " FROM llm_calls WHERE rt_id = ?", (rt_id,)).fetchone()
    cost, tokens = float(row[0]), int(row[1])
    held_cost, held_tokens = 0.0, 0
    if include_holds:
        held = conn.execute("SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(tokens), 0)"
                            " FROM llm_reservations WHERE rt_id = ?", (rt_id,)).fetchone()
        held_cost, held_tokens = float(held[0]), int(held[1])
    minutes = 0.0
    if started_ts is not None:
        minutes = max(0.0, ((now if now is not None else time.time()) - started_ts) / 60.0)
    return Spent(cost_usd=cost + held_cost, tokens=tokens + held_tokens, minutes=minutes,
                 held_cost_usd=held_cost, held_tokens=held_tokens)


def stop_reason(conn: sqlite3.Connection, rt_id: str) -> tuple[str, str] | None:
    """(ceiling, stop reason) once a call was refused for this roundtable, else None."""
    row = conn.execute("SELECT stopped_on, stop_reason FROM rt_ceilings WHERE rt_id = ?",
                       (rt_id,)).fetchone()
    if row is None or not row["stop_reason"]:
        return None
    return str(row["stopped_on"]), str(row["stop_reason"])


def _record_stop(conn: sqlite3.Connection, rt_id: str, verdict: Verdict) -> None:
    conn.execute("UPDATE rt_ceilings SET stop_reason = ?, stopped_on = ? WHERE rt_id = ?"
                 " AND stop_reason IS NULL", (verdict.stop_reason, verdict.ceiling, rt_id))


def hold(conn: sqlite3.Connection, rt_id: str | None, estimate: Estimate, *, agent: str | None = None,
         role: str | None = None, backend: str = "", model: str = "",
         wait_s: float = HOLD_WAIT_S) -> Hold | None:
    """Reserve the worst case of the next call, or raise CeilingReached (nothing to do: None).

    When the call does not fit only because other calls in flight hold worst cases they will
    most likely not use, it waits (up to `wait_s`) for them to be recorded and checks again.
    Once a roundtable stopped on a ceiling, only the decision synthesis may still call.
    """
    if rt_id is None:
        return None
    found = get_limits(conn, rt_id)
    if found is None:
        return None
    limits, started = found
    waiter: ChangeWaiter | None = None
    end = time.monotonic() + max(0.0, wait_s)
    while True:
        result = _try_hold(conn, rt_id, limits, started, estimate, agent=agent, role=role,
                           final=time.monotonic() >= end)
        if isinstance(result, Hold):
            return result
        if result is not None:
            raise CeilingReached(result[1], ceiling=result[0], backend=backend, model=model)
        waiter = waiter or ChangeWaiter(conn, max_sleep=0.05)
        waiter.wait(max(0.0, min(0.5, end - time.monotonic())))


def _try_hold(conn: sqlite3.Connection, rt_id: str, limits: Limits, started: float, estimate: Estimate,
              *, agent: str | None, role: str | None, final: bool) -> Hold | tuple[str, str] | None:
    """One check in one transaction: a Hold, a refusal (ceiling, reason), or None to wait for holds."""
    refused: tuple[str, str] | None = None
    with transaction(conn):  # committed either way: a refusal records the stop reason
        stopped = stop_reason(conn, rt_id)
        current = spent(conn, rt_id, started_ts=started)
        verdict = check_call(limits, current, estimate, role=role)
        if stopped is not None and role not in DECISION_ROLES:
            refused = stopped
        elif not verdict.fits and verdict.held > 0 and not final \
                and check_call(limits, _without_holds(current), estimate, role=role).fits:
            return None  # it fits once the calls in flight are recorded: wait for them
        elif not verdict.fits:
            _record_stop(conn, rt_id, verdict)
            refused = (verdict.ceiling or "", verdict.stop_reason or "ceiling reached")
        else:
            cursor = conn.execute(
                "INSERT INTO llm_reservations (rt_id, agent, role, cost_usd, tokens, created_ts)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (rt_id, agent, role, estimate.cost_usd or 0.0, estimate.tokens, time.time()))
    if refused is not None:
        return refused
    return Hold(id=int(cursor.lastrowid or 0), timeout_s=seconds_left(limits, current, role=role))


def _without_holds(current: Spent) -> Spent:
    return Spent(cost_usd=current.cost_usd - current.held_cost_usd,
                 tokens=current.tokens - current.held_tokens, minutes=current.minutes)


def release(conn: sqlite3.Connection, held: Hold | None) -> None:
    """Drop a hold (the call is recorded, or it failed)."""
    if held is not None:
        conn.execute("DELETE FROM llm_reservations WHERE id = ?", (held.id,))


def summary(conn: sqlite3.Connection, rt_id: str) -> dict[str, object] | None:
    """The digest's `ceilings` field: limits, spent (recorded calls) and any stop reason."""
    found = get_limits(conn, rt_id)
    if found is None:
        return None
    limits, started = found
    used = spent(conn, rt_id, started_ts=started, include_holds=False)
    stopped = stop_reason(conn, rt_id)
    return {**limits.as_dict(),
            "spent": {"cost_usd": round(used.cost_usd, 6), "tokens": used.tokens,
                      "minutes": round(used.minutes, 2)},
            "stopped_on": stopped[0] if stopped else None,
            "stop_reason": stopped[1] if stopped else None}


@dataclass(frozen=True)
class CostSoFar:
    """A roundtable's cost so far, per agent, for `watch`; None total when nothing is priced."""

    total_usd: float | None
    by_agent: dict[str, float]
    unpriced_calls: int
    limit_usd: float | None = None
    stop_reason: str | None = None


def cost_so_far(conn: sqlite3.Connection, rt_id: str) -> CostSoFar:
    """Recorded cost of a roundtable's calls (works on a database from before migration 007)."""
    rows = conn.execute("SELECT agent, cost_usd, status FROM llm_calls WHERE rt_id = ?", (rt_id,)).fetchall()
    by_agent: dict[str, float] = {}
    unpriced = 0
    for row in rows:
        if row["cost_usd"] is None:
            unpriced += 1 if row["status"] == "ok" else 0
            continue
        agent = str(row["agent"] or "?")
        by_agent[agent] = by_agent.get(agent, 0.0) + float(row["cost_usd"])
    total = sum(by_agent.values()) if by_agent else None
    limit = reason = None
    try:
        found = get_limits(conn, rt_id)
        limit = found[0].max_cost_usd if found else None
        stopped = stop_reason(conn, rt_id)
        reason = stopped[1] if stopped else None
    except sqlite3.OperationalError:  # an old database without the ceilings table
        pass
    return CostSoFar(total, by_agent, unpriced, limit, reason)

"""The turn protocol as data: the runner asks, a worker claims, answers and completes.

Life of a turn row: pending → claimed → done | failed, or → timeout / cancelled by the
runner. Every transition is a conditional UPDATE inside BEGIN IMMEDIATE, so exactly one
side wins a race: a worker whose turn already timed out cannot complete it, and a late
answer is therefore never attributed to a later turn.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from amatelier.chat.db import transaction
from amatelier.chat.messages import post

PENDING, CLAIMED, DONE, FAILED, TIMEOUT, CANCELLED = (
    "pending", "claimed", "done", "failed", "timeout", "cancelled")
FINAL = (DONE, FAILED, TIMEOUT, CANCELLED)


def turn_line(agent: str, phase: str) -> str:
    """The human-readable line posted with every turn, so transcripts read naturally."""
    return f"YOUR TURN: {agent} — {phase.upper()}"


def request_turn(conn: sqlite3.Connection, rt_id: str, agent: str, *, round: int, phase: str,
                 instructions: str = "", timeout_s: float | None = None) -> int:
    """Post the YOUR TURN line and insert a pending turn row in one transaction; returns its id."""
    now = time.time()
    deadline = now + timeout_s if timeout_s else None
    with transaction(conn):
        post(conn, rt_id, "runner", turn_line(agent, phase), kind="turn", round=round,
             phase=phase.upper())
        cur = conn.execute(
            "INSERT INTO turns (rt_id, agent, round, phase, instructions, status, requested_at, deadline)"
            " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            (rt_id, agent, round, phase.upper(), instructions, time.time(), deadline),
        )
        return int(cur.lastrowid)


def get_turn(conn: sqlite3.Connection, turn_id: int) -> dict[str, Any] | None:
    """One turn row, or None."""
    row = conn.execute("SELECT * FROM turns WHERE id = ?", (turn_id,)).fetchone()
    return dict(row) if row else None


def pending_turn(conn: sqlite3.Connection, rt_id: str, agent: str) -> dict[str, Any] | None:
    """The oldest pending turn for an agent (cheap indexed read, no lock)."""
    row = conn.execute(
        "SELECT * FROM turns WHERE rt_id = ? AND agent = ? AND status = 'pending' ORDER BY id LIMIT 1",
        (rt_id, agent),
    ).fetchone()
    return dict(row) if row else None


def claim(conn: sqlite3.Connection, turn_id: int, worker_pid: int) -> bool:
    """pending → claimed; False when someone else got there first or the turn is gone."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE turns SET status = 'claimed', claimed_at = ?, worker_pid = ?"
            " WHERE id = ? AND status = 'pending'",
            (time.time(), worker_pid, turn_id),
        )
        return cur.rowcount == 1


def claim_next(conn: sqlite3.Connection, rt_id: str, agent: str, worker_pid: int) -> dict[str, Any] | None:
    """Claim the agent's oldest pending turn, if any; returns the claimed row."""
    turn = pending_turn(conn, rt_id, agent)
    if turn is None or not claim(conn, turn["id"], worker_pid):
        return None
    return get_turn(conn, turn["id"])


def complete(conn: sqlite3.Connection, turn: dict[str, Any], content: str, *, kind: str = "speech",
             also: Callable[[sqlite3.Connection, int], None] | None = None) -> int | None:
    """Post the answer and mark the turn done in ONE transaction.

    Returns the message id, or None when the turn is no longer claimed (timed out or
    cancelled meanwhile): then nothing is posted. `also(conn, message_id)` runs inside the
    same transaction (the worker stores the turn's declared position with its message); it
    must not raise.
    """
    with transaction(conn):
        row = conn.execute("SELECT status FROM turns WHERE id = ?", (turn["id"],)).fetchone()
        if row is None or row[0] != CLAIMED:
            return None
        message_id = post(conn, turn["rt_id"], turn["agent"], content, kind=kind,
                          round=turn["round"], phase=turn["phase"])
        conn.execute(
            "UPDATE turns SET status = 'done', completed_at = ?, message_id = ? WHERE id = ?",
            (time.time(), message_id, turn["id"]),
        )
        if also is not None:
            also(conn, message_id)
        return message_id


def fail(conn: sqlite3.Connection, turn_id: int, error: str) -> bool:
    """claimed → failed with the error (the model call failed); nothing is posted."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE turns SET status = 'failed', completed_at = ?, error = ?"
            " WHERE id = ? AND status IN ('pending', 'claimed')",
            (time.time(), error[:2000], turn_id),
        )
        return cur.rowcount == 1


def expire(conn: sqlite3.Connection, turn_id: int, status: str = TIMEOUT, error: str | None = None) -> bool:
    """Runner side: pending/claimed → timeout (or cancelled); False if it finished first."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE turns SET status = ?, completed_at = ?, error = COALESCE(?, error)"
            " WHERE id = ? AND status IN ('pending', 'claimed')",
            (status, time.time(), error, turn_id),
        )
        return cur.rowcount == 1


def release(conn: sqlite3.Connection, turn_id: int) -> bool:
    """claimed → pending again, after the claiming worker died, so its replacement can answer."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE turns SET status = 'pending', claimed_at = NULL, worker_pid = NULL"
            " WHERE id = ? AND status = 'claimed'",
            (turn_id,),
        )
        return cur.rowcount == 1


def turns_for(conn: sqlite3.Connection, rt_id: str) -> list[dict[str, Any]]:
    """Every turn of a roundtable, in order."""
    return [dict(r) for r in conn.execute("SELECT * FROM turns WHERE rt_id = ? ORDER BY id", (rt_id,))]

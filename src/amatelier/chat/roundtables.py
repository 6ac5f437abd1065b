"""Roundtable rows: open, close, cut, look up, and find the ones whose runner died.

Several roundtables may be open at once in one workspace; nothing here assumes a single
"active" one. Callers that need a default (the CLI) ask for the latest open roundtable.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import time
from typing import Any

from amatelier.chat.db import transaction
from amatelier.chat.messages import post, utc_now
from amatelier.pids import pid_alive  # noqa: F401 - callers use roundtables.pid_alive

OPEN, CLOSED, CUT = "open", "closed", "cut"


def new_rt_id() -> str:
    """A short hex id, unique enough for one workspace."""
    return secrets.token_hex(4)


def this_host() -> str:
    """This machine's name, recorded with the runner pid."""
    return socket.gethostname()


def open_roundtable(conn: sqlite3.Connection, topic: str, participants: list[str], *,
                    runner_pid: int | None = None, rt_id: str | None = None) -> str:
    """Insert an open roundtable row owned by this runner process; returns its id."""
    rt_id = rt_id or new_rt_id()
    with transaction(conn):
        conn.execute(
            "INSERT INTO roundtables (id, topic, participants, status, runner_pid, runner_host, created_at)"
            " VALUES (?, ?, ?, 'open', ?, ?, ?)",
            (rt_id, topic, json.dumps(participants), runner_pid if runner_pid is not None else os.getpid(),
             this_host(), utc_now()),
        )
    return rt_id


def mark_benchmark(conn: sqlite3.Connection, rt_id: str, batch_id: str | None, persona_set: str) -> None:
    """Record that a roundtable is a benchmark run: its batch (if any) and its workers' persona set."""
    with transaction(conn):
        conn.execute("UPDATE roundtables SET batch_id = ?, persona_set = ? WHERE id = ?",
                     (batch_id, persona_set, rt_id))


def close_roundtable(conn: sqlite3.Connection, rt_id: str) -> bool:
    """Mark an open roundtable closed; False when it was not open (already closed or cut)."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE roundtables SET status = 'closed', closed_at = ? WHERE id = ? AND status = 'open'",
            (utc_now(), rt_id),
        )
        changed = cur.rowcount == 1
        if changed:
            _cancel_open_turns(conn, rt_id)
    return changed


def cut_roundtable(conn: sqlite3.Connection, rt_id: str, reason: str, *, announce: bool = True) -> bool:
    """Mark an open roundtable cut with a reason (and say so in the chat); False if not open."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE roundtables SET status = 'cut', cut_reason = ?, closed_at = ? WHERE id = ? AND status = 'open'",
            (reason, utc_now(), rt_id),
        )
        changed = cur.rowcount == 1
        if changed:
            _cancel_open_turns(conn, rt_id)
            if announce:
                post(conn, rt_id, "runner", f"ROUNDTABLE CUT: {reason}", kind="system")
    return changed


def reopen_roundtable(conn: sqlite3.Connection, rt_id: str, *, runner_pid: int | None = None) -> bool:
    """Open a cut roundtable again for a resuming runner (this process); False if it was not cut."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE roundtables SET status = 'open', cut_reason = NULL, closed_at = NULL, runner_pid = ?,"
            " runner_host = ? WHERE id = ? AND status = 'cut'",
            (runner_pid if runner_pid is not None else os.getpid(), this_host(), rt_id))
    return cur.rowcount == 1


def _cancel_open_turns(conn: sqlite3.Connection, rt_id: str) -> None:
    conn.execute(
        "UPDATE turns SET status = 'cancelled', completed_at = ?"
        " WHERE rt_id = ? AND status IN ('pending', 'claimed')",
        (time.time(), rt_id),
    )


def get_roundtable(conn: sqlite3.Connection, rt_id: str) -> dict[str, Any] | None:
    """One roundtable row (participants decoded), or None."""
    row = conn.execute("SELECT * FROM roundtables WHERE id = ?", (rt_id,)).fetchone()
    return _decode(row) if row else None


def status(conn: sqlite3.Connection, rt_id: str) -> str | None:
    """open, closed or cut (None when there is no such roundtable)."""
    row = conn.execute("SELECT status FROM roundtables WHERE id = ?", (rt_id,)).fetchone()
    return row[0] if row else None


def is_open(conn: sqlite3.Connection, rt_id: str) -> bool:
    """Whether the roundtable is still open."""
    return status(conn, rt_id) == OPEN


def latest_open(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The most recently opened roundtable that is still open (the CLI's default)."""
    row = conn.execute(
        "SELECT * FROM roundtables WHERE status = 'open' ORDER BY created_at DESC, rowid DESC LIMIT 1"
    ).fetchone()
    return _decode(row) if row else None


def latest(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The most recently opened roundtable, whatever its status."""
    row = conn.execute("SELECT * FROM roundtables ORDER BY created_at DESC, rowid DESC LIMIT 1").fetchone()
    return _decode(row) if row else None


def chosen_or_latest(conn: sqlite3.Connection, rt_id: str | None) -> dict[str, Any] | None:
    """The roundtable a reader means: `rt_id` when given, else the latest open, else the latest.

    None when the given id is unknown or there are no roundtables; the caller words the error.
    """
    if rt_id:
        return get_roundtable(conn, rt_id)
    return latest_open(conn) or latest(conn)


def pick(conn: sqlite3.Connection, rt_id: str | None, *, how_to_start: str,
         how_to_list: str = "") -> dict[str, Any]:
    """`chosen_or_latest`, or LookupError worded for the front door that asked.

    `how_to_start` tells a user with no roundtables how to make one; `how_to_list` (optional)
    where to see the ids there are.
    """
    rt = chosen_or_latest(conn, rt_id)
    if rt is None and rt_id:
        raise LookupError(f"no roundtable with id {rt_id}" + (f" ({how_to_list})" if how_to_list else ""))
    if rt is None:
        raise LookupError(f"no roundtables yet ({how_to_start})")
    return rt


def list_roundtables(conn: sqlite3.Connection, *, status_filter: str | None = None,
                     limit: int = 50) -> list[dict[str, Any]]:
    """Roundtables, newest first, optionally only those with one status."""
    if status_filter:
        rows = conn.execute(
            "SELECT * FROM roundtables WHERE status = ? ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (status_filter, limit),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM roundtables ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)
        ).fetchall()
    return [_decode(r) for r in rows]


def runner_gone(rt: dict[str, Any]) -> bool:
    """Whether an open roundtable's runner ran on this host and its process no longer exists.

    Read-only (for `amatelier watch`); `cut_orphans` is what marks such a roundtable cut.
    """
    if rt.get("runner_host") not in (None, this_host()):
        return False  # another machine's runner: we cannot tell
    pid = rt.get("runner_pid")
    return bool(pid) and pid != os.getpid() and not pid_alive(pid)


def cut_orphans(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Cut open roundtables on this host whose runner process is gone; returns (rt_id, reason)."""
    host = this_host()
    found = []
    rows = conn.execute(
        "SELECT id, runner_pid, runner_host FROM roundtables WHERE status = 'open'"
    ).fetchall()
    for row in rows:
        if row["runner_host"] not in (None, host):
            continue  # another machine's runner: we cannot tell whether it lives
        if pid_alive(row["runner_pid"]) and row["runner_pid"] != os.getpid():
            continue
        if row["runner_pid"] == os.getpid():
            continue
        reason = f"runner died (pid {row['runner_pid']} is gone); cut by a later runner"
        if cut_roundtable(conn, row["id"], reason):
            found.append((row["id"], reason))
    return found


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    try:
        data["participants"] = json.loads(data.get("participants") or "[]")
    except ValueError:
        data["participants"] = []
    return data

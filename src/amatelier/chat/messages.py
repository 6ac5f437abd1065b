"""Posting and reading chat messages. Every writer goes through post()."""

from __future__ import annotations

import sqlite3
import time
from typing import Any


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def post(conn: sqlite3.Connection, rt_id: str, agent: str, content: str, *, kind: str = "chat",
         round: int | None = None, phase: str | None = None) -> int:
    """Append a message; returns its id. Use inside a transaction to pair it with other writes."""
    cur = conn.execute(
        "INSERT INTO messages (rt_id, agent, kind, round, phase, content, created_at, created_ts)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (rt_id, agent, kind, round, phase, content, utc_now(), time.time()),
    )
    return int(cur.lastrowid)


def transcript(conn: sqlite3.Connection, rt_id: str, *, after_id: int = 0) -> list[dict[str, Any]]:
    """All messages of a roundtable in order (optionally only those after a message id)."""
    rows = conn.execute(
        "SELECT id, rt_id, agent, kind, round, phase, content, created_at, created_ts"
        " FROM messages WHERE rt_id = ? AND id > ? ORDER BY id",
        (rt_id, after_id),
    ).fetchall()
    return [dict(row) for row in rows]

"""The plan a roundtable was opened with, kept so `--resume` can continue the same debate.

The runner saves it once the speaking order is known: topic, briefing, launch directory, mode,
workers, judge, models, speaking order, floor budgets at open, round count, speaker timeout.
Resuming reads it back instead of planning anew, so the debate goes on with the same seats.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from amatelier.chat.db import json_object, transaction
from amatelier.chat.messages import utc_now


def save(conn: sqlite3.Connection, rt_id: str, params: dict[str, Any]) -> None:
    """Write (or replace) the roundtable's plan."""
    now = utc_now()
    with transaction(conn):
        conn.execute(
            "INSERT INTO run_params (rt_id, params, created_at, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(rt_id) DO UPDATE SET params = excluded.params, updated_at = excluded.updated_at",
            (rt_id, json.dumps(params, default=str), now, now))


def load(conn: sqlite3.Connection, rt_id: str) -> dict[str, Any] | None:
    """The saved plan, or None when the roundtable has none (or it is unreadable)."""
    row = conn.execute("SELECT params, resumes FROM run_params WHERE rt_id = ?", (rt_id,)).fetchone()
    data = json_object(row[0]) if row is not None else None
    if data is None:
        return None
    data["resumes"] = int(row[1] or 0)
    return data


def count_resume(conn: sqlite3.Connection, rt_id: str) -> int:
    """Add one to the roundtable's resume count; returns the new count."""
    with transaction(conn):
        conn.execute("UPDATE run_params SET resumes = resumes + 1, updated_at = ? WHERE rt_id = ?",
                     (utc_now(), rt_id))
        row = conn.execute("SELECT resumes FROM run_params WHERE rt_id = ?", (rt_id,)).fetchone()
    return int(row[0]) if row else 0

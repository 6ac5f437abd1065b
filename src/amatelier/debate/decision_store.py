"""The decisions table: one decision record per roundtable (migration 006)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from amatelier.chat.db import json_object


def save_decision(conn: sqlite3.Connection, record: dict[str, Any]) -> None:
    """Store (or replace) a roundtable's decision record."""
    conn.execute(
        "INSERT INTO decisions (rt_id, record, outcome, confidence, synthesized, partial, stop_reason, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(rt_id) DO UPDATE SET record = excluded.record, outcome = excluded.outcome,"
        " confidence = excluded.confidence, synthesized = excluded.synthesized, partial = excluded.partial,"
        " stop_reason = excluded.stop_reason, created_at = excluded.created_at",
        (record["rt_id"], json.dumps(record, ensure_ascii=False), record["outcome"], float(record["confidence"]),
         int(bool(record["synthesized"])), int(bool(record["partial"])), record["stop_reason"],
         record.get("created_at") or ""),
    )


def load_decision(conn: sqlite3.Connection, rt_id: str) -> dict[str, Any] | None:
    """A roundtable's decision record, or None (none written, or the table does not exist yet)."""
    try:
        row = conn.execute("SELECT record FROM decisions WHERE rt_id = ?", (rt_id,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return json_object(row[0]) if row is not None else None

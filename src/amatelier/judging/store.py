"""Where judging results live: one `judging_results` row per roundtable (migration 008)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from amatelier.chat.db import json_object


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _count(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(len(v) for v in value.values() if isinstance(v, list))
    return len(value) if isinstance(value, list) else 0


def save_judging(conn: sqlite3.Connection, rt_id: str, judging: Mapping[str, Any]) -> bool:
    """Store a roundtable's judging section once (a re-run keeps the first); True when inserted."""
    length = judging.get("length_score") or {}
    audit = judging.get("audit") or {}
    cur = conn.execute(
        "INSERT INTO judging_results (rt_id, seats, alpha, audited, flip_rate, length_score_r, recusals,"
        " self_family, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(rt_id) DO NOTHING",
        (rt_id, len(judging.get("seats") or []), judging.get("alpha"), 1 if audit.get("audited") else 0,
         judging.get("flip_rate"), length.get("r"), _count(judging.get("recusals")),
         _count(judging.get("self_family")), json.dumps(judging, default=str), _now()),
    )
    return cur.rowcount == 1


def load_judging(conn: sqlite3.Connection, rt_id: str) -> dict[str, Any] | None:
    """The stored judging section of one roundtable, or None."""
    row = conn.execute("SELECT detail FROM judging_results WHERE rt_id = ?", (rt_id,)).fetchone()
    return json_object(row[0]) if row is not None else None


def judging_history(conn: sqlite3.Connection, rt_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Per roundtable, oldest first: seats, alpha, audited, flip rate, length r, recusals."""
    query = ("SELECT rt_id, seats, alpha, audited, flip_rate, length_score_r, recusals, self_family, created_at"
             " FROM judging_results")
    params: list[Any] = []
    if rt_ids is not None:
        if not rt_ids:
            return []
        query += f" WHERE rt_id IN ({', '.join('?' for _ in rt_ids)})"
        params = list(rt_ids)
    rows = conn.execute(query + " ORDER BY created_at, rowid", params).fetchall()
    return [{"rt_id": r["rt_id"], "created_at": r["created_at"], "seats": r["seats"], "alpha": r["alpha"],
             "audited": bool(r["audited"]), "flip_rate": r["flip_rate"], "length_score_r": r["length_score_r"],
             "recusals": r["recusals"], "self_family": r["self_family"]} for r in rows]


def flip_rate_trend(conn: sqlite3.Connection) -> dict[str, Any]:
    """The swap audit over time: audited roundtables, their mean flip rate, and each one's rate."""
    audited = [row for row in judging_history(conn) if row["audited"] and row["flip_rate"] is not None]
    rates = [row["flip_rate"] for row in audited]
    return {"audited": len(audited), "mean_flip_rate": round(sum(rates) / len(rates), 4) if rates else None,
            "series": [{"rt_id": row["rt_id"], "created_at": row["created_at"], "flip_rate": row["flip_rate"]}
                       for row in audited]}

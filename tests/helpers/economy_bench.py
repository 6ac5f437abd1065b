"""Helpers for the relegation and bench tests: roundtables an agent loses money in."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from tests.helpers.economy_support import make_rt


def scored_roundtable(conn: sqlite3.Connection, rt_id: str, config: dict[str, Any],
                      totals: dict[str, tuple[int, int, int, int]]) -> str:
    """A closed roundtable where each agent paid its fee and got these axes (no penalties, no gates)."""
    from amatelier.economy import ledger

    make_rt(conn, rt_id, list(totals), status="closed")
    for agent, axes in totals.items():
        ledger.deduct_entry_fee(conn, agent, rt_id, config)
        n, a, i, c = axes
        conn.execute("INSERT INTO scores (rt_id, agent, novelty, accuracy, impact, challenge, total, created_at)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, '2026-01-01T00:00:00Z')", (rt_id, agent, n, a, i, c, sum(axes)))
        ledger.score_agent(conn, rt_id, agent, sum(axes), [], config)
    return rt_id


def put_on_watch(conn: sqlite3.Connection, agent: str, config: dict[str, Any], count: int = 3,
                 prefix: str = "lost") -> list[str]:
    """`count` roundtables in a row where `agent` scores 1+0+1+0 (net-negative on any tier's fee)."""
    return [scored_roundtable(conn, f"{prefix}{i}", config, {agent: (1, 0, 1, 0)}) for i in range(count)]


def statuses(board: Sequence[dict[str, Any]]) -> dict[str, str]:
    return {row["agent"]: row["status"] for row in board}

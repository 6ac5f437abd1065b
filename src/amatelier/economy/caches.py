"""The economy's caches, rebuilt from the ledger so that at rest they equal it.

The spark ledger is the truth; `agents/<name>/metrics.json` ("sparks", "rank", "economy")
and `benchmarks/leaderboard.json` are caches other tools read between roundtables. Any
step that moves sparks (fees, scores, the therapist's store purchases, an economy
command) must end with `refresh_from_ledger`, and `stale_caches` says where a cache
disagrees with the ledger (empty when all is well).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amatelier import atomicio, paths


def leaderboard_path() -> Path:
    """benchmarks/leaderboard.json: the ranked workers as of the last refresh."""
    return paths.user_benchmarks_dir() / "leaderboard.json"


def refresh_from_ledger(conn: sqlite3.Connection, config: Mapping[str, Any],
                        rt_id: str | None = None) -> list[Path]:
    """Rewrite leaderboard.json and every spark holder's metrics.json from the ledger.

    Returns the files written. Retired agents are left out of the per-agent caches, so a
    refresh never brings a retired agent's folder back.
    """
    from amatelier.economy import ledger

    board = ledger.get_leaderboard(conn, config)
    if rt_id is None:   # an economy command: the file still names the latest roundtable it follows
        previous = _read(leaderboard_path())
        rt_id = previous.get("rt_id") if isinstance(previous, Mapping) else None
    written = [ledger.save_leaderboard_snapshot(conn, config, rt_id, board)]
    written += ledger.refresh_metrics(conn, config, board)   # retired agents are skipped there
    return written


def refresh_quietly(conn: sqlite3.Connection, config: Mapping[str, Any], rt_id: str | None = None) -> str | None:
    """refresh_from_ledger that never raises (a read-only disk must not fail the caller).

    Returns None on success, else one line saying why the caches could not be rebuilt.
    """
    try:
        refresh_from_ledger(conn, config, rt_id)
    except (OSError, ValueError, sqlite3.Error) as exc:
        return f"caches not refreshed: {exc.__class__.__name__}: {exc}"
    return None


def ledger_sums(conn: sqlite3.Connection) -> dict[str, int]:
    """SUM(amount) per agent, straight from the ledger."""
    return {row[0]: int(row[1]) for row in
            conn.execute("SELECT agent, COALESCE(SUM(amount), 0) FROM spark_ledger GROUP BY agent")}


def _read(path: Path) -> Any:
    try:
        return atomicio.read_json(path, None)
    except ValueError:
        return None


def stale_caches(conn: sqlite3.Connection, agents: list[str]) -> list[str]:
    """One line per cache that disagrees with the ledger for these agents ([] = all agree)."""
    sums = ledger_sums(conn)
    problems = []
    board = _read(leaderboard_path())
    rows = {row.get("agent"): row for row in (board or {}).get("leaderboard", [])
            if isinstance(row, Mapping)} if isinstance(board, Mapping) else {}
    for agent in agents:
        truth = sums.get(agent, 0)
        metrics = _read(paths.user_agent_dir(agent) / "metrics.json")
        cached = metrics.get("sparks") if isinstance(metrics, Mapping) else None
        if cached != truth:
            problems.append(f"{agent}: metrics.json sparks {cached} != ledger {truth}")
        listed = rows.get(agent, {}).get("sparks")
        if listed != truth:
            problems.append(f"{agent}: leaderboard.json sparks {listed} != ledger {truth}")
    return problems


def after_roundtable(state: Any, digest: dict[str, Any]) -> dict[str, Any]:
    """The last after-debate step: caches follow the ledger, whatever ran before (or was cut).

    Returns {} or {"cache_warning": "..."} when the files could not be written.
    """
    problem = refresh_quietly(state.conn, state.config, state.rt_id)
    return {"cache_warning": problem} if problem else {}

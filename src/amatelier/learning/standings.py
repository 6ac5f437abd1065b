"""Economy standings over time: ledger views, leaderboard snapshots, rank trajectories, engagement.

Split from learning.analytics (growth trends and reports), which re-exports these names.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import file_lock, read_json, write_json_atomic
from amatelier.learning.agent_memory import now_iso
from amatelier.learning.trends import (
    MAX_SNAPSHOTS,
    _columns,
    _digests,
    agent_scores,
    report_agents,
)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- economy


def _ledger_rows(conn: sqlite3.Connection | None, agent: str | None = None) -> list[dict[str, Any]] | None:
    columns = _columns(conn, "spark_ledger")
    if not columns or "amount" not in columns:
        return None
    agent_col = "agent" if "agent" in columns else ("agent_name" if "agent_name" in columns else None)
    if agent_col is None:
        return None
    category = "category" if "category" in columns else "NULL"
    rt = "rt_id" if "rt_id" in columns else "NULL"
    sql = f"SELECT {agent_col}, amount, {category}, {rt} FROM spark_ledger"
    params: tuple[Any, ...] = ()
    if agent:
        sql += f" WHERE {agent_col} = ?"
        params = (agent,)
    try:
        rows = conn.execute(sql + " ORDER BY rowid", params).fetchall()
    except sqlite3.Error:
        return None
    return [{"agent": r[0], "amount": r[1], "category": r[2], "rt_id": r[3]} for r in rows]


def economy_analytics(agent: str, conn: sqlite3.Connection | None = None,
                      digests: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Spark economy analytics: earnings, spending, ROI (ledger first, digests as fallback)."""
    rows = _ledger_rows(conn, agent)
    if rows:
        by_category: dict[str, int] = {}
        for row in rows:
            key = str(row["category"] or "other")
            by_category[key] = by_category.get(key, 0) + int(row["amount"])
        earned = sum(int(r["amount"]) for r in rows if r["amount"] > 0)
        spent = -sum(int(r["amount"]) for r in rows if r["amount"] < 0)
        purchases = [r for r in rows if r["category"] == "purchase"]
        return {"source": "ledger", "earned": earned, "spent": spent, "net": earned - spent,
                "balance": earned - spent, "by_category": by_category,
                "purchases": len(purchases), "purchase_spend": -sum(int(r["amount"]) for r in purchases),
                "roi": round(earned / spent, 2) if spent else None}
    earned = 0
    seen = False
    for digest in _digests(digests):
        value = (digest.get("sparks_earned") or {}).get(agent) if isinstance(digest.get("sparks_earned"), dict) else None
        if isinstance(value, int | float):
            earned += value
            seen = True
    return {"source": "digests" if seen else "none", "earned": earned, "spent": None, "net": None,
            "balance": None, "by_category": {}, "purchases": 0, "purchase_spend": 0, "roi": None}


def economy_overview(conn: sqlite3.Connection | None = None,
                     digests: list[dict[str, Any]] | None = None,
                     agents: list[str] | None = None) -> dict[str, Any]:
    """Generate a system-wide Spark Economy overview."""
    digests = _digests(digests)
    names = agents or report_agents(digests)
    per_agent = {name: economy_analytics(name, conn, digests) for name in names}
    balances = {n: e["balance"] for n, e in per_agent.items() if e["balance"] is not None}
    earned = {n: e["earned"] for n, e in per_agent.items()}
    return {
        "source": "ledger" if balances else ("digests" if any(earned.values()) else "none"),
        "agents": per_agent,
        "total_earned": sum(earned.values()),
        "total_spent": sum(e["spent"] or 0 for e in per_agent.values()),
        "circulating": sum(balances.values()) if balances else None,
        "richest": max(balances, key=balances.get) if balances else None,
        "top_earner": max(earned, key=earned.get) if any(earned.values()) else None,
    }


# --------------------------------------------------------------------------- leaderboard, engagement


def leaderboard_history_path() -> Path:
    """benchmarks/leaderboard-history.json: one ranking snapshot per roundtable."""
    return paths.user_benchmarks_dir() / "leaderboard-history.json"


def save_leaderboard_snapshot(conn: sqlite3.Connection | None = None,
                              digests: list[dict[str, Any]] | None = None,
                              rt_id: str | None = None) -> dict[str, Any]:
    """Save current leaderboard as a timestamped snapshot (one per roundtable)."""
    digests = _digests(digests)
    names = report_agents(digests)
    rows = []
    for name in names:
        econ = economy_analytics(name, conn, digests)
        totals = [r["total"] for r in agent_scores(name, digests, conn)]
        rows.append({"agent": name, "balance": econ["balance"], "score_total": sum(totals),
                     "scored_rts": len(totals)})
    rows.sort(key=lambda r: (r["balance"] if r["balance"] is not None else r["score_total"],
                             r["score_total"]), reverse=True)
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    rt_id = rt_id or (digests[-1].get("rt_id") if digests else None)
    snapshot = {"rt_id": rt_id, "at": now_iso(), "ranking": rows}
    path = leaderboard_history_path()
    with file_lock(path):
        try:
            history = read_json(path, {"snapshots": []})
        except ValueError:  # a broken history must not stop every later snapshot: keep it aside
            keep = path.with_name(f"{path.name}.corrupt-{now_iso().replace(':', '')}")
            with contextlib.suppress(OSError):
                path.replace(keep)
            log.warning("%s was not valid JSON (kept as %s); starting a new history", path.name, keep.name)
            history = {}
        if not isinstance(history, dict) or not isinstance(history.get("snapshots"), list):
            history = {**(history if isinstance(history, dict) else {}), "snapshots": []}
        snaps = [s for s in history["snapshots"] if isinstance(s, dict) and (rt_id is None or s.get("rt_id") != rt_id)]
        snaps.append(snapshot)
        history["snapshots"] = snaps[-MAX_SNAPSHOTS:]
        write_json_atomic(path, history)
    return snapshot


def rank_trajectory(agent: str) -> list[dict[str, Any]]:
    """Get rank trajectory from leaderboard history."""
    try:
        history = read_json(leaderboard_history_path(), {"snapshots": []})
    except ValueError:
        return []
    out = []
    for snap in history.get("snapshots", []) if isinstance(history, dict) else []:
        for row in snap.get("ranking", []):
            if row.get("agent") == agent:
                out.append({"rt_id": snap.get("rt_id"), "at": snap.get("at"), "rank": row.get("rank"),
                            "of": len(snap.get("ranking", []))})
    return out


def engagement_matrix(digests: list[dict[str, Any]] | None = None,
                      conn: sqlite3.Connection | None = None,
                      agents: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Who references whom across roundtables: matrix[speaker][named agent] = mentions."""
    digests = _digests(digests)
    names = agents or report_agents(digests)
    matrix = {a: {b: 0 for b in names if b != a} for a in names}
    if conn is None or not names:
        return matrix
    patterns = {name: re.compile(rf"\b{re.escape(name)}\b", re.I) for name in names}
    for digest in digests:
        try:
            rows = conn.execute("SELECT agent, content FROM messages WHERE rt_id = ? AND kind = 'speech'",
                                (digest.get("rt_id"),)).fetchall()
        except sqlite3.Error:
            return matrix
        for speaker, content in rows:
            if speaker not in matrix:
                continue
            for target, pattern in patterns.items():
                if target != speaker and pattern.search(content or ""):
                    matrix[speaker][target] += 1
    return matrix

"""Growth analytics over every roundtable: trends, streaks, phases, budget, economy, engagement.

Sources, all optional: the digests under roundtable-server/ (the list of roundtables and
their per-agent numbers), the scores table and the spark_ledger table in roundtable.db
(when the economy has written them), the agents' therapist session records and
behaviors.json. Functions take the digests as an argument (default: load them) so the
runner can include a digest it has not written yet. `update_all_analytics` caches a
compact summary under metrics.json["analytics"] after each roundtable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import file_lock, locked_json, read_json, write_json_atomic
from amatelier.engine.agent_memory import now_iso

log = logging.getLogger(__name__)

AXES = ("novelty", "accuracy", "impact", "challenge")
TREND_EPSILON = 0.25
SPARK_BARS = "▁▂▃▄▅▆▇█"
MAX_SNAPSHOTS = 200


# --------------------------------------------------------------------------- sources


def _digest_time(digest: dict[str, Any], path: Path | None) -> str:
    for key in ("ended_at", "started_at", "closed_at", "created_at"):
        if isinstance(digest.get(key), str | int | float):
            return str(digest[key])
    if path is not None:
        try:
            return f"~{path.stat().st_mtime:020.6f}"
        except OSError:
            pass
    return ""


def load_all_digests(digest_dir: Path | None = None) -> list[dict[str, Any]]:
    """Load all digest files, sorted by timestamp (unreadable files are skipped)."""
    directory = Path(digest_dir) if digest_dir else paths.user_digest_dir()
    found = []
    for path in directory.glob("digest-*.json") if directory.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("skipping unreadable digest %s", path)
            continue
        if isinstance(data, dict) and isinstance(data.get("rt_id"), str):
            try:
                written = path.stat().st_mtime   # breaks ties: timestamps have one-second precision
            except OSError:
                written = 0.0
            found.append(((_digest_time(data, path), written), data))
    found.sort(key=lambda item: item[0])
    return [data for _, data in found]


def merge_digests(digests: list[dict[str, Any]], extra: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """`digests` with `extra` added or replacing same-rt_id entries, still in time order."""
    if not extra:
        return digests
    ids = {d.get("rt_id") for d in extra}
    merged = [d for d in digests if d.get("rt_id") not in ids] + list(extra)
    return sorted(merged, key=lambda d: _digest_time(d, None))


def _digests(digests: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return load_all_digests() if digests is None else digests


def load_therapist_sessions(agent: str) -> list[dict[str, Any]]:
    """Load all therapist session records for an agent (oldest first)."""
    from amatelier.engine.therapist import read_session_record

    directory = paths.user_agent_dir(agent) / "sessions"
    out = []
    for path in sorted(directory.glob("*.md")) if directory.is_dir() else []:
        record = read_session_record(path) or {"rt_id": path.stem, "complete": None, "applied": {}}
        record["path"] = str(path)
        try:
            record["mtime"] = path.stat().st_mtime
        except OSError:
            record["mtime"] = 0.0
        out.append(record)
    out.sort(key=lambda r: r["mtime"])
    return out


def load_workers(config: dict[str, Any] | None = None) -> list[str]:
    """Get worker names from config (team.workers)."""
    if config is None:
        from amatelier.config import load_config

        config = load_config()
    return list(config.get("team", {}).get("workers", {}))


def _columns(conn: sqlite3.Connection | None, table: str) -> list[str]:
    if conn is None:
        return []
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone():
            return []
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    except sqlite3.Error:
        return []


def _table_scores(conn: sqlite3.Connection | None, agent: str) -> dict[str, dict[str, Any]]:
    columns = _columns(conn, "scores")
    if not columns or "rt_id" not in columns or "agent" not in columns:
        return {}
    wanted = [c for c in (*AXES, "total", "created_at", "unscored_reason") if c in columns]
    try:
        rows = conn.execute(f"SELECT rt_id, {', '.join(wanted)} FROM scores WHERE agent = ? ORDER BY id",
                            (agent,)).fetchall()
    except sqlite3.Error:
        return {}
    return {row[0]: dict(zip(wanted, row[1:], strict=True)) for row in rows}


def _total(scores: Any) -> float | None:
    if not isinstance(scores, dict) or scores.get("unscored") or scores.get("unscored_reason"):
        return None
    if isinstance(scores.get("total"), int | float):
        return float(scores["total"])
    values = [scores.get(a) for a in AXES]
    return float(sum(values)) if all(isinstance(v, int | float) for v in values) else None


def agent_scores(agent: str, digests: list[dict[str, Any]] | None = None,
                 conn: sqlite3.Connection | None = None) -> list[dict[str, Any]]:
    """The agent's scored roundtables in order: {rt_id, novelty..challenge, total}."""
    table = _table_scores(conn, agent)
    out = []
    seen = set()
    for digest in _digests(digests):
        rt_id = digest.get("rt_id")
        scores = (digest.get("scores") or {}).get(agent) if isinstance(digest.get("scores"), dict) else None
        if _total(scores) is None:
            scores = table.get(rt_id)
        total = _total(scores)
        seen.add(rt_id)
        if total is None:
            continue
        row = {"rt_id": rt_id, "total": total}
        for axis in AXES:
            value = scores.get(axis)
            row[axis] = float(value) if isinstance(value, int | float) else None
        out.append(row)
    for rt_id, scores in table.items():      # scored roundtables whose digest is gone
        if rt_id not in seen and _total(scores) is not None:
            out.append({"rt_id": rt_id, "total": _total(scores),
                        **{a: scores.get(a) for a in AXES}})
    return out


# --------------------------------------------------------------------------- trends


def moving_average(values: list[float], window: int = 3) -> list[float]:
    """Trailing mean over `window` points (shorter at the start)."""
    out = []
    for index in range(len(values)):
        chunk = values[max(0, index - window + 1): index + 1]
        out.append(round(sum(chunk) / len(chunk), 2))
    return out


def trend_of(values: list[float], window: int = 3) -> str:
    """up / down / flat comparing the latest window with the one before; n/a under 2 points."""
    if len(values) < 2:
        return "n/a"
    recent = values[-window:]
    earlier = values[-2 * window:-window] or values[:1]
    if len(values) <= window:
        recent, earlier = values[len(values) // 2:], values[: len(values) // 2]
    diff = sum(recent) / len(recent) - sum(earlier) / len(earlier)
    if diff > TREND_EPSILON:
        return "up"
    if diff < -TREND_EPSILON:
        return "down"
    return "flat"


def _series(values: list[float], window: int) -> dict[str, Any]:
    return {
        "values": values,
        "moving_average": moving_average(values, window),
        "latest": values[-1] if values else None,
        "mean": round(sum(values) / len(values), 2) if values else None,
        "trend": trend_of(values, window),
    }


def dimension_trends(agent: str, digests: list[dict[str, Any]] | None = None, window: int = 3,
                     conn: sqlite3.Connection | None = None) -> dict[str, dict[str, Any]]:
    """Compute per-dimension moving averages and trends."""
    rows = agent_scores(agent, digests, conn)
    return {axis: _series([r[axis] for r in rows if isinstance(r.get(axis), int | float)], window)
            for axis in AXES}


def total_score_trend(agent: str, digests: list[dict[str, Any]] | None = None, window: int = 3,
                      conn: sqlite3.Connection | None = None) -> dict[str, Any]:
    """Compute total score moving average and trend."""
    rows = agent_scores(agent, digests, conn)
    series = _series([r["total"] for r in rows], window)
    series["rts"] = [r["rt_id"] for r in rows]
    return series


def compute_streaks(agent: str, digests: list[dict[str, Any]] | None = None,
                    conn: sqlite3.Connection | None = None) -> dict[str, Any]:
    """Detect scoring streaks and personal records."""
    rows = agent_scores(agent, digests, conn)
    totals = [r["total"] for r in rows]
    out: dict[str, Any] = {"scored_rts": len(totals), "personal_best": None, "personal_worst": None,
                           "current_streak": {"direction": "none", "length": 0},
                           "above_average_streak": 0, "longest_above_average": 0,
                           "new_record_last_rt": False}
    if not totals:
        return out
    best = max(range(len(totals)), key=lambda i: (totals[i], i))
    worst = min(range(len(totals)), key=lambda i: (totals[i], -i))
    out["personal_best"] = {"total": totals[best], "rt_id": rows[best]["rt_id"]}
    out["personal_worst"] = {"total": totals[worst], "rt_id": rows[worst]["rt_id"]}
    out["new_record_last_rt"] = len(totals) > 1 and totals[-1] > max(totals[:-1])
    direction, length = "none", 0
    for prev, cur in zip(totals, totals[1:], strict=False):
        step = "up" if cur > prev else "down" if cur < prev else "flat"
        length = length + 1 if step == direction else 1
        direction = step
    out["current_streak"] = {"direction": direction, "length": length}
    mean = sum(totals) / len(totals)
    run = longest = 0
    for total in totals:
        run = run + 1 if total >= mean else 0
        longest = max(longest, run)
    out["above_average_streak"] = run
    out["longest_above_average"] = longest
    return out


def detect_phase(agent: str, digests: list[dict[str, Any]] | None = None,
                 conn: sqlite3.Connection | None = None) -> dict[str, str]:
    """Detect which development phase an agent is in."""
    trend = total_score_trend(agent, digests, conn=conn)
    count = len(trend["values"])
    if count == 0:
        return {"phase": "unscored", "reason": "no scored roundtables yet"}
    if count < 3:
        return {"phase": "onboarding", "reason": f"only {count} scored roundtable(s)"}
    if trend["trend"] == "up":
        return {"phase": "growing", "reason": "recent totals above the earlier ones"}
    if trend["trend"] == "down":
        return {"phase": "declining", "reason": "recent totals below the earlier ones"}
    if (trend["mean"] or 0) >= 6:
        return {"phase": "established", "reason": f"steady at a mean total of {trend['mean']}"}
    return {"phase": "plateau", "reason": f"flat at a mean total of {trend['mean']}"}


def identify_strengths_weaknesses(agent: str, digests: list[dict[str, Any]] | None = None,
                                  window: int = 5, conn: sqlite3.Connection | None = None) -> dict[str, Any]:
    """Identify strongest and weakest dimensions over the recent window."""
    rows = agent_scores(agent, digests, conn)[-window:]
    averages = {}
    for axis in AXES:
        values = [r[axis] for r in rows if isinstance(r.get(axis), int | float)]
        if values:
            averages[axis] = round(sum(values) / len(values), 2)
    if not averages:
        return {"averages": {}, "strongest": None, "weakest": None, "window": window}
    return {"averages": averages,
            "strongest": max(averages, key=lambda a: (averages[a], -AXES.index(a))),
            "weakest": min(averages, key=lambda a: (averages[a], AXES.index(a))),
            "window": window}


# --------------------------------------------------------------------------- budget, judge, therapist


def budget_analytics(agent: str, digests: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Analyze floor-budget usage across roundtables."""
    per_rt = []
    for digest in _digests(digests):
        usage = digest.get("budget_usage")
        entry = usage.get(agent) if isinstance(usage, dict) else None
        if not isinstance(entry, dict):
            continue
        spent, budget = entry.get("spent"), entry.get("budget")
        if isinstance(spent, int | float) and isinstance(budget, int | float):
            per_rt.append({"rt_id": digest.get("rt_id"), "spent": spent, "budget": budget})
    total_spent = sum(r["spent"] for r in per_rt)
    total_budget = sum(r["budget"] for r in per_rt)
    return {
        "rts": len(per_rt),
        "total_spent": total_spent,
        "total_budget": total_budget,
        "utilization": round(total_spent / total_budget, 3) if total_budget else None,
        "exhausted_rts": sum(1 for r in per_rt if r["budget"] and r["spent"] >= r["budget"]),
        "unused_rts": sum(1 for r in per_rt if r["spent"] == 0),
        "per_rt": per_rt,
    }


def _intervention_text(item: Any) -> str:
    if isinstance(item, dict):
        return " ".join(str(v) for v in item.values() if isinstance(v, str))
    return str(item)


REDIRECT_SIGNALS = ("CONTINUE", "REDIRECT")


def _signal(item: Any) -> str:
    return str(item.get("signal") or "").upper() if isinstance(item, dict) else ""


def judge_redirect_analytics(digests: list[dict[str, Any]] | None = None,
                             agent: str | None = None) -> dict[str, Any]:
    """Count Judge redirects per roundtable (and, for `agent`, mentions and gates awarded).

    A redirect is a judge intervention that sends the debate back (CONTINUE, or any
    intervention without a signal); GATE lines are awards, CONVERGED ends the debate.
    """
    per_rt: dict[str, int] = {}
    gates: dict[str, int] = {}
    mentions = awarded = 0
    for digest in _digests(digests):
        items = digest.get("judge_interventions") or []
        items = items if isinstance(items, list) else []
        rt_id = str(digest.get("rt_id"))
        per_rt[rt_id] = sum(1 for i in items if _signal(i) in REDIRECT_SIGNALS or not _signal(i))
        gates[rt_id] = sum(1 for i in items if _signal(i) == "GATE")
        if agent:
            pattern = re.compile(rf"\b{re.escape(agent)}\b", re.I)
            named = [i for i in items if pattern.search(_intervention_text(i))]
            mentions += len(named)
            awarded += sum(1 for i in named if _signal(i) == "GATE"
                           and re.match(rf"\s*GATE:\s*{re.escape(agent)}\b", _intervention_text_of(i), re.I))
    total = sum(per_rt.values())
    out: dict[str, Any] = {"per_rt": per_rt, "total": total, "gates_per_rt": gates,
                           "average": round(total / len(per_rt), 2) if per_rt else 0.0}
    if agent:
        out["mentions"] = mentions
        out["gates_awarded"] = awarded
    return out


def _intervention_text_of(item: Any) -> str:
    return str(item.get("text") or "") if isinstance(item, dict) else str(item)


def therapist_analytics(agent: str) -> dict[str, Any]:
    """Aggregate therapist session outcomes."""
    from amatelier.engine import agent_memory, evolver

    sessions = load_therapist_sessions(agent)
    counts = {"added": 0, "confirmed": 0, "removed": 0}
    goals = store = 0
    for record in sessions:
        applied = record.get("applied") or {}
        for behavior in applied.get("behaviors") or []:
            result = behavior.get("result")
            if result in counts:
                counts[result] += 1
        goals += len(applied.get("goals") or [])
        store += 1 if applied.get("store_request") else 0
    behaviors = evolver.load_behaviors(agent)
    memory = agent_memory.load_memory(agent)
    return {
        "sessions": len(sessions),
        "complete": sum(1 for r in sessions if r.get("complete")),
        "incomplete": sum(1 for r in sessions if r.get("complete") is False),
        "behaviors_added": counts["added"],
        "behaviors_confirmed": counts["confirmed"],
        "behaviors_removed": counts["removed"],
        "behaviors_pruned": len(behaviors["pruned"]),
        "active_behaviors": len(behaviors["behaviors"]),
        "goals_set": goals,
        "active_goals": sum(1 for g in memory["goals"] if isinstance(g, dict) and g.get("status") == "active"),
        "store_requests": store,
        "last_session_rt": sessions[-1].get("rt_id") if sessions else None,
    }


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


# --------------------------------------------------------------------------- reports


def report_agents(digests: list[dict[str, Any]]) -> list[str]:
    """Workers that took part in any roundtable, else the configured workers."""
    names: list[str] = []
    for digest in digests:
        for name in digest.get("workers") or list((digest.get("contributions") or {}).keys()):
            if isinstance(name, str) and name not in names and name not in ("judge", "runner"):
                names.append(name)
    if names:
        return names
    try:
        return load_workers()
    except Exception:
        return []


def agent_report(agent: str, conn: sqlite3.Connection | None = None,
                 digests: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Generate a comprehensive growth report for one agent."""
    digests = _digests(digests)
    matrix = engagement_matrix(digests, conn, report_agents(digests) or [agent])
    return {
        "agent": agent,
        "roundtables": [d.get("rt_id") for d in digests if agent in (d.get("workers") or [])
                        or agent in (d.get("contributions") or {})],
        "scores": agent_scores(agent, digests, conn),
        "total_trend": total_score_trend(agent, digests, conn=conn),
        "dimension_trends": dimension_trends(agent, digests, conn=conn),
        "streaks": compute_streaks(agent, digests, conn),
        "phase": detect_phase(agent, digests, conn),
        "strengths": identify_strengths_weaknesses(agent, digests, conn=conn),
        "budget": budget_analytics(agent, digests),
        "judge_redirects": judge_redirect_analytics(digests, agent),
        "therapist": therapist_analytics(agent),
        "economy": economy_analytics(agent, conn, digests),
        "rank_trajectory": rank_trajectory(agent),
        "engagement": {"builds_on": matrix.get(agent, {}),
                       "built_on_by": {a: row.get(agent, 0) for a, row in matrix.items() if a != agent}},
    }


def sparkline(values: list[float]) -> str:
    """Values as a small bar chart (▁..█), scaled between their min and max."""
    nums = [float(v) for v in values if isinstance(v, int | float)]
    if not nums:
        return ""
    lo, hi = min(nums), max(nums)
    if hi == lo:
        return SPARK_BARS[3] * len(nums)
    return "".join(SPARK_BARS[round((v - lo) / (hi - lo) * (len(SPARK_BARS) - 1))] for v in nums)


def _dash(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def format_report_text(report: dict[str, Any]) -> str:
    """Format a growth report as readable text for the Therapist or user."""
    total = report["total_trend"]
    lines = [f"Growth report — {report['agent']}",
             f"Roundtables: {len(report['roundtables'])}, scored: {len(total['values'])}",
             f"Total: mean {_dash(total['mean'])}, latest {_dash(total['latest'])}, trend {total['trend']} "
             f"{sparkline(total['values'])}".rstrip(),
             f"Phase: {report['phase']['phase']} ({report['phase']['reason']})"]
    strengths = report["strengths"]
    if strengths.get("strongest"):
        averages = ", ".join(f"{axis} {_dash(value)}" for axis, value in strengths["averages"].items())
        lines.append(f"Strongest: {strengths['strongest']}, weakest: {strengths['weakest']} "
                     f"(averages: {averages})")
    for axis, series in report["dimension_trends"].items():
        if series["values"]:
            lines.append(f"  {axis:<9} {sparkline(series['values'])} mean {series['mean']} trend {series['trend']}")
    streaks = report["streaks"]
    if streaks.get("personal_best"):
        lines.append(f"Personal best {streaks['personal_best']['total']:g} (RT {streaks['personal_best']['rt_id']}); "
                     f"streak {streaks['current_streak']['direction']} x{streaks['current_streak']['length']}")
    budget = report["budget"]
    if budget["rts"]:
        lines.append(f"Floor budget: {budget['total_spent']}/{budget['total_budget']} used "
                     f"({budget['utilization']}), exhausted in {budget['exhausted_rts']} RT(s)")
    judge = report["judge_redirects"]
    if judge.get("mentions"):
        lines.append(f"Judge: named in {judge['mentions']} intervention(s), "
                     f"{judge.get('gates_awarded', 0)} gate(s) awarded")
    therapy = report["therapist"]
    lines.append(f"Therapist: {therapy['sessions']} sessions ({therapy['incomplete']} incomplete), "
                 f"{therapy['active_behaviors']} active behaviours, {therapy['active_goals']} active goals")
    econ = report["economy"]
    if econ["source"] != "none":
        lines.append(f"Economy ({econ['source']}): earned {_dash(econ['earned'])}, spent {_dash(econ['spent'])}, "
                     f"balance {_dash(econ['balance'])}, ROI {_dash(econ['roi'])}")
    builds = {k: v for k, v in report["engagement"]["builds_on"].items() if v}
    if builds:
        lines.append("Builds on: " + ", ".join(f"{k} ({v})" for k, v in sorted(builds.items(), key=lambda i: -i[1])))
    return "\n".join(lines)


def update_agent_analytics(agent: str, conn: sqlite3.Connection | None = None,
                           digests: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Compute and persist analytics fields into metrics.json["analytics"] (other keys untouched)."""
    digests = _digests(digests)
    total = total_score_trend(agent, digests, conn=conn)
    strengths = identify_strengths_weaknesses(agent, digests, conn=conn)
    streaks = compute_streaks(agent, digests, conn)
    summary = {
        "updated_at": now_iso(),
        "roundtables": sum(1 for d in digests if agent in (d.get("workers") or [])
                           or agent in (d.get("contributions") or {})),
        "scored_rts": len(total["values"]),
        "avg_total": total["mean"],
        "last_total": total["latest"],
        "trend": total["trend"],
        "phase": detect_phase(agent, digests, conn)["phase"],
        "strongest": strengths["strongest"],
        "weakest": strengths["weakest"],
        "personal_best": streaks["personal_best"],
        "current_streak": streaks["current_streak"],
        "budget_utilization": budget_analytics(agent, digests)["utilization"],
        "last_rt": digests[-1].get("rt_id") if digests else None,
    }
    path = paths.user_agent_dir(agent) / "metrics.json"
    try:
        with locked_json(path, {}) as metrics:
            metrics["analytics"] = summary
    except ValueError:
        log.warning("metrics.json for %s is not valid JSON; analytics not cached", agent)
    return summary


def update_all_analytics(conn: sqlite3.Connection | None = None,
                         extra_digests: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Update analytics for all workers (and a leaderboard snapshot). Step 33."""
    digests = merge_digests(load_all_digests(), extra_digests)
    out = {name: update_agent_analytics(name, conn, digests) for name in report_agents(digests)}
    if digests:
        save_leaderboard_snapshot(conn, digests, digests[-1].get("rt_id"))
    return out


def overview(conn: sqlite3.Connection | None = None,
             digests: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything `amatelier analytics --json` prints without an agent."""
    digests = _digests(digests)
    names = report_agents(digests)
    return {
        "roundtables": [{"rt_id": d.get("rt_id"), "topic": d.get("topic"),
                         "started_at": d.get("started_at"), "ended_at": d.get("ended_at"),
                         "rounds": d.get("rounds"), "converged": d.get("converged"),
                         "workers": d.get("workers"), "skills_distilled": d.get("skills_distilled")}
                        for d in digests],
        "agents": {name: agent_report(name, conn, digests) for name in names},
        "economy": economy_overview(conn, digests, names),
        "judge_redirects": judge_redirect_analytics(digests),
        "engagement": engagement_matrix(digests, conn, names),
    }

"""Growth analytics over every roundtable: trends, streaks, phases, budget, economy, engagement.

Sources, all optional: the digests under roundtable-server/ (the list of roundtables and
their per-agent numbers), the scores table and the spark_ledger table in roundtable.db
(when the economy has written them), the agents' therapist session records and
behaviors.json. Functions take the digests as an argument (default: load them) so the
runner can include a digest it has not written yet. `update_all_analytics` caches a
compact summary under metrics.json["analytics"] after each roundtable.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

from amatelier import paths


def _columns(conn: sqlite3.Connection | None, table: str) -> list[str]:
    if conn is None:
        return []
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone():
            return []
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    except sqlite3.Error:
        return []


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
    from amatelier.learning.sessions import read_session_record

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
    from amatelier.learning import agent_memory, evolver

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



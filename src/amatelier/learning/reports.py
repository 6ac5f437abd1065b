"""Growth reports: one agent's report (trends, streaks, economy, therapist), sparklines, overview.

Built on learning.trends and learning.standings; learning.analytics re-exports it.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from amatelier import paths
from amatelier.atomicio import locked_json
from amatelier.judging.history import judging_trend
from amatelier.learning.agent_memory import now_iso
from amatelier.learning.standings import (
    economy_analytics,
    economy_overview,
    engagement_matrix,
    rank_trajectory,
    save_leaderboard_snapshot,
)
from amatelier.learning.trends import (
    SPARK_BARS,
    _digests,
    agent_scores,
    budget_analytics,
    compute_streaks,
    detect_phase,
    dimension_trends,
    identify_strengths_weaknesses,
    judge_redirect_analytics,
    load_all_digests,
    merge_digests,
    report_agents,
    therapist_analytics,
    total_score_trend,
)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- reports


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
    from amatelier.economy.retirement import retired_agents

    if agent in retired_agents():   # archived: a cache never brings a retired agent's folder back
        return summary
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
        "judging": judging_trend(digests),    # the Judge's agreement and order-swap flip rate over time
    }

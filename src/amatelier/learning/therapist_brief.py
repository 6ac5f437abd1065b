"""What the therapist knows before it asks: the agent's brief, store and relegation context.

Split from learning.therapist (the interview) to keep each module to one job.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from amatelier import paths
from amatelier.learning import agent_memory, evolver
from amatelier.learning.sessions import (
    AXES,
    THERAPIST,
    SessionResult,
    _as_dict,
    score_total,
)
from amatelier.learning.text import clip, words

# --------------------------------------------------------------------------- context

log = logging.getLogger(__name__)


def therapist_persona() -> str:
    """The therapist's user-data persona (seeded from bundled), else a built-in fallback."""
    path = paths.user_agent_dir(THERAPIST) / "CLAUDE.md"
    if not path.exists():
        paths.seed_agent(THERAPIST)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return (text or FALLBACK_PERSONA) + "\n" + CONTRACT


def agent_persona(agent: str) -> str:
    """The agent's user-data CLAUDE.md and IDENTITY.md, for its side of the interview."""
    parts = []
    for name in ("CLAUDE.md", "IDENTITY.md"):
        try:
            parts.append((paths.user_agent_dir(agent) / name).read_text(encoding="utf-8").strip())
        except OSError:
            continue
    return "\n\n".join(p for p in parts if p) or f"You are {agent}, a worker on an AI roundtable team."


def agent_messages(conn: sqlite3.Connection | None, rt_id: str, agent: str) -> list[str]:
    """What the agent said in the roundtable (for the skill-impact check)."""
    if conn is None:
        return []
    try:
        rows = conn.execute("SELECT content FROM messages WHERE rt_id = ? AND agent = ? AND kind != 'turn'"
                            " ORDER BY id", (rt_id, agent)).fetchall()
    except sqlite3.Error:
        return []
    return [str(r[0]) for r in rows]


def previous_totals(agent: str, rt_id: str) -> list[float]:
    """This agent's score totals in earlier digests (for the skill-impact comparison)."""
    from amatelier.learning import analytics

    totals = []
    for digest in analytics.load_all_digests():
        if digest.get("rt_id") == rt_id:
            continue
        total = score_total(_as_dict(digest.get("scores")).get(agent))
        if total is not None:
            totals.append(total)
    return totals


def compute_skill_impact(agent: str, data: dict[str, Any], messages: list[str],
                         prior_totals: list[float]) -> dict[str, Any]:
    """Correlate owned skills with this roundtable: which showed up, and how the score moved."""
    owned = sorted(set(agent_memory.load_memory(agent)["skills_owned"]) | set(evolver.skill_files(agent)))
    spoken = words(" ".join(messages))
    skills = []
    for name in owned:
        keys = {w for w in words(name.replace("-", " ").replace("_", " ")) if len(w) >= 4}
        used = bool(keys & spoken)
        skills.append({"skill": name, "used_this_rt": used,
                       "status": "in use" if used else "unused this roundtable (fading?)"})
    total = score_total(data.get("scores"))
    prior = sum(prior_totals) / len(prior_totals) if prior_totals else None
    delta = round(total - prior, 2) if total is not None and prior is not None else None
    return {"skills": skills, "total": total, "prior_average": None if prior is None else round(prior, 2),
            "delta_vs_average": delta}


def _store_context(conn: sqlite3.Connection | None, agent: str) -> list[str]:
    """Catalog lines and balance for the therapist (empty when the store is not there)."""
    lines = []
    balance = None
    if conn is not None:
        try:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='spark_ledger'").fetchone():
                balance = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM spark_ledger WHERE agent = ?",
                                       (agent,)).fetchone()[0]
        except sqlite3.Error:
            balance = None
    items = store_catalog()
    if balance is not None:
        lines.append(f"BALANCE: {balance} sparks")
    if items:
        lines.append("STORE CATALOG:")
        for item in items[:12]:
            lines.append(f"- {item['id']} (cost {item.get('cost', '?')}): {clip(item.get('name', ''), 80)}")
    return lines


def store_catalog() -> list[dict[str, Any]]:
    """Catalog items as {id, name, cost} for the therapist's view of the store."""
    return [{"id": i["id"], "name": i["name"], "cost": i.get("price")} for i in evolver.catalog_items()
            if i.get("kind") in ("skill", "boost", "service", "")]


def build_agent_brief(agent: str, rt_id: str, data: dict[str, Any], impact: dict[str, Any],
                      notes: dict[str, Any], store_lines: list[str]) -> str:
    """The data block both sides of the interview see (markers first, for parsers)."""
    lines = [f"RT: {rt_id}", f"AGENT: {agent}", f"TOPIC: {data.get('topic') or '?'}"]
    scores = data.get("scores")
    if isinstance(scores, dict) and "unscored" not in scores:
        axes = " ".join(f"{a}={scores.get(a, '?')}" for a in AXES)
        lines.append(f"SCORES: {axes} total={scores.get('total', impact.get('total'))}")
        if scores.get("reason"):
            lines.append(f"JUDGE REASON: {clip(str(scores['reason']), 400)}")
    elif isinstance(scores, dict):
        lines.append(f"SCORES: unscored ({scores.get('unscored')})")
    else:
        lines.append("SCORES: not available")
    if impact.get("prior_average") is not None:
        change = impact.get("delta_vs_average")
        lines.append(f"PRIOR AVERAGE TOTAL: {impact['prior_average']}"
                     + (f" (change {change:+})" if change is not None else ""))
    lines.append(f"CONTRIBUTIONS: {data.get('contributions') if data.get('contributions') is not None else '?'}")
    budget = data.get("budget") or {}
    if budget:
        lines.append(f"FLOOR BUDGET: spent {budget.get('spent', '?')} of {budget.get('budget', '?')}")
    if data.get("stability"):
        lines.append("STABILITY: " + " ".join(f"R{k}={v}" for k, v in sorted(data["stability"].items())))
    if data.get("sparks_earned") is not None:
        lines.append(f"SPARKS EARNED: {data['sparks_earned']}")
    if data.get("judge_signals"):
        lines.append("JUDGE SIGNALS NAMING YOU: " + " | ".join(clip(r, 160) for r in data["judge_signals"][:4]))
    if data.get("final_position"):
        lines.append(f"FINAL POSITION: {clip(str(data['final_position']), 500)}")
    if impact.get("skills"):
        lines.append("SKILLS OWNED: " + "; ".join(f"{s['skill']} ({s['status']})" for s in impact["skills"]))
    behaviors = evolver.load_behaviors(agent)["behaviors"]
    lines.append("ACTIVE BEHAVIORS:" if behaviors else "ACTIVE BEHAVIORS: none")
    for entry in behaviors:
        lines.append(f"- {entry['text']} (confidence {float(entry.get('confidence', 1)):.2f})")
    goals = agent_memory.active_goals(agent)
    lines.append("ACTIVE GOALS:" if goals else "ACTIVE GOALS: none")
    for goal in goals:
        lines.append(f"- {goal['goal']} ({goal.get('rts_elapsed', 0)} of {goal.get('horizon_rts')} roundtables)")
    sessions = agent_memory.load_memory(agent)["sessions"]
    if sessions:
        lines.append(f"LAST SESSION: {clip(str(sessions[-1].get('summary', '')), 300)}")
    relegation = data.get("relegation")
    if relegation:
        lines.append(f"RELEGATION WATCH: {relegation['negative_streak']} net-negative roundtables in a row "
                     f"(the watch starts at {relegation['threshold']}). The agent decides between two options: \"bench\" "
                     f"(sit out, {relegation['bench_income']} sparks per roundtable) or \"retire\" (its state is "
                     "archived, never deleted); no choice means the bench. Outcome key relegation_choice.")
    requests = data.get("private_requests") or []
    if requests:
        lines.append("PRIVATE REQUESTS (open, for the admin; find out what the agent needs):")
        lines += [f"- [{r['id']}] {clip(str(r.get('text', '')), 200)}" for r in requests]
    if notes.get("sessions_conducted"):
        hypotheses = "; ".join(clip(str(h), 100) for h in notes.get("active_hypotheses", [])[-3:])
        lines.append(f"CASE NOTES: {notes['sessions_conducted']} earlier sessions"
                     + (f"; hypotheses: {hypotheses}" if hypotheses else ""))
    lines += store_lines
    return "\n".join(lines)


def _has_economy(conn: sqlite3.Connection | None) -> bool:
    if conn is None:
        return False
    try:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='bench'").fetchone() is not None
    except sqlite3.Error:
        return False


def relegation_context(conn: sqlite3.Connection | None, agent: str, digest: dict[str, Any],
                       config: dict[str, Any]) -> dict[str, Any] | None:
    """{negative_streak, threshold, bench_income} when the agent is on relegation watch now, else None.

    Read from the ledger when there is one (a benched agent is not on watch), else from
    the digest's relegation_watch.
    """
    from amatelier.economy import bench
    from amatelier.economy import rules as spark_rules

    if _has_economy(conn):
        try:
            standing = bench.relegation_status(conn, agent, config)  # type: ignore[arg-type]
        except sqlite3.Error:
            standing = None
        if standing is not None:
            if standing["status"] != "at risk":
                return None
            return {k: standing[k] for k in ("negative_streak", "threshold", "bench_income")}
    streak = _as_dict(digest.get("relegation_watch")).get(agent)
    if not isinstance(streak, int) or isinstance(streak, bool) or streak <= 0:
        return None
    relegation = spark_rules.competition(config)["relegation"]
    return {"negative_streak": streak, "threshold": int(relegation.get("consecutive_net_negative", 3)),
            "bench_income": spark_rules.bench_income(config)}


def pending_private_requests(conn: sqlite3.Connection | None, agent: str) -> list[dict[str, Any]]:
    """The agent's open private store requests, for the session to review (none without a store)."""
    if not _has_economy(conn):
        return []
    from amatelier.economy import store

    try:
        return store.open_private_requests(conn, agent)  # type: ignore[arg-type]
    except Exception as exc:  # an unreadable store must not cost the debrief
        log.warning("private requests of %s unreadable: %s", agent, exc)
        return []


def mark_private_requests_addressed(conn: sqlite3.Connection | None, result: SessionResult,
                                    reviewed: list[dict[str, Any]]) -> list[str]:
    """Step 14: the private requests this (complete) session reviewed become `addressed`."""
    if not reviewed or not result.complete or conn is None:
        return []
    from amatelier.economy import store

    changed = store.mark_private_requests_addressed(
        conn, result.agent, result.rt_id, [r["id"] for r in reviewed],
        note=str(result.applied.get("session_summary") or ""), session=result.session_path)
    return [r["id"] for r in changed]


FALLBACK_PERSONA = (
    "You are the team therapist. After each roundtable you debrief one worker in private: "
    "open with an after-action review of the numbers (AAR), give feedback as "
    "situation-behaviour-impact (SBI), decide one change with GROW, and talk in OARS style "
    "(open questions, specific affirmations, reflections, summaries). Never invent data."
)
CONTRACT = """
## Runtime contract (amatelier)
Each prompt names the RT, the AGENT and the TURN ("TURN: t of N"). Turns before the last
are conversation only. On the last turn (the close) summarise in two or three sentences
and end with one fenced ```json block holding: behavioral_deltas (list of {action:
add|remove|confirm, behavior, reason}), memory_updates ({lessons: [], beliefs: [],
episodes: []}), session_summary (string), goals (list of {goal, horizon_rts}),
store_request ({item_id, reason} or null). Optional: emerging_traits (list of {trait, note}).
When the brief shows RELEGATION WATCH, ask the agent to choose and add relegation_choice
("bench" or "retire"; there is no third option, and no choice means the bench), the agent's own decision.
"""

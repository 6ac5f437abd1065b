"""The therapist: a short private debrief with each worker after a roundtable.

Per agent, `turns` exchanges: the therapist (its own model, persona from the user-data
agents/therapist/CLAUDE.md) speaks, the agent answers on its own backend (Naomi through
Gemini unless offline). The therapist's last turn is the close and ends with fenced JSON
outcome blocks, which are parsed leniently (engine.outcome_blocks) and applied through
the evolver (behaviours, traits), agent memory (lessons, beliefs, episodes, goals,
session summary, diary) and the store (purchase, or the bulletin board when the agent
cannot afford it). An agent on relegation watch makes its relegation choice (bench or
stay) in the debrief; its open private store requests are reviewed and marked addressed.

Each session writes agents/<name>/sessions/<rt_id>.md (readable, with a machine-readable
record at the end) and the therapist's case notes; the run writes
roundtable-server/therapist-report-<rt_id>.md. A model failure mid-session marks the
session incomplete and applies what was already decided; no file is left half-written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import file_lock, read_json, write_json_atomic, write_text_atomic
from amatelier.engine import agent_memory, evolver
from amatelier.engine.learning_text import clip, words
from amatelier.engine.outcome_blocks import Outcomes, parse_outcomes, strip_blocks

log = logging.getLogger(__name__)

THERAPIST = "therapist"
DEFAULT_TURNS = 2
MAX_TURNS = 5
AXES = ("novelty", "accuracy", "impact", "challenge")
MAX_CASE_ITEMS = 20
RECORD_HEADING = "## Record"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

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
("bench" or "stay"), the agent's own decision.
"""
AGENT_DEBRIEF = (
    "You are in a private debrief with the team therapist after roundtable {rt_id}. "
    "Answer in your own voice, in the first person, in 60-200 words: be honest about what "
    "you aimed for and what happened. If you want something from the store that serves "
    "your goals, add a fenced ```json block {{\"store_request\": {{\"item_id\": \"...\", "
    "\"reason\": \"...\"}}}}. If your results show RELEGATION WATCH, the choice is "
    "yours: end your answer with a fenced ```json block {{\"relegation_choice\": \"bench\"}} "
    "or {{\"relegation_choice\": \"stay\"}}."
)


class DigestError(ValueError):
    """The digest file is missing or malformed; the message names the path and the problem."""


@dataclass
class SessionResult:
    """One agent's debrief: conversation, parsed outcomes, what was applied, status."""
    agent: str
    rt_id: str
    complete: bool = False
    turns_planned: int = DEFAULT_TURNS
    turns_done: int = 0
    conversation: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[str, Any] = field(default_factory=dict)
    applied: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    session_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TherapistRun:
    """All sessions of one `run_therapist` call and the report it wrote."""
    rt_id: str
    sessions: list[SessionResult] = field(default_factory=list)
    report_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rt_id": self.rt_id, "report_path": self.report_path,
                "sessions": [s.to_dict() for s in self.sessions]}


# --------------------------------------------------------------------------- digest


def load_digest(path: Path | str) -> dict[str, Any]:
    """Read a digest JSON file or raise DigestError with a one-line explanation."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DigestError(f"digest not found: {path}") from None
    except OSError as exc:
        raise DigestError(f"cannot read digest {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise DigestError(f"digest {path} is not valid JSON{where}") from None
    check_digest(data, str(path))
    return data


def check_digest(data: Any, where: str = "digest") -> None:
    """Raise DigestError unless `data` is an object with an rt_id."""
    if not isinstance(data, dict):
        raise DigestError(f"digest {where} must be a JSON object")
    if not isinstance(data.get("rt_id"), str) or not data["rt_id"].strip():
        raise DigestError(f"digest {where} has no rt_id")
    if not SAFE_NAME.fullmatch(data["rt_id"]):
        # The rt_id names files (sessions/<rt_id>.md, therapist-report-<rt_id>.md).
        raise DigestError(f"digest {where} has an invalid rt_id {data['rt_id']!r} (letters, digits, - and _ only)")


def digest_workers(digest: dict[str, Any]) -> list[str]:
    """Workers of the roundtable (digest workers, else who contributed, judge excluded)."""
    workers = digest.get("workers")
    if isinstance(workers, list) and workers:
        return [str(w) for w in workers if isinstance(w, str)]
    names: list[str] = []
    for key in ("contributions", "scores", "final_positions"):
        value = digest.get(key)
        if isinstance(value, dict):
            names += [n for n in value if n not in names]
    return [n for n in names if n not in ("judge", "runner", THERAPIST)]


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def extract_agent_data(digest: dict[str, Any], agent: str) -> dict[str, Any]:
    """This agent's numbers from the digest; every field optional."""
    scores = _as_dict(digest.get("scores")).get(agent)
    stability = {}
    for round_key, per_agent in _as_dict(digest.get("stability_scores")).items():
        value = _as_dict(per_agent).get(agent)
        if isinstance(value, int | float):
            stability[str(round_key)] = round(float(value), 3)
    redirects = [str(i.get("text") or i.get("content") or i) if isinstance(i, dict) else str(i)
                 for i in digest.get("judge_interventions") or []]
    return {
        "topic": digest.get("topic"),
        "scores": scores if isinstance(scores, dict) else None,
        "contributions": _as_dict(digest.get("contributions")).get(agent),
        "budget": _as_dict(_as_dict(digest.get("budget_usage")).get(agent)) or None,
        "stability": stability,
        "final_position": _as_dict(digest.get("final_positions")).get(agent),
        "sparks_earned": _as_dict(digest.get("sparks_earned")).get(agent),
        "judge_signals": [r for r in redirects if re.search(rf"\b{re.escape(agent)}\b", r, re.I)],
        "converged": digest.get("converged"),
        "rounds": digest.get("rounds"),
    }


def score_total(scores: dict[str, Any] | None) -> float | None:
    """The total of a digest score entry (None when unscored or incomplete)."""
    if not isinstance(scores, dict) or "unscored" in scores:
        return None
    if isinstance(scores.get("total"), int | float):
        return float(scores["total"])
    values = [scores.get(a) for a in AXES]
    if all(isinstance(v, int | float) for v in values):
        return float(sum(values))
    return None


# --------------------------------------------------------------------------- context


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


def case_notes_path(agent: str) -> Path:
    """agents/therapist/case_notes/<agent>.json."""
    return paths.user_agent_dir(THERAPIST) / "case_notes" / f"{agent}.json"


def load_case_notes(agent: str) -> dict[str, Any]:
    """The therapist's notes on an agent, with every list present."""
    try:
        notes = read_json(case_notes_path(agent), {})
    except ValueError:
        notes = {}
    notes = notes if isinstance(notes, dict) else {}
    notes.setdefault("agent", agent)
    notes.setdefault("sessions_conducted", 0)
    for key in ("clinical_observations", "active_hypotheses", "intervention_history"):
        if not isinstance(notes.get(key), list):
            notes[key] = []
    return notes


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
    from amatelier.engine import analytics

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
                     f"(the watch starts at {relegation['threshold']}). The agent decides: \"bench\" (sit out, "
                     f"{relegation['bench_income']} sparks per roundtable) or \"stay\" (keep playing); "
                     "outcome key relegation_choice.")
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
    from amatelier.engine import bench, spark_rules

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
    from amatelier.engine import store

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
    from amatelier.engine import store

    changed = store.mark_private_requests_addressed(
        conn, result.agent, result.rt_id, [r["id"] for r in reviewed],
        note=str(result.applied.get("session_summary") or ""), session=result.session_path)
    return [r["id"] for r in changed]


# --------------------------------------------------------------------------- the interview


def _conversation_text(conversation: list[dict[str, Any]], agent: str) -> str:
    if not conversation:
        return "(nothing yet)"
    out = []
    for item in conversation:
        who = "THERAPIST" if item["speaker"] == THERAPIST else agent.upper()
        out.append(f"{who}: {strip_blocks(item['text'])}")
    return "\n\n".join(out)


def therapist_prompt(brief: str, conversation: list[dict[str, Any]], agent: str, turn: int,
                     turns: int) -> str:
    """The therapist's prompt for turn `turn` of `turns` (the last is the close)."""
    closing = turn == turns
    instruction = (
        "This is the close: summarise in two or three sentences, state the agreed way "
        "forward, and end with the fenced ```json outcome block."
        if closing else
        ("Open the session: a short AAR with the numbers, one SBI observation, one open question."
         if turn == 1 else
         "Reflect what the agent said, walk GROW briefly, and ask which option it commits to.")
        + " No outcome block yet."
    )
    return (f"{brief}\nTURN: {turn} of {turns}{' (close)' if closing else ''}\n\n"
            f"CONVERSATION SO FAR:\n{_conversation_text(conversation, agent)}\n\n{instruction}")


def agent_prompt(rt_id: str, agent: str, brief: str, conversation: list[dict[str, Any]],
                 turn: int, turns: int) -> str:
    """The interviewed agent's prompt: its results, its memory, the question."""
    memory = agent_memory.render_memory(agent, agent=agent, max_chars=1500)
    question = strip_blocks(conversation[-1]["text"]) if conversation else ""
    return (f"RT: {rt_id}\nAGENT: {agent}\nTURN: {turn} of {turns}\n\n"
            f"YOUR RESULTS:\n{brief}\n\nYOUR MEMORY:\n{memory}\n\n"
            f"CONVERSATION SO FAR:\n{_conversation_text(conversation[:-1], agent)}\n\n"
            f"THERAPIST ASKS:\n{question}\n\nAnswer the therapist.")


# --------------------------------------------------------------------------- applying outcomes


def process_store_request(agent: str, request: dict[str, str], rt_id: str,
                          conn: sqlite3.Connection | None,
                          config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Buy the item if the agent can afford it, else post it to the bulletin board.

    Goes through the economy's store (engine.store.process_store_request); without a store
    the request is recorded as pending.
    """
    record: dict[str, Any] = dict(request)
    try:
        from amatelier.engine import store  # type: ignore[attr-defined]
    except ImportError:
        store = None
    handler = getattr(store, "process_store_request", None) if store is not None else None
    if not callable(handler):
        record["status"] = "pending: store not available"
        return record
    if conn is None:
        record["status"] = "pending: no database connection"
        return record
    try:
        outcome = handler(conn, agent, {"item_id": request["item_id"], "request": request.get("reason", ""),
                                        "rt_id": rt_id}, config or _config())
    except Exception as exc:  # a store failure must not lose the rest of the session
        record["status"] = f"failed: {clip(str(exc), 160)}"
        return record
    outcome = outcome if isinstance(outcome, dict) else {}
    action = str(outcome.get("action") or "")
    if action == "purchased":
        record["status"] = f"purchased ({outcome.get('price')} sparks, balance {outcome.get('balance')})"
    elif action == "queued":
        record["status"] = "queued on the bulletin board (not enough sparks)"
    elif action:
        record["status"] = f"{action}: {clip(str(outcome.get('error') or outcome.get('reason') or ''), 160)}"
    else:
        record["status"] = "unknown store answer"
    record["store"] = {k: v for k, v in outcome.items() if isinstance(v, str | int | float | bool | None)}
    return record


def fallback_summary(agent: str, data: dict[str, Any], complete: bool) -> str:
    """A factual session summary for when the therapist gave none."""
    total = score_total(data.get("scores"))
    parts = [f"Debrief {'held' if complete else 'cut short'} after roundtable on "
             f"\"{clip(str(data.get('topic') or '?'), 80)}\"."]
    if total is not None:
        parts.append(f"Scored {total:g} in total.")
    if data.get("contributions") is not None:
        parts.append(f"{data['contributions']} contributions.")
    return " ".join(parts)


def apply_outcomes(agent: str, rt_id: str, outcomes: Outcomes, *, agent_answers: list[str],
                   data: dict[str, Any], complete: bool, conn: sqlite3.Connection | None,
                   config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Dispatch parsed outcomes to evolver, memory and store. One failing step does not stop the rest."""
    applied: dict[str, Any] = {"behaviors": [], "lessons": 0, "beliefs": 0, "episodes": 0,
                               "goals": [], "traits": [], "store_request": None, "errors": []}

    def guard(label: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # keep applying the other outcomes
            log.warning("therapist %s/%s: %s failed: %s", rt_id, agent, label, exc)
            applied["errors"].append(f"{label}: {exc}")
            return None

    for delta in outcomes.behavioral_deltas:
        result = guard("behavior", lambda d=delta: evolver.apply_behavior_delta(agent, d, rt_id))
        applied["behaviors"].append({**delta, "result": result})
    for text in outcomes.lessons:
        applied["lessons"] += 1 if guard("lesson", lambda t=text: agent_memory.add_lesson(agent, t, rt_id)) else 0
    for text in outcomes.beliefs:
        applied["beliefs"] += 1 if guard("belief", lambda t=text: agent_memory.update_belief(agent, t, rt_id=rt_id)) else 0
    for text in outcomes.episodes:
        applied["episodes"] += 1 if guard("episode", lambda t=text: agent_memory.add_episode(agent, t, rt_id)) else 0
    own = guard("episodes", lambda: agent_memory.extract_episodes_from_therapist(
        agent, " ".join(strip_blocks(a) for a in agent_answers), rt_id)) or []
    applied["episodes"] += len(own)
    for trait in outcomes.emerging_traits:
        guard("trait", lambda t=trait: evolver.update_emerging_trait(agent, t["trait"], t["note"]))
        applied["traits"].append(trait["trait"])
    for goal in outcomes.goals:
        if guard("goal", lambda g=goal: agent_memory.add_goal(agent, g["goal"], g["horizon_rts"], rt_id)):
            applied["goals"].append(goal)
    summary = outcomes.session_summary or fallback_summary(agent, data, complete)
    guard("summary", lambda: agent_memory.add_session_summary(agent, rt_id, summary, data.get("topic"), complete))
    applied["session_summary"] = summary
    if agent_answers:
        guard("diary", lambda: agent_memory.write_diary_entry(
            agent, strip_blocks(agent_answers[-1]), data.get("topic"), rt_id))
    if outcomes.store_request:
        applied["store_request"] = guard("store", lambda: process_store_request(
            agent, outcomes.store_request, rt_id, conn, config))
    applied["relegation"] = apply_relegation(agent, rt_id, outcomes.relegation_choice, data.get("relegation"),
                                             conn, config, guard)
    return applied


def apply_relegation(agent: str, rt_id: str, choice: str | None, watch: dict[str, Any] | None,
                     conn: sqlite3.Connection | None, config: dict[str, Any] | None,
                     guard: Callable[[str, Callable[[], Any]], Any]) -> dict[str, Any] | None:
    """The agent's relegation choice, applied through engine.bench (None when there was nothing to decide)."""
    if not watch and not choice:
        return None
    if not watch:
        return {"choice": choice, "status": "ignored: not on relegation watch"}
    if not choice:
        return {"choice": None, "status": "no choice made; stays seated",
                "negative_streak": watch["negative_streak"]}
    if conn is None:
        return {"choice": choice, "status": "pending: no database connection"}
    from amatelier.engine import bench

    outcome = guard("relegation", lambda: bench.apply_relegation_choice(
        conn, agent, choice, config or _config(), rt_id=rt_id))
    return outcome or {"choice": choice, "status": "failed"}


# --------------------------------------------------------------------------- files


def _bullet(items: list[str]) -> list[str]:
    return [f"- {i}" for i in items] or ["- none"]


def session_markdown(result: SessionResult, brief: str) -> str:
    """sessions/<rt_id>.md: readable debrief plus a machine-readable record."""
    applied = result.applied
    status = "complete" if result.complete else f"incomplete ({result.error or 'stopped early'})"
    lines = [f"# Debrief — {result.agent} — roundtable {result.rt_id}", "",
             f"- Date: {agent_memory.now_iso()}",
             f"- Status: {status}",
             f"- Turns: {result.turns_done} of {result.turns_planned}", "",
             "## What the therapist saw", "", "```text", brief, "```", "",
             "## Conversation", ""]
    for item in result.conversation:
        who = "Therapist" if item["speaker"] == THERAPIST else result.agent.capitalize()
        lines += [f"**{who}** (turn {item['turn']}):", "", strip_blocks(item["text"]) or "(outcome block only)", ""]
    lines += ["## Outcomes", "", f"Summary: {applied.get('session_summary', '')}", "", "Behaviours:"]
    lines += _bullet([f"{b['action']} \"{b['behavior']}\" → {b.get('result')}" for b in applied.get("behaviors", [])])
    lines += ["", "Goals:"]
    lines += _bullet([f"{g['goal']} (within {g['horizon_rts']} roundtables)" for g in applied.get("goals", [])])
    lines += ["", f"Memory: {applied.get('lessons', 0)} lessons, {applied.get('beliefs', 0)} beliefs, "
              f"{applied.get('episodes', 0)} episodes"]
    request = applied.get("store_request")
    lines += ["", f"Store request: {request['item_id']} — {request.get('status')}" if request else "Store request: none"]
    relegation = applied.get("relegation")
    if relegation:
        lines += ["", f"Relegation: {relegation.get('choice') or 'no choice'} — {relegation.get('status')}"]
    if applied.get("requests_addressed"):
        lines += ["", "Private requests addressed: " + ", ".join(applied["requests_addressed"])]
    if applied.get("errors"):
        lines += ["", "Errors:"] + _bullet(applied["errors"])
    record = {"agent": result.agent, "rt_id": result.rt_id, "complete": result.complete,
              "turns_done": result.turns_done, "turns_planned": result.turns_planned,
              "error": result.error, "outcomes": result.outcomes, "applied": applied}
    lines += ["", RECORD_HEADING, "", "```json", json.dumps(record, indent=2, ensure_ascii=False), "```"]
    return "\n".join(lines) + "\n"


def read_session_record(path: Path) -> dict[str, Any] | None:
    """The machine-readable record at the end of a sessions/<rt_id>.md (None if absent)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return None
    head, sep, tail = text.rpartition(RECORD_HEADING)
    if not sep:
        return None
    match = re.search(r"```json\s*\n(.*?)```", tail, re.S)
    if not match:
        return None
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def update_case_notes(agent: str, result: SessionResult, data: dict[str, Any]) -> None:
    """Steps 12-13: only a complete session counts as conducted."""
    if not result.complete:
        return
    path = case_notes_path(agent)
    with file_lock(path):
        try:
            notes = read_json(path, {})
        except ValueError:
            keep = path.with_name(f"{path.name}.corrupt-{agent_memory.now_iso().replace(':', '')}")
            with contextlib.suppress(OSError):
                path.replace(keep)
            log.warning("case notes for %s were not valid JSON (kept as %s); starting new notes", agent, keep.name)
            notes = {}
        if not isinstance(notes, dict):
            notes = {}
        _add_to_case_notes(notes, agent, result, data)
        write_json_atomic(path, notes)


def _add_to_case_notes(notes: dict[str, Any], agent: str, result: SessionResult, data: dict[str, Any]) -> None:
    """One complete session in the case notes (steps 12-13), lists capped at MAX_CASE_ITEMS."""
    notes.setdefault("agent", agent)
    notes.setdefault("sessions_conducted", 0)
    for key in ("clinical_observations", "active_hypotheses", "intervention_history"):
        if not isinstance(notes.get(key), list):
            notes[key] = []
    notes["sessions_conducted"] = int(notes.get("sessions_conducted", 0)) + 1
    notes["last_session_rt"] = result.rt_id
    notes["clinical_observations"].append({"rt_id": result.rt_id, "at": agent_memory.now_iso(),
                                           "observation": result.applied.get("session_summary"),
                                           "score_total": score_total(data.get("scores"))})
    for goal in result.applied.get("goals", []):
        notes["active_hypotheses"].append(f"If {agent} works on \"{goal['goal']}\", its scores "
                                          f"should move within {goal['horizon_rts']} roundtables.")
    notes["intervention_history"].append({
        "rt_id": result.rt_id, "at": agent_memory.now_iso(),
        "behaviors": [f"{b['action']}: {b['behavior']}" for b in result.applied.get("behaviors", [])],
        "goals": [g["goal"] for g in result.applied.get("goals", [])],
        "store_request": result.applied.get("store_request"),
        "relegation": result.applied.get("relegation"),
        "requests_addressed": result.applied.get("requests_addressed", []),
    })
    notes["diary"] = agent_memory.diary_stats(agent)
    for key in ("clinical_observations", "active_hypotheses", "intervention_history"):
        notes[key] = notes[key][-MAX_CASE_ITEMS:]


def write_report(rt_id: str, digest: dict[str, Any], agents: list[str],
                 failed: dict[str, str] | None = None) -> Path:
    """Step 15: one report for the roundtable, built from every agent's session record.

    `failed` lists agents whose session broke before it could be recorded: the report
    says so rather than leaving them out.
    """
    lines = [f"# Therapist report — roundtable {rt_id}", "",
             f"Topic: {digest.get('topic') or '?'}", f"Written: {agent_memory.now_iso()}", ""]
    names = list(dict.fromkeys(agents + digest_workers(digest)))
    failed = failed or {}
    for agent in names:
        record = read_session_record(paths.user_agent_dir(agent) / "sessions" / f"{rt_id}.md")
        if agent in failed:
            lines += [f"## {agent}", "", f"- Session: failed ({failed[agent]})", ""]
            continue
        if record is None:
            continue
        applied = record.get("applied") or {}
        status = "complete" if record.get("complete") else f"incomplete ({record.get('error') or 'stopped early'})"
        lines += [f"## {agent}", "", f"- Session: {status}, {record.get('turns_done')} of "
                  f"{record.get('turns_planned')} turns",
                  f"- Summary: {applied.get('session_summary', '')}"]
        for b in applied.get("behaviors", []):
            lines.append(f"- Behaviour {b.get('action')}: {b.get('behavior')} ({b.get('result')})")
        for g in applied.get("goals", []):
            lines.append(f"- Goal: {g.get('goal')} (within {g.get('horizon_rts')} roundtables)")
        if applied.get("store_request"):
            req = applied["store_request"]
            lines.append(f"- Store request: {req.get('item_id')} — {req.get('status')}")
        if applied.get("relegation"):
            rel = applied["relegation"]
            lines.append(f"- Relegation: {rel.get('choice') or 'no choice'} — {rel.get('status')}")
        if applied.get("requests_addressed"):
            lines.append("- Private requests addressed: " + ", ".join(applied["requests_addressed"]))
        lines.append("")
    path = paths.user_digest_dir() / f"therapist-report-{rt_id}.md"
    write_text_atomic(path, "\n".join(lines).rstrip() + "\n")
    return path


# --------------------------------------------------------------------------- sessions


def _config() -> dict[str, Any]:
    from amatelier.config import load_config

    return load_config()


def run_session(rt_id: str, agent: str, digest: dict[str, Any], max_turns: int = DEFAULT_TURNS, *,
                conn: sqlite3.Connection | None = None, backend: Any = None,
                agent_backend: Any = None, config: dict[str, Any] | None = None) -> SessionResult:
    """Run a single Therapist session with one agent; never raises for model failures."""
    from amatelier.backends.base import BackendUnavailable, LLMCallError
    from amatelier.chat.llm_calls import call_and_record
    from amatelier.config import worker_model

    cfg = config or _config()
    turns = max(1, min(MAX_TURNS, int(max_turns)))
    result = SessionResult(agent=agent, rt_id=rt_id, turns_planned=turns)
    paths.seed_agent(agent)
    data = extract_agent_data(digest, agent)
    data["relegation"] = relegation_context(conn, agent, digest, cfg)
    data["private_requests"] = pending_private_requests(conn, agent)
    notes = load_case_notes(agent)
    impact = compute_skill_impact(agent, data, agent_messages(conn, rt_id, agent),
                                  previous_totals(agent, rt_id))
    brief = build_agent_brief(agent, rt_id, data, impact, notes, _store_context(conn, agent))
    system = therapist_persona()
    therapist_model = cfg.get("team", {}).get("therapist", {}).get("model", "haiku")
    timeout = float(cfg.get("llm", {}).get("timeout_s", 180))
    max_tokens = int(cfg.get("therapist", {}).get("max_tokens", 1500))
    agent_system = agent_persona(agent) + "\n\n" + AGENT_DEBRIEF.format(rt_id=rt_id)

    def record(role: str, who: str, reply_backend: Any, sys_prompt: str, prompt: str, model: str) -> str:
        if conn is None:
            return reply_backend.complete(system=sys_prompt, prompt=prompt, model=model,
                                          max_tokens=max_tokens, timeout=timeout, task=role, agent=who).text
        return call_and_record(conn, reply_backend, rt_id=rt_id, agent=who, role=role, system=sys_prompt,
                               prompt=prompt, model=model, max_tokens=max_tokens, timeout=timeout).text

    try:
        if backend is None:
            from amatelier.llm_backend import get_backend

            backend = get_backend()
        if agent_backend is None:
            from amatelier.llm_backend import backend_for_agent

            agent_backend = backend_for_agent(agent, cfg)
        for turn in range(1, turns + 1):
            question = record("therapist", THERAPIST, backend, system,
                              therapist_prompt(brief, result.conversation, agent, turn, turns),
                              therapist_model)
            result.conversation.append({"speaker": THERAPIST, "turn": turn, "text": question})
            answer = record("therapist-agent", agent, agent_backend, agent_system,
                            agent_prompt(rt_id, agent, brief, result.conversation, turn, turns),
                            worker_model(cfg, agent))
            result.conversation.append({"speaker": agent, "turn": turn, "text": answer})
            result.turns_done = turn
        result.complete = True
    except (LLMCallError, BackendUnavailable) as exc:
        result.error = f"{getattr(exc, 'kind', 'unavailable')}: {clip(str(exc), 200)}"
        log.warning("therapist session %s/%s incomplete: %s", rt_id, agent, result.error)
    except Exception as exc:  # a broken backend must not take the other sessions down
        result.error = f"error: {clip(repr(exc), 200)}"
        log.exception("therapist session %s/%s failed", rt_id, agent)

    therapist_texts = [c["text"] for c in result.conversation if c["speaker"] == THERAPIST]
    agent_texts = [c["text"] for c in result.conversation if c["speaker"] == agent]
    outcomes = parse_outcomes(*therapist_texts)
    for text in agent_texts:
        own = parse_outcomes(text)
        if outcomes.store_request is None and own.store_request:
            outcomes.store_request = own.store_request
        if own.relegation_choice:  # the decision is the agent's: its own word wins
            outcomes.relegation_choice = own.relegation_choice
    result.outcomes = outcomes.to_dict()
    result.applied = apply_outcomes(agent, rt_id, outcomes, agent_answers=agent_texts, data=data,
                                    complete=result.complete, conn=conn, config=cfg)
    session_path = paths.user_agent_dir(agent) / "sessions" / f"{rt_id}.md"
    result.session_path = str(session_path)
    try:
        result.applied["requests_addressed"] = mark_private_requests_addressed(
            conn, result, data["private_requests"])
    except Exception as exc:  # the requests stay open for the next session; the rest is kept
        log.warning("therapist %s/%s: marking private requests failed: %s", rt_id, agent, exc)
        result.applied["requests_addressed"] = []
        result.applied["errors"].append(f"private requests: {exc}")
    write_text_atomic(session_path, session_markdown(result, brief))
    update_case_notes(agent, result, data)
    return result


def _db_file(conn: sqlite3.Connection | None) -> str | None:
    if conn is None:
        return None
    try:
        for row in conn.execute("PRAGMA database_list"):
            if row[1] == "main" and row[2]:
                return str(row[2])
    except sqlite3.Error:
        return None
    return None


def run_therapist(digest: dict[str, Any] | Path | str, agents: list[str] | None = None,
                  turns: int = DEFAULT_TURNS, *, conn: sqlite3.Connection | None = None,
                  backend: Any = None, agent_backend_for: Callable[[str], Any] | None = None,
                  config: dict[str, Any] | None = None, parallel: int | None = None,
                  on_session: Callable[[SessionResult], None] | None = None) -> TherapistRun:
    """Run Therapist sessions for all agents in a roundtable (or the `agents` given).

    Sessions for different agents touch different files, so they run on a small thread
    pool (config therapist.parallel), each thread with its own database connection.
    """
    if not isinstance(digest, dict):
        digest = load_digest(digest)
    check_digest(digest)
    cfg = config or _config()
    rt_id = digest["rt_id"]
    names = agents or digest_workers(digest)
    if not names:
        raise DigestError(f"digest {rt_id} names no workers to debrief")
    unsafe = [n for n in names if not SAFE_NAME.fullmatch(str(n))]
    if unsafe:  # agent names become paths (agents/<name>/sessions/...)
        raise DigestError(f"digest {rt_id} names an invalid agent {unsafe[0]!r}")
    run = TherapistRun(rt_id=rt_id)
    if backend is None:  # resolve once, before any thread starts (a missing backend fails here)
        from amatelier.llm_backend import get_backend

        backend = get_backend()
    workers = max(1, int(parallel or cfg.get("therapist", {}).get("parallel", 4)))
    db_file = _db_file(conn)

    def one(agent: str) -> SessionResult:
        own_conn = None
        try:
            if db_file and workers > 1 and len(names) > 1:
                from amatelier.chat.db import connect

                own_conn = connect(Path(db_file))
            agent_backend = agent_backend_for(agent) if agent_backend_for else None
            return run_session(rt_id, agent, digest, turns, conn=own_conn or conn, backend=backend,
                               agent_backend=agent_backend, config=cfg)
        except Exception as exc:  # one agent's broken state must not stop the others
            log.exception("therapist session %s/%s could not run", rt_id, agent)
            return SessionResult(agent=agent, rt_id=rt_id, turns_planned=turns,
                                 error=f"error: {clip(repr(exc), 200)}")
        finally:
            if own_conn is not None:
                own_conn.close()

    if workers > 1 and len(names) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(names))) as pool:
            futures = [pool.submit(one, agent) for agent in names]
            for future in futures:
                session = future.result()
                run.sessions.append(session)
                if on_session:
                    on_session(session)
    else:
        for agent in names:
            session = one(agent)
            run.sessions.append(session)
            if on_session:
                on_session(session)
    not_held = {s.agent: s.error or "error" for s in run.sessions if s.session_path is None}
    run.report_path = str(write_report(rt_id, digest, names, not_held))
    return run

"""The therapist: a short private debrief with each worker after a roundtable.

Per agent, `turns` exchanges: the therapist (its own model, persona from the user-data
agents/therapist/CLAUDE.md) speaks, the agent answers on its own backend (Naomi through
Gemini unless offline). The therapist's last turn is the close and ends with fenced JSON
outcome blocks, which are parsed leniently (engine.outcome_blocks) and applied through
the evolver (behaviours, traits), agent memory (lessons, beliefs, episodes, goals,
session summary, diary) and the store (purchase, or the bulletin board when the agent
cannot afford it). An agent on relegation watch makes its relegation choice (bench or
retire; no choice benches it) in the debrief, and a retiring agent is archived after it; its open private store requests are reviewed and marked addressed.

Each session writes agents/<name>/sessions/<rt_id>.md (readable, with a machine-readable
record at the end) and the therapist's case notes; the run writes
roundtable-server/therapist-report-<rt_id>.md. A model failure mid-session marks the
session incomplete and applies what was already decided; no file is left half-written.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import write_text_atomic
from amatelier.learning import agent_memory, evolver
from amatelier.learning.outcome_blocks import Outcomes, parse_outcomes, strip_blocks
from amatelier.learning.sessions import (  # noqa: F401 - re-exported for therapist.<name> callers  # noqa: F401 - re-exported for therapist.<name> callers
    AXES,
    DEFAULT_TURNS,
    MAX_CASE_ITEMS,
    MAX_TURNS,
    RECORD_HEADING,
    SAFE_NAME,
    THERAPIST,
    DigestError,
    SessionResult,
    TherapistRun,
    _add_to_case_notes,
    _as_dict,
    _bullet,
    case_notes_path,
    check_digest,
    digest_workers,
    extract_agent_data,
    load_case_notes,
    load_digest,
    read_session_record,
    score_total,
    session_markdown,
    update_case_notes,
    write_report,
)
from amatelier.learning.text import clip
from amatelier.learning.therapist_brief import (  # noqa: F401 - re-exported for therapist.<name> callers  # noqa: F401 - re-exported for therapist.<name> callers
    CONTRACT,
    FALLBACK_PERSONA,
    _has_economy,
    _store_context,
    agent_messages,
    agent_persona,
    build_agent_brief,
    compute_skill_impact,
    mark_private_requests_addressed,
    pending_private_requests,
    previous_totals,
    relegation_context,
    store_catalog,
    therapist_persona,
)

log = logging.getLogger(__name__)


AGENT_DEBRIEF = (
    "You are in a private debrief with the team therapist after roundtable {rt_id}. "
    "Answer in your own voice, in the first person, in 60-200 words: be honest about what "
    "you aimed for and what happened. If you want something from the store that serves "
    "your goals, add a fenced ```json block {{\"store_request\": {{\"item_id\": \"...\", "
    "\"reason\": \"...\"}}}}. If your results show RELEGATION WATCH, the choice is "
    "yours, between exactly two options: end your answer with a fenced ```json block "
    "{{\"relegation_choice\": \"bench\"}} or {{\"relegation_choice\": \"retire\"}} (your state is "
    "archived, not deleted). If you do not choose, you are benched."
)


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

    Goes through the economy's store (economy.store.process_store_request); without a store
    the request is recorded as pending.
    """
    record: dict[str, Any] = dict(request)
    try:
        from amatelier.economy import store
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
    """The agent's relegation choice, applied through economy.bench (None when there was nothing to decide).

    On watch, no choice benches the agent; `retire` comes back as status `retiring` and is
    carried out by run_therapist once the session is written (see retire_after_debriefs).
    """
    if not watch and not choice:
        return None
    if not watch:
        return {"choice": choice, "status": "ignored: not on relegation watch"}
    if conn is None:
        return {"choice": choice, "status": "pending: no database connection"}
    from amatelier.economy import bench

    outcome = guard("relegation", lambda: bench.apply_relegation_choice(
        conn, agent, choice, config or _config(), rt_id=rt_id))
    return outcome or {"choice": choice, "status": "failed"}


def retire_after_debriefs(run: TherapistRun) -> None:
    """Archive every agent whose debrief chose retirement (after all its files are written)."""
    from amatelier.economy.retirement import RetirementError, retire_agent

    for session in run.sessions:
        relegation = (session.applied or {}).get("relegation") or {}
        if relegation.get("status") != "retiring":
            continue
        try:
            entry = retire_agent(session.agent, rt_id=run.rt_id,
                                 reason=f"chose to retire after {relegation.get('negative_streak')} "
                                        "net-negative roundtables in a row",
                                 facts={"negative_streak": relegation.get("negative_streak")})
        except (RetirementError, OSError) as exc:
            relegation["status"] = f"retire failed: {exc}"
        else:
            relegation["status"] = f"retired: state archived in agents/.retired/{entry['archive']}"


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
    retire_after_debriefs(run)
    return run

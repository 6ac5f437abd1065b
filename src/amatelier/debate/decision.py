"""The decision record: the chair turns the debate into one cited, validated JSON object.

One entry point, write_decision(), is called after every debate and after every forced stop
(Ctrl-C, SIGTERM, health audit, round limit, cost ceilings). It asks the chair (the
`opus-admin` agent on its configured model; `roundtable.chair` names another) for the record,
validates it against docs/schemas/decision.schema.json and checks that every cited message
exists in the roundtable, gives the chair one repair call, and otherwise falls back to a
deterministic record built from the positions table (`"synthesized": false`). It never
raises: a model error, a bad answer or a second Ctrl-C all end in the fallback record.

Fields the chair could only guess are never taken from it: rt_id, question, partial,
stop_reason and position_changes (computed from the declared positions) are set here.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from amatelier.debate import decision_check, decision_prompt
from amatelier.debate.decision_fallback import fallback_record
from amatelier.debate.decision_prompt import DecisionInputs
from amatelier.debate.decision_store import save_decision
from amatelier.debate.position_changes import changes
from amatelier.debate.positions import load_positions
from amatelier.search.precedents import Precedent, annotate, given_precedents

DEFAULT_CHAIR = "opus-admin"
_OUTCOMES = {"consensus": "consensus", "majority": "majority", "split": "split", "no_decision": "no_decision",
             "no decision": "no_decision", "none": "no_decision", "undecided": "no_decision"}


def chair_name(config: dict[str, Any]) -> str:
    """`roundtable.chair` when set, else the admin agent (opus-admin)."""
    named = (config.get("roundtable") or {}).get("chair")
    if isinstance(named, str) and named.strip():
        return named.strip()
    return str((config.get("team") or {}).get("admin", {}).get("name") or DEFAULT_CHAIR)


def stop_reason_for(*, converged: bool, rounds_run: int, max_rounds: int, cut_reason: str | None) -> str:
    """converged, round limit, or the cut reason (keyboard interrupt, terminated, health audit: ...)."""
    if cut_reason:
        return cut_reason
    if converged:
        return "converged"
    return "round limit" if rounds_run >= max_rounds else "ended"


def inputs_from_db(conn: sqlite3.Connection, rt_id: str, *, workers: list[str] | None = None,
                   judge: str = "judge", topic: str | None = None, briefing: str = "",
                   stop_reason: str = "converged", partial: bool = False) -> DecisionInputs:
    """Read a roundtable's messages and positions into DecisionInputs."""
    from amatelier.chat import messages as msgs

    transcript = msgs.transcript(conn, rt_id)
    row = conn.execute("SELECT topic, participants FROM roundtables WHERE id = ?", (rt_id,)).fetchone()
    if workers is None:
        import json

        listed = json.loads(row[1]) if row and row[1] else []
        workers = [a for a in listed if a != judge]
    if not briefing:
        first = next((m for m in transcript if m.get("kind") == "briefing"), None)
        briefing = first["content"].split("\n", 1)[-1] if first else ""
    return DecisionInputs(rt_id=rt_id, topic=topic or (row[0] if row else ""), messages=transcript,
                          positions=load_positions(conn, rt_id), workers=list(workers), judge=judge,
                          briefing=briefing, stop_reason=stop_reason, partial=partial)


# --------------------------------------------------------------------------- assembling


def _as_id(value: Any) -> Any:
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(?:#|msg[-\s]*|msg-)?(\d{1,12})\s*", value, re.I)
        if match:
            return int(match.group(1))
    return value


def _coerce(answer: dict[str, Any]) -> dict[str, Any]:
    """Harmless fixes of common drift: 70 -> 0.7, "#41" -> 41, "Majority" -> "majority"."""
    fixed = dict(answer)
    conf = fixed.get("confidence")
    if isinstance(conf, (int, float)) and not isinstance(conf, bool) and 1 < conf <= 100:
        fixed["confidence"] = round(conf / 100.0, 3)
    if isinstance(fixed.get("outcome"), str):
        key = fixed["outcome"].strip().lower().replace("-", " ")
        fixed["outcome"] = _OUTCOMES.get(key, _OUTCOMES.get(key.replace(" ", "_"), fixed["outcome"]))
    for key in ("arguments", "dissent", "evidence"):
        items = fixed.get(key)
        if not isinstance(items, list):
            continue
        cleaned = []
        for item in items:
            if isinstance(item, dict):
                item = dict(item)
                if isinstance(item.get("cites"), list):
                    item["cites"] = list(dict.fromkeys(_as_id(c) for c in item["cites"]))
                elif isinstance(item.get("cites"), (int, str)):
                    item["cites"] = [_as_id(item["cites"])]
                if isinstance(item.get("side"), str):
                    item["side"] = item["side"].strip().lower()
                for name in ("by", "agent"):
                    if isinstance(item.get(name), str):
                        item[name] = item[name].strip().lower()
            cleaned.append(item)
        fixed[key] = cleaned
    return fixed


def assemble(answer: dict[str, Any], inputs: DecisionInputs, change_list: list[dict[str, Any]],
             *, synthesized: bool, chair: dict[str, Any]) -> dict[str, Any]:
    """The full record: the chair's fields plus the ones set from data."""
    answer = _coerce(answer) if synthesized else answer
    record: dict[str, Any] = {"schema_version": decision_check.SCHEMA_VERSION, "rt_id": inputs.rt_id,
                              "question": " ".join(inputs.topic.split()) or "(no topic)"}
    for key in decision_prompt.MODEL_FIELDS:
        record[key] = answer.get(key)
    record["position_changes"] = change_list
    if inputs.precedents:  # the chair's stance on each precedent it was given; the heuristic otherwise
        record["precedents"] = annotate(
            {"recommendation": record.get("recommendation"),
             "precedents": answer.get("precedents") if synthesized and isinstance(answer.get("precedents"), list)
             else []}, [_precedent(p) for p in inputs.precedents])
    record["partial"] = bool(inputs.partial)
    record["stop_reason"] = inputs.stop_reason or "ended"
    record["synthesized"] = synthesized
    record["chair"] = chair
    record["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return record


def _precedent(given: dict[str, Any]) -> Precedent:
    return Precedent(rt_id=str(given.get("rt_id")), recommendation=str(given.get("recommendation") or ""),
                     date=str(given.get("date") or ""), topic=str(given.get("topic") or ""))


def given_precedents_of(state: Any) -> list[dict[str, Any]]:
    """The precedents a roundtable was given at open: the runner's notes, else read back from its message."""
    notes = getattr(state, "notes", None)
    found = notes.get("precedents") if isinstance(notes, dict) else None
    if not found:
        try:
            found = given_precedents(state.conn, state.rt_id)
        except sqlite3.Error:
            found = []
    return [p.to_dict() if isinstance(p, Precedent) else dict(p) for p in found or []]


# --------------------------------------------------------------------------- the chair


def _ask(conn: sqlite3.Connection, backend: Any, inputs: DecisionInputs, *, chair: str, role: str,
         system: str, prompt: str, model: str, config: dict[str, Any]) -> str:
    from amatelier.chat.llm_calls import call_and_record

    llm = config.get("llm", {})
    completion = call_and_record(
        conn, backend, rt_id=inputs.rt_id, agent=chair, role=role, system=system, prompt=prompt,
        model=model, max_tokens=int((config.get("roundtable") or {}).get("decision_max_tokens", 4096)),
        timeout=float(llm.get("timeout_s", 180)))
    return completion.text or ""


def _chair_system(conn: sqlite3.Connection, rt_id: str, chair: str, config: dict[str, Any]) -> str:
    """The chair's persona: its own, or the bundled seed on a `seed` benchmark run (no agent state).

    Without any output contract: the record's form lives in the task prompt only."""
    from amatelier import paths
    from amatelier.debate.context import build_system

    try:
        row = conn.execute("SELECT persona_set FROM roundtables WHERE id = ?", (rt_id,)).fetchone()
    except sqlite3.OperationalError:  # a database from before benchmarks
        row = None
    seed = bool(row) and row[0] == "seed"
    system = build_system(chair, config, agent_dir=paths.bundled_agent_dir(chair) if seed else None)
    return decision_prompt.chair_system_text(system)


def synthesize(conn: sqlite3.Connection, inputs: DecisionInputs, config: dict[str, Any], *,
               backend: Any = None, log: Callable[[str], None] | None = None,
               ask_chair: bool = True) -> dict[str, Any]:
    """Ask the chair, validate, repair once, else fall back. Returns a valid record.

    `ask_chair=False` builds the deterministic record straight away (no model call).
    """
    from amatelier.config import worker_model

    ids = inputs.message_ids()
    change_list = _known_cites(changes(inputs.positions), ids)
    chair = chair_name(config)
    model = worker_model(config, chair)
    meta: dict[str, Any] = {"agent": chair, "model": None, "backend": None, "repaired": False,
                            "fallback_reason": None, "interrupted": False}
    agents = inputs.speakers()
    reason = "no valid answer"
    try:
        if not ask_chair:
            raise _Skipped
        if backend is None:
            from amatelier.llm_backend import backend_for_agent

            backend = backend_for_agent(chair, config)
        meta["backend"] = getattr(backend, "name", None)
        meta["model"] = backend.resolve_model(model) if hasattr(backend, "resolve_model") else model
        system = _chair_system(conn, inputs.rt_id, chair, config)
        prompt = decision_prompt.build_chair_prompt(inputs, change_list)
        answer = _ask(conn, backend, inputs, chair=chair, role="decision", system=system, prompt=prompt,
                      model=model, config=config)
        record, found = _checked(answer, inputs, change_list, meta, ids, agents)
        if not found:
            return record
        if log:
            log(f"the chair's decision record was invalid ({found[0]}); asking once to repair it")
        meta["repaired"] = True
        repaired = _ask(conn, backend, inputs, chair=chair, role="decision-repair", system=system,
                        prompt=decision_prompt.build_repair_prompt(prompt, answer, found), model=model,
                        config=config)
        record, again = _checked(repaired, inputs, change_list, meta, ids, agents)
        if not again:
            return record
        reason = f"the chair's answer was invalid after one repair: {again[0]}"
    except _Skipped:
        reason = "the chair was skipped (interrupted)"
        meta["interrupted"] = True
    except Exception as exc:  # noqa: BLE001 - any chair failure ends in the deterministic record
        reason = f"the chair could not answer: {type(exc).__name__}: {str(exc)[:200]}"
    except BaseException as exc:  # Ctrl-C again (or SIGTERM) while the chair writes: skip it
        if isinstance(exc, (SystemExit, GeneratorExit)):
            raise
        reason = "the chair was skipped (interrupted)"
        meta["interrupted"] = True  # the caller stops the steps after this one, as the user asked
    meta["fallback_reason"] = reason
    if log:
        log(f"decision record built from the declared positions ({reason})")
    return assemble(fallback_record(inputs, change_list, reason), inputs, change_list,
                    synthesized=False, chair=meta)


def _known_cites(change_list: list[dict[str, Any]], ids: set[int]) -> list[dict[str, Any]]:
    """Position changes citing only messages of this roundtable (stored rows could predate a check)."""
    kept = []
    for change in change_list:
        cites = [c for c in change["cites"] if c in ids]
        if not cites:
            continue
        moved = change.get("moved_by_message")
        kept.append({**change, "cites": cites, "moved_by_message": moved if moved in ids else None})
    return kept


class _Skipped(Exception):
    """The caller asked for the deterministic record without the chair."""


def _checked(answer: str, inputs: DecisionInputs, change_list: list[dict[str, Any]], meta: dict[str, Any],
             ids: set[int], agents: set[str]) -> tuple[dict[str, Any], list[str]]:
    parsed = decision_prompt.extract_json(answer)
    if parsed is None:
        return {}, ["the answer holds no JSON object"]
    record = assemble(parsed, inputs, change_list, synthesized=True, chair=dict(meta))
    return record, decision_check.problems(record, ids, agents)


def write_decision(state: Any, stop_reason: str, partial: bool, *, backend: Any = None,
                   log: Callable[[str], None] | None = None, ask_chair: bool = True) -> dict[str, Any]:
    """Write a roundtable's decision record (stored in `decisions`) and return it.

    `state` is the runner's RoundtableState (conn, rt_id, topic, briefing_text, workers,
    judge, config). A failing, invalid or interrupted chair never raises: the fallback record
    is used. Only a database that cannot be read raises (the runner records it as a step error).
    """
    from amatelier.chat.db import transaction

    inputs = inputs_from_db(state.conn, state.rt_id, workers=list(state.workers), judge=state.judge,
                            topic=state.topic, briefing=getattr(state, "briefing_text", "") or "",
                            stop_reason=stop_reason, partial=partial)
    inputs.precedents = given_precedents_of(state)
    record = synthesize(state.conn, inputs, state.config, backend=backend, log=log, ask_chair=ask_chair)
    try:
        with transaction(state.conn):
            save_decision(state.conn, record)
    except sqlite3.Error as exc:
        if log:
            log(f"the decision record could not be stored in the database ({exc}); it is in the digest")
    return record

"""Seams where the learning loop joins a roundtable.

The runner calls these at the named workflow steps. None of them may break the
roundtable: every step is guarded, logged, and reported in state.notes["learning"].
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from amatelier.state import RoundtableState

log = logging.getLogger(__name__)


def _notes(state: RoundtableState) -> dict[str, Any]:
    return state.notes.setdefault("learning", {"errors": []})


def _guard(state: RoundtableState, label: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # learning must never take a roundtable down
        log.exception("learning step %s failed for %s", label, state.rt_id)
        _notes(state)["errors"].append(f"{label}: {exc.__class__.__name__}: {exc}")
        return None


def before_open(state: RoundtableState) -> None:
    """Steps 8-9: sync skills owned; prepare each worker's session bridge."""
    from amatelier.learning import agent_memory, evolver

    notes = _notes(state)
    notes["skills_owned"] = {}
    notes["bridges"] = {}
    for agent in state.workers:
        _guard(state, f"migrate:{agent}", lambda a=agent: agent_memory.migrate_from_memory_md(a))
        owned = _guard(state, f"sync_skills:{agent}", lambda a=agent: evolver.sync_skills_owned(a, state.conn))
        notes["skills_owned"][agent] = owned or []
        bridge = _guard(state, f"bridge:{agent}", lambda a=agent: agent_memory.generate_session_bridge(a))
        notes["bridges"][agent] = bool(bridge)


def after_close(state: RoundtableState, digest: dict[str, Any]) -> dict[str, Any]:
    """Steps 33-35: analytics, skill distillation (runs even with --skip-post), novel concepts.

    Returns fields to merge into the digest: skills_distilled, skill_titles,
    skills_flagged, novel_concepts_added (and distill_error when distillation failed).
    """
    from amatelier.learning import analytics, distiller

    current = dict(digest)
    current.setdefault("rt_id", state.rt_id)
    current.setdefault("topic", state.topic)
    current.setdefault("workers", list(state.workers))
    _guard(state, "analytics", lambda: analytics.update_all_analytics(state.conn, [current]))
    result = _guard(state, "distill", lambda: distiller.distill_roundtable(
        state.conn, state.rt_id, current, config=state.config))
    if result is None:
        return {"skills_distilled": 0, "skill_titles": [], "distill_error": "error"}
    _notes(state)["distill"] = result.digest_fields()
    return result.digest_fields()


def post(state: RoundtableState, digest: dict[str, Any]) -> None:
    """Steps 36, 39-40: therapist sessions, goal aging, skills-owned sync, behaviour decay.

    Adds digest["therapist"] = {report, sessions: {agent: status}}. With --skip-post only
    distillation (in after_close) runs; this does nothing.
    """
    if state.skip_post:
        return
    from amatelier.learning import agent_memory, analytics, evolver, therapist

    current = dict(digest)
    current.setdefault("rt_id", state.rt_id)
    current.setdefault("topic", state.topic)
    current.setdefault("workers", list(state.workers))
    notes = _notes(state)
    turns = int(state.config.get("therapist", {}).get("turns", therapist.DEFAULT_TURNS))
    run = _guard(state, "therapist", lambda: therapist.run_therapist(
        current, list(state.workers), turns, conn=state.conn, config=state.config))
    if run is not None:
        notes["therapist"] = {"report": run.report_path,
                              "sessions": {s.agent: ("complete" if s.complete else f"incomplete: {s.error}")
                                           for s in run.sessions}}
        # The runner rewrites the digest when post() changed it.
        digest["therapist"] = dict(notes["therapist"])
    from amatelier.economy.retirement import retired_agents

    retired = set(retired_agents())   # an agent that retired in its debrief: nothing recreates its folder
    for agent in [w for w in state.workers if w not in retired]:
        _guard(state, f"age_goals:{agent}", lambda a=agent: agent_memory.age_goals(a, state.rt_id))
        _guard(state, f"decay:{agent}", lambda a=agent: evolver.decay_behaviors(a, state.rt_id))
        _guard(state, f"sync_skills:{agent}", lambda a=agent: evolver.sync_skills_owned(a, state.conn))
        _guard(state, f"bridge:{agent}", lambda a=agent: agent_memory.generate_session_bridge(a))
    # Therapist outcomes changed behaviours and goals: refresh the cached analytics.
    _guard(state, "analytics", lambda: analytics.update_all_analytics(state.conn, [current]))

"""One judge seat scores a roundtable: one call, at most one repair, never raises for bad output.

The workers are presented in the order given (each seat has its own). A malformed or
out-of-scale answer gets exactly one repair request that says what was wrong; a worker
still invalid after it is unscored with the reason. A score is never invented.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from amatelier.judging import prompts
from amatelier.judging.scoring import ScoringOutcome, WorkerScore, parse_judge_output

log = logging.getLogger("amatelier.judging.seat")


def call_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """max_tokens, timeout and transcript cap for scoring calls (config `competition`, `llm`)."""
    comp = config.get("competition", {}) or {}
    return {
        "max_tokens": int(comp.get("judge_max_tokens", 4096)),
        "timeout": float((config.get("llm", {}) or {}).get("timeout_s", 180)),
        "cap": int(comp.get("judge_transcript_cap_chars", prompts.DEFAULT_TRANSCRIPT_CAP)),
    }


def _unscored(workers: Sequence[str], reason: str) -> dict[str, WorkerScore]:
    return {agent: WorkerScore(agent=agent, unscored_reason=reason) for agent in workers}


def score_seat(conn: sqlite3.Connection, rt_id: str, order: Sequence[str], *, backend: Any, model: str,
               config: Mapping[str, Any], topic: str = "", judge: str = "judge",
               messages: Sequence[Mapping[str, Any]] = (), role: str = "score",
               system: str | None = None) -> ScoringOutcome:
    """Score the workers in `order` with one model; the calls are recorded in llm_calls under `role`."""
    from amatelier.backends.base import LLMCallError
    from amatelier.chat.llm_calls import call_and_record

    workers = list(order)
    if not workers:
        return ScoringOutcome(scores={})
    settings = call_settings(config)
    call = {"system": system if system is not None else prompts.judge_system(judge), "model": model,
            "max_tokens": settings["max_tokens"], "timeout": settings["timeout"]}
    try:
        first = call_and_record(conn, backend, rt_id=rt_id, agent=judge, role=role,
                                prompt=prompts.scoring_prompt(rt_id, topic, workers, messages, settings["cap"]),
                                **call)
    except LLMCallError as exc:
        log.warning("judge scoring call failed for %s (%s): %s", rt_id, model, exc)
        return ScoringOutcome(scores=_unscored(workers, f"judge call failed: {exc}"))
    parsed = parse_judge_output(first.text, workers)
    scores: dict[str, WorkerScore] = dict(parsed.valid)
    if parsed.ok:
        return ScoringOutcome(scores={a: scores[a] for a in workers})

    to_fix = [agent for agent in workers if agent in parsed.problems]
    problems = parsed.problem_lines()
    log.info("judge answer for %s needs repair: %s", rt_id, "; ".join(problems))
    try:
        second = call_and_record(conn, backend, rt_id=rt_id, agent=judge, role="score-repair",
                                 prompt=prompts.repair_prompt(rt_id, topic, to_fix, first.text, problems,
                                                              messages, settings["cap"]), **call)
    except LLMCallError as exc:
        for agent in to_fix:
            scores[agent] = WorkerScore(agent=agent, unscored_reason=(
                f"judge output invalid ({'; '.join(parsed.problems[agent])}) and the repair call failed: {exc}"))
        return ScoringOutcome(scores={a: scores[a] for a in workers}, repaired=True, first_problems=problems)
    repaired = parse_judge_output(second.text, to_fix)
    scores.update(repaired.valid)
    for agent, still in repaired.problems.items():
        scores[agent] = WorkerScore(agent=agent,
                                    unscored_reason="judge output invalid after one repair: " + "; ".join(still))
    return ScoringOutcome(scores={a: scores[a] for a in workers}, repaired=True, first_problems=problems)

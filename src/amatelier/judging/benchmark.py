"""Scoring a benchmark roundtable: the Judge's scores, kept in the digest and nowhere else.

A benchmark run is measured, never settled: no `scores` rows (they feed score history,
variance flags and the therapist), no ledger rows, no leaderboard, no `judging_results`
row. The Judge call itself is the same as for a real roundtable, so the numbers mean the
same thing: with one seat (the default) the lone Judge scores; when `judging.jury` has two
or more seats the jury scores (judging.panel.run_jury, the real scoring step's entry point:
each seat in its own order, the median, recusals, alpha) and the digest carries its
`judging` section too.
"""

from __future__ import annotations

from typing import Any

from amatelier.judging import jury, panel
from amatelier.judging.scoring import judge_score
from amatelier.state import RoundtableState


def score_only(state: RoundtableState, digest: dict[str, Any]) -> dict[str, Any]:
    """Digest fields for a benchmark run: `scores` {worker: axes+total+reason, or unscored}
    and `score_repaired`; with a jury of 2+ seats also `judging` (seats, alpha, audits)."""
    from amatelier.chat.messages import transcript
    from amatelier.llm_backend import backend_for_agent

    messages = transcript(state.conn, state.rt_id)
    if len(jury.seats_from_config(state.config)) >= 2:
        verdict = panel.run_jury(state.conn, state.rt_id, state.workers, config=state.config, topic=state.topic,
                                 judge=state.judge, messages=messages,
                                 audit_forced=bool(getattr(state, "audit_judge", False)))
        return {"scores": {agent: score.to_dict() for agent, score in verdict.scores.items()},
                "score_repaired": verdict.repaired, "judging": verdict.judging}
    outcome = judge_score(state.conn, state.rt_id, state.workers, backend=backend_for_agent(state.judge, state.config),
                          config=state.config, topic=state.topic, judge=state.judge, messages=messages)
    return {"scores": {agent: score.to_dict() for agent, score in outcome.scores.items()},
            "score_repaired": outcome.repaired}

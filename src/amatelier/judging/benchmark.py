"""Scoring a benchmark roundtable: the Judge's scores, kept in the digest and nowhere else.

A benchmark run is measured, never settled: no `scores` rows (they feed score history,
variance flags and the therapist), no ledger rows, no leaderboard. The Judge call itself is
the same as for a real roundtable, so the numbers mean the same thing.
"""

from __future__ import annotations

from typing import Any

from amatelier.judging.scoring import judge_score
from amatelier.state import RoundtableState


def score_only(state: RoundtableState, digest: dict[str, Any]) -> dict[str, Any]:
    """Digest fields for a benchmark run: `scores` {worker: axes+total+reason, or unscored}."""
    from amatelier.chat.messages import transcript
    from amatelier.llm_backend import backend_for_agent

    outcome = judge_score(state.conn, state.rt_id, state.workers, backend=backend_for_agent(state.judge, state.config),
                          config=state.config, topic=state.topic, judge=state.judge,
                          messages=transcript(state.conn, state.rt_id))
    return {"scores": {agent: score.to_dict() for agent, score in outcome.scores.items()},
            "score_repaired": outcome.repaired}

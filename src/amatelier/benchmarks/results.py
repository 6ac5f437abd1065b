"""What a finished benchmark roundtable scored, taken from its digest (pure functions).

Scores are put on one 0-1 scale so runs compare across cases and models: each axis of the
Judge's scale (0, 1, 2, 3; 10 marks a grand insight) maps to value/3 with 10 counting as
1.0, and a worker's overall score is the mean of its axes. The raw axes and penalties are
kept beside it, so the normalisation can always be checked or redone.
"""

from __future__ import annotations

from typing import Any

from amatelier.judging.scale import AXES, GRAND_INSIGHT

AXIS_TOP = 3
METHODOLOGY = (
    "Each benchmark roundtable is scored by the Judge on novelty, accuracy, impact and challenge "
    "(0-3, 10 for a grand insight). An axis maps to value/3 (10 counts as 1.0); a run's "
    "overall_score for an agent is the mean of its four normalised axes (0-1). Benchmark "
    "roundtables change no agent state. baseline = runs with the bundled seed personas, "
    "specialist = runs with the agent's current (evolved) personas; improvement = specialist "
    "mean - baseline mean, with a 95% percentile bootstrap interval on that difference."
)


def normalise_axis(value: Any) -> float | None:
    """One axis value on the 0-1 scale (None when it is not a number on the Judge's scale)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value == GRAND_INSIGHT:
        return 1.0
    if value < 0 or value > AXIS_TOP:
        return None
    return round(float(value) / AXIS_TOP, 6)


def agent_evaluation(entry: Any) -> dict[str, Any] | None:
    """A scored worker's overall score, per-axis evaluations and raw numbers; None if unscored."""
    if not isinstance(entry, dict) or "unscored" in entry:
        return None
    evaluations = {}
    for axis in AXES:
        value = normalise_axis(entry.get(axis))
        if value is None:
            return None
        evaluations[axis] = value
    penalties = entry.get("penalties")
    return {
        "overall_score": round(sum(evaluations.values()) / len(AXES), 6),
        "evaluations": evaluations,
        "raw": {axis: entry[axis] for axis in AXES} | {"total": entry.get("total")},
        "penalties": len(penalties) if isinstance(penalties, list) else 0,
    }


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def run_result(digest: dict[str, Any], *, duration_ms: int | None = None) -> dict[str, Any]:
    """The part of a digest a batch keeps: status, per-agent scores and models, usage, cost."""
    usage = digest.get("llm_usage") if isinstance(digest.get("llm_usage"), dict) else {}
    models = digest.get("worker_models") if isinstance(digest.get("worker_models"), dict) else {}
    scores = digest.get("scores") if isinstance(digest.get("scores"), dict) else {}
    workers = [w for w in digest.get("workers", []) if isinstance(w, str)]
    agents: dict[str, Any] = {}
    for agent in workers:
        model = (models.get(agent) or {}).get("model") if isinstance(models.get(agent), dict) else None
        evaluation = agent_evaluation(scores.get(agent))
        agents[agent] = {"model": model, "scored": evaluation is not None, **(evaluation or {})}
        if evaluation is None and isinstance(scores.get(agent), dict):
            agents[agent]["unscored"] = str(scores[agent].get("unscored", "no valid score"))
    cost = usage.get("cost_usd")
    return {
        "rt_id": digest.get("rt_id"),
        "status": digest.get("status"),
        "mode": digest.get("mode"),
        "rounds": digest.get("rounds"),
        "converged": digest.get("converged"),
        "agents": agents,
        "team_score": team_score(agents),
        "telemetry": {
            "duration_ms": duration_ms if duration_ms is not None else int(float(digest.get("duration_s") or 0) * 1000),
            "input_tokens": _int(usage.get("input_tokens")),
            "output_tokens": _int(usage.get("output_tokens")),
            "calls": _int(usage.get("calls")),
            "cost_usd": float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
        },
    }


def team_score(agents: dict[str, Any]) -> float | None:
    """Mean overall score of the scored workers of one run (None when nobody was scored)."""
    values = [a["overall_score"] for a in agents.values() if a.get("scored")]
    return round(sum(values) / len(values), 6) if values else None


def digest_problem(digest: Any) -> str | None:
    """Why a runner's output is not a finished benchmark roundtable, or None when it is."""
    if not isinstance(digest, dict):
        return "the runner printed no digest"
    if digest.get("status") != "closed":
        reason = digest.get("cut_reason") or digest.get("status") or "unknown"
        return f"roundtable {digest.get('rt_id')} did not finish ({reason})"
    if not isinstance(digest.get("scores"), dict):
        return f"roundtable {digest.get('rt_id')} was not scored"
    return None

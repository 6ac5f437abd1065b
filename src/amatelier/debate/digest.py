"""The digest: a structured JSON summary of one roundtable, and its human summary.

build_digest() is a pure function over the transcript, the roundtable row, the runner's
state and the llm_calls rows, so it is easy to test and cheap to rebuild.
"""

from __future__ import annotations

import calendar
import time
from collections import Counter
from typing import Any

from amatelier.debate.position_changes import final_positions as declared_positions
from amatelier.debate.positions import visible_text
from amatelier.debate.signals import is_pass, judge_signal_lines

CONTRIBUTION_KINDS = ("speech", "judge")
#: How much of an agent's last message stands in for a position it never declared.
FINAL_MESSAGE_CLIP = 300
#: The version of docs/schemas/digest.schema.json this digest follows (additive within 1.x).
DIGEST_SCHEMA_VERSION = "1.0"


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (pct in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(pct / 100.0 * len(ordered) + 0.4999))))
    return ordered[rank - 1]


def _iso_to_epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return None


#: llm_calls roles that belong to the debate itself (one per answered turn); the rest are the
#: steps after it (judge scoring, distillation, therapist sessions, steward lookups).
DEBATE_ROLES = ("research", "speak", "rebuttal", "gate", "floor")


def _cost(rows: list[dict[str, Any]]) -> float | None:
    """Sum of the priced calls' cost_usd (None when none is priced)."""
    cost = [float(r["cost_usd"]) for r in rows if r.get("cost_usd") is not None]
    return round(sum(cost), 6) if cost else None


def _usage_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over llm_calls rows. A `held` row is a call the breaker skipped: no request was
    made, so it counts in `held`, not in `calls` or `errors`."""
    held = sum(1 for r in rows if r.get("status") == "held")
    latencies = [float(r.get("latency_ms") or 0.0) for r in rows if r.get("status") == "ok"]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return {
        "cost_usd": _cost(rows),
        "unpriced_calls": sum(1 for r in rows if r.get("status") == "ok" and r.get("cost_usd") is None),
        "calls": len(rows) - held,
        "errors": sum(1 for r in rows if r.get("status") == "error"),  # a hedge's ignored twin is not one
        "held": held,
        "retries": sum(int(r.get("retries") or 0) for r in rows),
        "retry_wait_s": round(sum(float(r.get("retry_wait_s") or 0.0) for r in rows), 3),
        "input_tokens": sum(int(r.get("input_tokens") or 0) for r in rows),
        "output_tokens": sum(int(r.get("output_tokens") or 0) for r in rows),
        "cache_read_tokens": sum(int(r.get("cache_read_tokens") or 0) for r in rows),
        "cache_write_tokens": sum(int(r.get("cache_write_tokens") or 0) for r in rows),
        "uncached_input_tokens": sum(int(r.get("uncached_input_tokens") or 0) for r in rows),
        "latency_p50_ms": round(p50, 1) if p50 is not None else None,
        "latency_p95_ms": round(p95, 1) if p95 is not None else None,
    }


def _usage_with_breakdown(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary = _usage_totals(rows)
    by_agent: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_agent.setdefault(str(row.get("agent") or "?"), []).append(row)
    summary["by_agent"] = {agent: _usage_totals(mine) for agent, mine in sorted(by_agent.items())}
    return summary


def llm_usage(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over a roundtable's llm_calls rows: calls, errors, held (skipped by the breaker),
    retries and seconds waited on them, tokens, latency p50/p95, cost.

    The top level counts every call (debate turns and the steps after it: what the
    roundtable cost); `by_agent` and `by_role` split it; `debate` is the same summary for
    the debate turns alone.
    """
    summary = _usage_with_breakdown(calls)
    by_role: dict[str, list[dict[str, Any]]] = {}
    for row in calls:
        by_role.setdefault(str(row.get("role") or "?"), []).append(row)
    summary["by_role"] = {role: _usage_totals(mine) for role, mine in sorted(by_role.items())}
    summary["debate"] = _usage_with_breakdown([r for r in calls if r.get("role") in DEBATE_ROLES])
    return summary


def judge_interventions(messages: list[dict[str, Any]], judge: str) -> list[dict[str, Any]]:
    """Every GATE / CONVERGED / CONTINUE line the Judge posted, with its round."""
    found = []
    for message in messages:
        if message.get("agent") != judge or message.get("kind") not in CONTRIBUTION_KINDS:
            continue
        for signal, line in judge_signal_lines(message.get("content", "")):
            found.append({"round": message.get("round"), "signal": signal, "text": line})
    return found


def clip(text: str, limit: int = FINAL_MESSAGE_CLIP) -> str:
    """The text on one line, cut at a word near `limit` characters with an ellipsis."""
    flat = " ".join(str(text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0] if " " in flat[: limit - 1] else flat[: limit - 1]
    return cut.rstrip(" ,;:") + "…"


def final_positions(messages: list[dict[str, Any]], workers: list[str],
                    positions: list[dict[str, Any]] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """({agent: final position}, {agent: "position" | "message"}), in worker order.

    The final position is the stance of the agent's last declared POSITION line; an agent
    that never declared one gets its last message (PASS is none), without a stray POSITION
    line, on one line and clipped to FINAL_MESSAGE_CLIP characters.
    """
    declared = declared_positions(positions or [])
    last_message: dict[str, str] = {}
    for message in messages:
        if message.get("kind") == "speech" and message.get("agent") in workers \
                and not is_pass(message.get("content")):
            last_message[message["agent"]] = str(message.get("content") or "")
    found: dict[str, str] = {}
    source: dict[str, str] = {}
    for agent in workers:
        row = declared.get(agent)
        if row is not None:
            found[agent], source[agent] = " ".join(str(row["stance"]).split()), "position"
        elif agent in last_message:
            text = clip(visible_text(last_message[agent])) or clip(last_message[agent])
            if text:
                found[agent], source[agent] = text, "message"
    return found, source


def build_digest(*, rt: dict[str, Any], messages: list[dict[str, Any]], calls: list[dict[str, Any]],
                 workers: list[str], judge: str, mode: str, rounds: int, converged: bool,
                 convergence_reason: str | None, budget_start: dict[str, int],
                 budgets: dict[str, int], stability_scores: dict[int, dict[str, float]],
                 worker_models: dict[str, dict[str, str]], ended_at: str | None = None,
                 engine: dict[str, Any] | None = None,
                 positions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Assemble the digest dict (every field of workflow step 27 plus ids, times and usage).

    `positions` are the roundtable's stored position rows (debate.positions.load_positions);
    `final_positions` is built from them (see final_positions()).
    """
    contributions = Counter(  # a floor PASS declines to contribute, so it is not counted
        m["agent"] for m in messages
        if m.get("kind") in CONTRIBUTION_KINDS and not (m.get("kind") == "speech" and is_pass(m.get("content")))
    )
    finals, final_from = final_positions(messages, list(workers), positions)
    started_at = rt.get("created_at")
    ended = ended_at or rt.get("closed_at")
    start_s, end_s = _iso_to_epoch(started_at), _iso_to_epoch(ended)
    digest: dict[str, Any] = {
        "schema_version": DIGEST_SCHEMA_VERSION,
        "topic": rt.get("topic"),
        "rt_id": rt.get("id"),
        "status": rt.get("status"),
        "started_at": started_at,
        "ended_at": ended,
        "duration_s": (end_s - start_s) if start_s is not None and end_s is not None else None,
        "mode": mode,
        "offline": mode == "offline",
        "rounds": rounds,
        "total_messages": len(messages),
        "contributions": {a: contributions.get(a, 0) for a in [*workers, judge]},
        "final_positions": finals,
        "final_positions_from": final_from,
        "converged": converged,
        "convergence_reason": convergence_reason,
        "judge_interventions": judge_interventions(messages, judge),
        "budget_usage": {
            a: {"spent": budget_start.get(a, 0) - budgets.get(a, 0), "budget": budget_start.get(a, 0)}
            for a in workers
        },
        "stability_scores": {str(r): scores for r, scores in sorted(stability_scores.items())},
        "workers": list(workers),
        "judge": judge,
        "worker_models": worker_models,
        "llm_usage": llm_usage(calls),
    }
    if rt.get("status") == "cut" or rt.get("cut_reason"):
        digest["cut_reason"] = rt.get("cut_reason")
    if engine is not None:
        digest["engine"] = engine
    return digest


def format_digest_summary(digest: dict[str, Any], digest_path: str | None = None) -> str:
    """The human summary printed by `amatelier roundtable --summary` (see debate.summary):
    the decision first, debate statistics next, economy lines last."""
    from amatelier.debate.summary import format_summary

    return format_summary(digest, digest_path)

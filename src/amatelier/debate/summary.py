"""The human summary of a digest: the decision first, debate statistics next, economy last.

Printed by `amatelier roundtable --summary`, written to latest-result.md, and returned by
the MCP `roundtable_digest` tool. Blocks are separated by one blank line:

1. header (topic, id and mode, offline note, cut reason)
2. the decision: RECOMMENDATION, OUTCOME + CONFIDENCE, WHY, DISSENT, WHO MOVED, OPEN QUESTIONS
3. DEBATE: rounds, messages, convergence, judge, contributions, positions, budgets, LLM usage
4. ECONOMY: scores, sparks, skills (only when those steps ran)
"""

from __future__ import annotations

from typing import Any

from amatelier.debate.position_changes import who_moved_line

WHY_ARGUMENTS = 4


def _short(text: Any, width: int = 160) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def _cites(ids: Any) -> str:
    return " ".join(f"#{i}" for i in ids or [])


def decision_lines(decision: dict[str, Any] | None) -> list[str]:
    """The decision block; says so plainly when there is no record."""
    if not isinstance(decision, dict):
        return ["RECOMMENDATION: (no decision record was written for this roundtable)"]
    confidence = decision.get("confidence")
    conf_text = f"{confidence:.2f}" if isinstance(confidence, (int, float)) else "?"
    lines = [f"RECOMMENDATION: {_short(decision.get('recommendation'), 400)}",
             f"OUTCOME: {decision.get('outcome')} · CONFIDENCE: {conf_text}"]
    chair = (decision.get("chair") or {}).get("agent") or "the chair"
    how = f"written by {chair}" if decision.get("synthesized") else "built from the declared positions"
    note = f"({how}; stopped: {decision.get('stop_reason')}"
    lines.append(note + ("; PARTIAL: the debate was cut short)" if decision.get("partial") else ")"))
    arguments = decision.get("arguments") or []
    if arguments:
        lines.append("WHY:")
        ranked = sorted(arguments, key=lambda a: {"for": 0, "neutral": 1}.get(a.get("side"), 2))
        for arg in ranked[:WHY_ARGUMENTS]:
            lines.append(f"  - [{arg.get('side')}] {_short(arg.get('claim'), 200)} — {arg.get('by')} "
                         f"{_cites(arg.get('cites'))}".rstrip())
    dissent = decision.get("dissent") or []
    lines.append("DISSENT:" if dissent else "DISSENT: none")
    for item in dissent:
        lines.append(f"  - {item.get('agent')}: {_short(item.get('position'), 200)} {_cites(item.get('cites'))}"
                     .rstrip())
    changes = decision.get("position_changes") or []
    lines.append("WHO MOVED:" if changes else "WHO MOVED: nobody changed position")
    lines += [f"  - {who_moved_line(c)}" for c in changes]
    questions = decision.get("open_questions") or []
    lines.append("OPEN QUESTIONS:" if questions else "OPEN QUESTIONS: none")
    lines += [f"  - {_short(q, 200)}" for q in questions]
    steps = decision.get("next_steps") or []
    if steps:
        lines.append("NEXT STEPS:")
        lines += [f"  {n}. {_short(s, 200)}" for n, s in enumerate(steps, 1)]
    return lines


def _final_stances(digest: dict[str, Any]) -> dict[str, str]:
    timeline = (digest.get("positions") or {}).get("timeline") or {}
    result = {}
    for agent, rounds in timeline.items():
        if rounds:
            last = rounds[max(rounds, key=int)]
            result[agent] = last.get("stance", "")
    return result


def debate_lines(digest: dict[str, Any]) -> list[str]:
    """Rounds, messages, convergence, judge, contributions, positions, budgets, LLM usage."""
    lines = ["DEBATE", f"ROUNDS: {digest.get('rounds')}", f"MESSAGES: {digest.get('total_messages')}"]
    reason = digest.get("convergence_reason")
    lines.append(f"CONVERGED: {'yes' if digest.get('converged') else 'no'}" + (f" — {reason}" if reason else ""))
    interventions = digest.get("judge_interventions") or []
    lines.append(f"JUDGE INTERVENTIONS: {len(interventions)}")
    lines += [f"  r{i.get('round')}: {_short(i.get('text', ''))}" for i in interventions]
    contributions = digest.get("contributions") or {}
    lines.append("CONTRIBUTIONS: " + ", ".join(f"{a}: {n}" for a, n in contributions.items()))
    positions = digest.get("positions") or {}
    if positions:
        lines.append(f"POSITIONS: {positions.get('declared', 0)} declared, "
                     f"{digest.get('positions_missing', positions.get('missing', 0))} missing, "
                     f"{len(digest.get('position_changes') or [])} changes")
    stances = _final_stances(digest)
    lines.append("FINAL POSITIONS:")
    for agent, text in (digest.get("final_positions") or {}).items():
        lines.append(f"  [{agent}]: {_short(stances.get(agent) or text)}")
    lines.append("BUDGET USAGE:")
    for agent, usage in (digest.get("budget_usage") or {}).items():
        lines.append(f"  {agent}: spent {usage.get('spent')}/{usage.get('budget')}")
    usage = digest.get("llm_usage") or {}
    if usage:
        latency = ""
        if usage.get("latency_p50_ms") is not None:
            latency = f", latency p50 {usage['latency_p50_ms']:.0f} ms / p95 {usage['latency_p95_ms']:.0f} ms"
        cached = usage.get("cache_read_tokens", 0)
        debate = (usage.get("debate") or {}).get("calls")
        in_debate = f" ({debate} in the debate)" if debate is not None and debate != usage.get("calls") else ""
        lines.append(
            f"LLM USAGE: {usage.get('calls', 0)} calls{in_debate}, {usage.get('errors', 0)} errors, "
            + (f"{usage['retries']} retries ({usage.get('retry_wait_s', 0):g} s waited), "
               if usage.get("retries") else "")
            + (f"{usage['held']} skipped by the breaker, " if usage.get("held") else "")
            + f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens"
            + (f" ({cached} cached)" if cached else "") + latency)
        lines.append(cost_line(usage))
    return lines


def cost_line(usage: dict[str, Any]) -> str:
    """`COST: $0.0712 (elena $0.0201, ...)`; unknown for unpriced models, free offline."""
    total = usage.get("cost_usd")
    agents = {a: u.get("cost_usd") for a, u in (usage.get("by_agent") or {}).items()}
    unpriced = usage.get("unpriced_calls") or 0
    text = "COST: " + (f"${total:.4f}" if total is not None else "unknown")
    shown = [f"{a} ${c:.4f}" for a, c in agents.items() if c]
    if shown:
        text += " (" + ", ".join(shown) + ")"
    if unpriced:
        text += f"; {unpriced} call(s) to models without a price (see docs/reference/pricing.md)"
    return text


def economy_lines(digest: dict[str, Any]) -> list[str]:
    """Scores, sparks and skills, under their own ECONOMY heading (empty when none ran)."""
    lines = []
    scores = digest.get("scores")
    if isinstance(scores, dict) and scores:
        parts = [f"{a}: {s.get('total')}" if isinstance(s, dict) and "total" in s else f"{a}: unscored"
                 for a, s in scores.items()]
        lines.append("SCORES: " + ", ".join(parts))
    judging = digest.get("judging")
    if isinstance(judging, dict) and judging.get("seats"):
        parts = [f"{len(judging['seats'])} seat(s)"]
        if judging.get("alpha") is not None:
            parts.append(f"alpha {judging['alpha']:.2f}")
        if judging.get("flip_rate") is not None:
            parts.append(f"order-swap flip rate {100 * judging['flip_rate']:.0f}%")
        if judging.get("recusals"):
            parts.append(f"{len(judging['recusals'])} recusal(s)")
        lines.append("JUDGING: " + ", ".join(parts))
    sparks = digest.get("sparks_earned")
    if isinstance(sparks, dict) and sparks:
        lines.append("SPARKS: " + ", ".join(f"{a}: {n:+}" if isinstance(n, int) else f"{a}: {n}"
                                            for a, n in sparks.items()))
    if isinstance(digest.get("skills_distilled"), int):
        lines.append(f"SKILLS DISTILLED: {digest['skills_distilled']}")
    return ["ECONOMY", *lines] if lines else []


def format_summary(digest: dict[str, Any], digest_path: str | None = None) -> str:
    """The whole human summary (see the module docstring for its blocks)."""
    header = [f"TOPIC: {digest.get('topic')}", f"RT: {digest.get('rt_id')}  MODE: {digest.get('mode')}"]
    if digest.get("offline"):
        header.append("(offline backend — no model was called)")
    if digest.get("cut_reason"):
        header.append(f"CUT: {digest['cut_reason']}")
    if (digest.get("ceilings") or {}).get("stopped_on"):
        header.append(f"STOPPED: {digest.get('stop_reason')}")
    blocks = [header, decision_lines(digest.get("decision")), debate_lines(digest)]
    economy = economy_lines(digest)
    if economy:
        blocks.append(economy)
    tail = []
    if digest.get("hook_errors"):
        tail.append(f"SEAM ERRORS: {len(digest['hook_errors'])} (see digest hook_errors)")
    if digest.get("export"):
        tail.append(f"PAGE: {digest['export']}")
    if digest_path:
        tail.append(f"DIGEST: {digest_path}")
    if tail:
        blocks.append(tail)
    return "\n\n".join("\n".join(block) for block in blocks)

"""The deterministic decision record, built from the positions table alone.

Used when the chair cannot give a valid record (an error, a second Ctrl-C, an answer still
invalid after the repair call). It says only what the agents declared: the most-held final
stance is the recommendation, everyone else is dissent, each argument is an agent's final
position citing the message it was declared in. Marked `"synthesized": false`.

An agent that never wrote a POSITION line is represented by its last speech (first
sentence), so a debate with a model that ignores the line still gets a record.
"""

from __future__ import annotations

import re
from typing import Any

from amatelier.debate.decision_prompt import DecisionInputs
from amatelier.debate.position_changes import final_positions
from amatelier.debate.positions import same_stance, visible_text

_SIGNAL = re.compile(r"^\s*(CONTINUE|CONVERGED)\s*:\s*(.+)$", re.M)


def _first_sentence(text: str, limit: int = 240) -> str:
    flat = " ".join(visible_text(text).replace("[offline]", "").split())
    sentence = re.split(r"(?<=[.!?])\s", flat, maxsplit=1)[0] if flat else ""
    return sentence[:limit].rstrip() or flat[:limit]


def stated_positions(inputs: DecisionInputs) -> dict[str, dict[str, Any]]:
    """{agent: {stance, confidence, message_id}}: declared positions, else the last speech."""
    declared = final_positions(inputs.positions)
    result: dict[str, dict[str, Any]] = {}
    for agent in inputs.workers:
        row = declared.get(agent)
        if row is not None:
            result[agent] = {"stance": row["stance"], "confidence": row.get("confidence"),
                             "message_id": int(row["message_id"])}
            continue
        speeches = [m for m in inputs.messages if m.get("agent") == agent and m.get("kind") == "speech"
                    and not visible_text(m.get("content", "")).replace("[offline]", "").strip().upper()
                    .startswith("PASS")]
        if speeches:
            last = speeches[-1]
            stance = _first_sentence(last.get("content", ""))
            if stance:
                result[agent] = {"stance": stance, "confidence": None, "message_id": int(last["id"])}
    return result


def clusters(stated: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Agents grouped by the same stance, biggest group first (ties: first speaker first)."""
    groups: list[list[str]] = []
    for agent, entry in stated.items():
        for group in groups:
            if same_stance(stated[group[0]]["stance"], entry["stance"]):
                group.append(agent)
                break
        else:
            groups.append([agent])
    order = {a: i for i, a in enumerate(stated)}
    return sorted(groups, key=lambda g: (-len(g), order[g[0]]))


def _outcome(groups: list[list[str]], total: int) -> str:
    if not groups:
        return "no_decision"
    if len(groups) == 1 and total > 1:
        return "consensus"
    if len(groups[0]) * 2 > total:
        return "majority"
    return "split" if total > 1 else "majority"


def _judge_lines(inputs: DecisionInputs, signal: str) -> list[str]:
    found = []
    for message in inputs.messages:
        if message.get("agent") == inputs.judge:
            found += [m.group(2).replace("[offline]", "").strip()
                      for m in _SIGNAL.finditer(message.get("content", "")) if m.group(1) == signal]
    return found


def evidence_from_messages(inputs: DecisionInputs) -> list[dict[str, Any]]:
    """Steward results posted in the debate: what was asked, which file, which message."""
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None]] = set()
    for message in inputs.messages:
        if message.get("kind") != "steward":
            continue
        lines = str(message.get("content", "")).splitlines()
        request = re.search(r"request:\s*(.+)", lines[0]) if lines else None
        if not request or len(lines) < 2 or not lines[1].startswith("ANSWER"):
            continue  # a refused, missing or failed lookup is no evidence
        path = re.search(r"path:\s*([^·\n]+)", lines[1])
        key = (request.group(1).strip()[:300], path.group(1).strip() if path else None)
        if key not in seen:
            seen.add(key)
            found.append({"lookup": key[0], "path": key[1], "cites": [int(message["id"])]})
    return found


def fallback_record(inputs: DecisionInputs, change_list: list[dict[str, Any]], reason: str) -> dict[str, Any]:
    """A valid record from the positions (and speeches) alone; never calls a model."""
    stated = stated_positions(inputs)
    groups = clusters(stated)
    outcome = _outcome(groups, len(stated))
    leading = groups[0] if groups else []
    if leading:
        lead = stated[leading[0]]
        recommendation = lead["stance"]
        confidences = [stated[a]["confidence"] for a in leading if stated[a]["confidence"] is not None]
        mean = sum(confidences) / len(confidences) / 100.0 if confidences else 0.5
        confidence = round(mean * len(leading) / max(1, len(stated)) * (0.7 if inputs.partial else 1.0), 2)
    else:
        recommendation = "No recommendation: the debate ended before any agent stated a position."
        confidence = 0.0
    arguments = [{"claim": stated[a]["stance"], "side": "for" if a in leading else "against", "by": a,
                  "cites": [stated[a]["message_id"]]} for a in stated]
    dissent = [{"agent": a, "position": stated[a]["stance"], "cites": [stated[a]["message_id"]]}
               for a in stated if a not in leading]
    held = ", ".join(leading) if leading else "nobody"
    rationale = (f"Built from the agents' declared positions, not by the chair ({reason}). "
                 f"{len(leading)} of {len(stated)} agents hold the recommended position ({held}).")
    questions = _judge_lines(inputs, "CONTINUE")[-3:]
    return {
        "recommendation": recommendation,
        "outcome": outcome,
        "confidence": max(0.0, min(1.0, confidence)),
        "rationale": rationale,
        "arguments": arguments,
        "dissent": dissent,
        "open_questions": questions,
        "risks": [],
        "evidence": evidence_from_messages(inputs),
        "next_steps": [],
        "position_changes": change_list,
    }

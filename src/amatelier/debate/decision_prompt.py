"""What the chair reads: the debate as cited lines, the positions, and the record's shape.

The chair prompt is plain text with `KEY: value` markers and `=== SECTION ===` headings (the
same conventions as a turn prompt), so the offline backend can answer it by reading it.
Every transcript line starts with `[#id rN PHASE] speaker:`: those ids are the only ones a
record may cite. The whole prompt is bounded whatever the debate's length: the newest lines
are kept in full and older ones are listed with their first words.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from amatelier.debate.position_changes import who_moved_line
from amatelier.judging.prompts import strip_output_contracts

SECTION = "=== {} ==="
CITABLE_KINDS = ("speech", "judge", "steward", "human")  # human: a person's seat (`amatelier say`)
CAPS = {"briefing": 4000, "message": 1200, "transcript": 60000, "older_line": 160, "older": 20000}
MODEL_FIELDS = ("recommendation", "outcome", "confidence", "rationale", "arguments", "dissent",
                "open_questions", "risks", "evidence", "next_steps")

SHAPE = {
    "recommendation": "the decision in one or two sentences (or why there is none)",
    "outcome": "consensus | majority | split | no_decision",
    "confidence": "0.0-1.0",
    "rationale": "why, in two to four sentences",
    "arguments": [{"claim": "...", "side": "for | against | neutral", "by": "agent", "cites": [12]}],
    "dissent": [{"agent": "agent", "position": "...", "cites": [15]}],
    "open_questions": ["..."],
    "risks": ["..."],
    "evidence": [{"lookup": "what the Steward was asked", "path": "file path or null", "cites": [20]}],
    "next_steps": ["smallest safe step first", "..."],
}

TASK = (
    "You are the chair. The debate above is over{partial}. Write the decision record for the user "
    "as ONE JSON object and nothing else (no prose, no code fence), with exactly these fields:\n"
    "{shape}\n"
    "Rules: cite only message ids that appear in the transcript above (the number after '#'); every "
    "argument and every dissent cites at least one message. Give at least two arguments, credited to "
    "the agents who made them. Outcome: consensus when every agent's final position agrees, majority "
    "when most do, split when there is no majority, no_decision when the debate did not get far "
    "enough. Put live objections in dissent; never hide one. Confidence reflects the strength of the "
    "arguments and the agreement, lower when the debate was cut short."
)

# Added to the shape and the rules only when the roundtable was given precedents (issue 18).
PRECEDENT_SHAPE = [{"rt_id": "an id listed under PRECEDENTS", "stance": "agreed | overturned | unrelated",
                    "reason": "one sentence"}]
PRECEDENT_RULE = (
    " For every earlier decision listed under PRECEDENTS, say in `precedents` whether this decision "
    "agrees with it (agreed), reverses it (overturned) or is about something else (unrelated), with "
    "a one-sentence reason; use the rt ids exactly as listed."
)

REPAIR = (
    "Your previous answer was not a valid decision record. Problems:\n{problems}\n\n"
    "Your previous answer:\n{answer}\n\n"
    "Answer again with ONE corrected JSON object only, same fields, citing only message ids from "
    "the transcript."
)


# The chair's system prompt says who it is; the form of its answer lives in the task prompt only.
CHAIR_ROLE = ("When you chair a decision you are given one task at a time; the task says what to produce "
              "and in which form. Follow it exactly.")
# Output contracts an older (or user-edited) admin persona may carry: any sentence naming JSON,
# and a bullet fixing the confidence to words (the record's confidence is a number, 0-1).
_JSON_SENTENCE = re.compile(r"(?m)(?:^|(?<=[.!?]))[ \t]*[^.!?\n#][^.!?]*\bJSON\b[^.!?]*[.!?][ \t]*\n?")
_CONFIDENCE_WORDS = re.compile(r"(?im)^[ \t]*[-*][^\n]*\bconfidence\b[^\n]*\bhigh,?\s*medium,?\s*or\s*low\b[^\n]*\n?")


def chair_system_text(system: str) -> str:
    """The chair's system prompt without any output contract, ending with CHAIR_ROLE (pure).

    Drops what the Judge's prompts drop (strip_output_contracts), then any sentence naming
    JSON and a bullet that fixes the confidence to high/medium/low, so no system-prompt
    instruction can contradict the task prompt's contract.
    """
    text = strip_output_contracts(system)
    text = _CONFIDENCE_WORDS.sub("", text)
    text = _JSON_SENTENCE.sub("", text)
    return text.rstrip() + "\n\n" + CHAIR_ROLE + "\n"


@dataclass
class DecisionInputs:
    """Everything a decision record is built from (read from the database by the caller)."""

    rt_id: str
    topic: str
    messages: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    workers: list[str]
    judge: str = "judge"
    briefing: str = ""
    stop_reason: str = "converged"
    partial: bool = False
    steward_log: list[dict[str, Any]] = field(default_factory=list)
    #: Earlier decisions this roundtable was given at open: {rt_id, recommendation, date, topic}.
    precedents: list[dict[str, Any]] = field(default_factory=list)

    def message_ids(self) -> set[int]:
        """Ids of every message of the roundtable (what a citation may point at)."""
        return {int(m["id"]) for m in self.messages}

    def speakers(self) -> set[str]:
        """Who may be credited with an argument: the workers, the Judge, any person who spoke."""
        people = {str(m["agent"]) for m in self.messages if m.get("kind") == "human"}
        return {a.lower() for a in [*self.workers, self.judge, *people]}

    def citable(self) -> list[dict[str, Any]]:
        """The contributions the chair reads: speeches, the Judge, Steward results, people."""
        return [m for m in self.messages if m.get("kind") in CITABLE_KINDS]


def _flat(text: str) -> str:
    return " ".join(str(text or "").split())


def line_for(message: dict[str, Any], limit: int) -> str:
    """`[#id rN PHASE] agent: text` with the text flattened and capped."""
    where = [f"#{message['id']}"]
    if message.get("round") is not None:
        where.append(f"r{message['round']}")
    if message.get("phase"):
        where.append(str(message["phase"]))
    text = _flat(message.get("content", ""))
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return f"[{' '.join(where)}] {message['agent']}: {text}"


def transcript_lines(messages: list[dict[str, Any]], budget: int = CAPS["transcript"],
                     older_budget: int = CAPS["older"]) -> list[str]:
    """Newest lines in full (capped each), older ones shortened, the oldest left out past both budgets."""
    lines: list[str] = []
    used = older_used = 0
    for index, message in enumerate(reversed(messages)):
        full = line_for(message, CAPS["message"])
        if used + len(full) <= budget:
            line = full
            used += len(line) + 1
        else:
            line = line_for(message, CAPS["older_line"])
            older_used += len(line) + 1
            if older_used > older_budget:
                lines.append(f"(… {len(messages) - index} earlier messages not shown)")
                break
        lines.append(line)
    return list(reversed(lines))


def position_lines(rows: list[dict[str, Any]], limit: int = 200) -> list[str]:
    """One line per stored position: `[#id rN PHASE] agent: stance (confidence N, moved by X #id)`.

    The newest `limit` rows; older ones are counted, not listed (the prompt stays bounded).
    """
    lines = [f"(… {len(rows) - limit} earlier positions not shown)"] if len(rows) > limit else []
    for row in rows[-limit:]:
        head = f"[#{row['message_id']} r{row.get('round')} {row.get('phase') or ''}".rstrip() + "]"
        if row.get("missing"):
            lines.append(f"{head} {row['agent']}: (no POSITION line; previous position stands)")
            continue
        extra = []
        if row.get("confidence") is not None:
            extra.append(f"confidence {row['confidence']}")
        if row.get("moved_by"):
            ref = f" #{row['moved_by_message']}" if row.get("moved_by_message") else ""
            extra.append(f"moved by {row['moved_by']}{ref}")
        suffix = f" ({', '.join(extra)})" if extra else ""
        lines.append(f"{head} {row['agent']}: {_flat(row['stance'])}{suffix}")
    return lines


def precedent_lines(precedents: list[dict[str, Any]]) -> list[str]:
    """`- rt <id>, <date>: "<topic>" -> <recommendation>` per precedent (each capped)."""
    lines = []
    for p in precedents:
        line = (f"- rt {p.get('rt_id')}, {_flat(str(p.get('date') or ''))}: \"{_flat(str(p.get('topic') or ''))}\" -> "
                f"{_flat(str(p.get('recommendation') or '')) or '(no recommendation recorded)'}")
        lines.append(line if len(line) <= 600 else line[:599] + "…")
    return lines


def task_text(inputs: DecisionInputs) -> str:
    """The output contract (it lives here only, never in the chair's system prompt)."""
    shape = dict(SHAPE)
    rules = ""
    if inputs.precedents:
        shape["precedents"] = PRECEDENT_SHAPE
        rules = PRECEDENT_RULE
    return TASK.format(partial=" (it was cut short: " + inputs.stop_reason + ")" if inputs.partial else "",
                       shape=json.dumps(shape, indent=1)) + rules


def build_chair_prompt(inputs: DecisionInputs, change_list: list[dict[str, Any]]) -> str:
    """The chair's prompt: markers, briefing, transcript, positions, changes, precedents, task."""
    given = ([SECTION.format("PRECEDENTS"), "Earlier decisions of this team on related questions, given to the "
              "agents when the roundtable opened:", *precedent_lines(inputs.precedents)]
             if inputs.precedents else [])
    lines = [
        "AMATELIER DECISION",
        f"RT: {inputs.rt_id}",
        f"TOPIC: {_flat(inputs.topic)[:300]}",
        f"PARTICIPANTS: {', '.join(inputs.workers)}",
        f"STOP REASON: {inputs.stop_reason}",
        f"PARTIAL: {'yes' if inputs.partial else 'no'}",
        SECTION.format("BRIEFING"),
        _flat(inputs.briefing)[: CAPS["briefing"]] or "(none)",
        SECTION.format("TRANSCRIPT"),
        *(transcript_lines(inputs.citable()) or ["(nothing was said)"]),
        SECTION.format("POSITIONS"),
        *(position_lines(inputs.positions) or ["(no positions were declared)"]),
        SECTION.format("POSITION CHANGES"),
        *([f"{who_moved_line(c)} (see #{c['message_id']})" for c in change_list] or ["(none)"]),
        *given,
        SECTION.format("YOUR TASK"),
        task_text(inputs),
    ]
    return "\n".join(lines) + "\n"


def build_repair_prompt(prompt: str, answer: str, problems: list[str]) -> str:
    """The one repair call: the original prompt, then what was wrong with the answer."""
    listed = "\n".join(f"- {p}" for p in problems[:20])
    return prompt + "\n" + SECTION.format("REPAIR") + "\n" + REPAIR.format(
        problems=listed, answer=(answer or "")[:6000])


def extract_json(text: str) -> dict[str, Any] | None:
    """The first JSON object in a model's answer (code fences and chatter around it tolerated)."""
    body = (text or "").strip()
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", body, re.S)
    candidates = [fenced.group(1)] if fenced else []
    start = body.find("{")
    if start >= 0:
        candidates.append(body[start:])
    decoder = json.JSONDecoder()
    for candidate in candidates:
        try:
            value, _ = decoder.raw_decode(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None

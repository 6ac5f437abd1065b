"""The Judge's prompts: one persona (who it is, how it judges) and one prompt per task.

The persona never says what to output. Each task (the live gate, scoring, score repair)
carries its own output contract in the task prompt only, so no system-prompt instruction
can contradict a task: the gate is never told to "reply with one JSON object of scores",
and the scoring rubric appears exactly once in a scoring call.

Older workspaces hold a Judge persona seeded before this split, with the gate signals and
the score format written into it; `strip_output_contracts` drops those sections when the
system prompt is built, so an evolved or old persona cannot bring them back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from amatelier import paths

DEFAULT_TRANSCRIPT_CAP = 200_000

DEFAULT_PERSONA = ("You are the Judge of an amatelier roundtable: an impartial referee who takes no "
                   "side, earns nothing, and judges every contribution by the same standard.")

TASK_ROLE = ("You are given one task at a time: moderating the live debate at its gate, or scoring "
             "a finished roundtable. The task tells you what to produce and in which form; follow it exactly.")

RUBRIC = """\
SCORING RUBRIC (per worker, four axes, each exactly one of 0, 1, 2, 3, 10 - never 4 to 9)
- novelty: did they bring something nobody else had on the table?
- accuracy: were their claims correct, grounded and checkable?
- impact: did the discussion or the final position move because of them?
- challenge: did they test others' claims with real pressure, not token disagreement?
Calibration: 0 = nothing on this axis; 1 = a solid ordinary contribution (most scores are 1);
2 = clearly above average; 3 = exceptional and rare. A typical worker totals 4-6 across the
four axes. 10 is not "better than 3": it is a grand insight, a discontinuity that changed the
direction of the whole roundtable. Give a 10 only with grand_insight filled in: the exact quote
of the message and what the group believed before it and after it. A 10 without them counts as 3.
Penalties (list each with the offending message quoted word for word):
- redundancy: repeating a point already made without adding to it
- hallucination: an invented fact, number, file or citation
- off_directive: ignoring the briefing or the phase instructions
Score what was said, not how long it was or where the worker appears in the WORKERS list.
"""

SCORE_FORMAT = """\
Answer with ONE JSON object and nothing else, in exactly this shape:
{"scores": {"<worker>": {"novelty": 1, "accuracy": 1, "impact": 1, "challenge": 1,
  "reason": "one or two sentences",
  "penalties": [{"type": "redundancy|hallucination|off_directive", "quote": "exact words"}],
  "grand_insight": null}}}
Include every worker listed under WORKERS, each axis an integer from {0, 1, 2, 3, 10}. For a 10,
grand_insight is {"axis": "<axis>", "quote": "...", "before": "...", "after": "..."}.
"""

# The example is deliberately not valid JSON, not even in part (the `|`, the unquoted
# placeholders), so a model that quotes its instructions back can never decide the gate,
# or hand a later JSON reader an object, by accident.
GATE_FORMAT = """\
Answer with ONE JSON object and nothing else, in this shape:
{"verdict": "CONVERGED" | "CONTINUE", "reason": <one sentence>, "gates": [{"agent": <worker name>, "reason": <the specific contribution>}]}
verdict is CONVERGED when positions have settled and another round would only repeat, CONTINUE
when an open disagreement would change the outcome (the reason names it, so the next round aims
at it). gates lists awards for a genuine breakthrough this round only: rare, most rounds have
none, so the list is usually empty. Each award names one worker from the list above.
"""

# --------------------------------------------------------------------------- the persona

_CONTRACT = re.compile(
    r"(reply|answer|respond)\s+with\s+(one|a single|only)\b[^\n]*\bjson"
    r"|\{\s*\"scores\""
    r"|^[\s>*_`-]*`?(CONVERGED|CONTINUE|GATE)\s*:"
    r"|\bfirst line of your reply\b",
    re.IGNORECASE | re.MULTILINE,
)
_HEADING = re.compile(r"^#{2,6}\s", re.MULTILINE)


def strip_output_contracts(persona: str) -> str:
    """The persona without the sections that dictate an output form.

    A `##` section holding any output contract (a JSON answer format, CONVERGED:/CONTINUE:/
    GATE: line forms) is dropped whole, rubric included, because the task prompt carries
    them; outside sections only the offending paragraphs go.
    """
    text = (persona or "").replace("\r\n", "\n")
    starts = [m.start() for m in _HEADING.finditer(text)]
    blocks = [text[a:b] for a, b in zip([0, *starts], [*starts, len(text)], strict=True) if text[a:b]]
    kept: list[str] = []
    for block in blocks:
        if _HEADING.match(block):
            if not _CONTRACT.search(block):
                kept.append(block.strip())
            continue
        paragraphs = [p for p in re.split(r"\n\s*\n", block) if p.strip()]
        clean = [p.strip() for p in paragraphs if not _CONTRACT.search(p)]
        if clean:
            kept.append("\n\n".join(clean))
    return "\n\n".join(kept).strip()


def _read_first(candidates: Sequence[Any]) -> str:
    for candidate in candidates:
        try:
            text = candidate.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text:
            return text
    return ""


def judge_persona(judge: str = "judge") -> str:
    """The Judge's persona (user-data CLAUDE.md, else the bundled seed), contracts removed."""
    persona = _read_first([paths.user_agent_dir(judge) / "CLAUDE.md", paths.bundled_agent_dir(judge) / "CLAUDE.md"])
    return strip_output_contracts(persona) or DEFAULT_PERSONA


def judge_system(judge: str = "judge", *, extra: str = "") -> str:
    """The Judge's system prompt for every task: persona (+ identity), and the task role line.

    `extra` is appended (e.g. the agent's memory) after contracts are stripped from it too.
    """
    parts = [judge_persona(judge)]
    identity = _read_first([paths.user_agent_dir(judge) / "IDENTITY.md",
                            paths.bundled_agent_dir(judge) / "IDENTITY.md"])
    if identity:
        parts.append(strip_output_contracts(identity))
    if extra.strip():
        parts.append(strip_output_contracts(extra))
    parts.append(TASK_ROLE)
    return "\n\n".join(p for p in parts if p) + "\n"


# --------------------------------------------------------------------------- the gate task


def gate_instructions(*, round: int, max_rounds: int, agents: Sequence[str] | None = None) -> str:
    """Task text of the live gate turn: `KEY: value` markers, what to decide, the verdict format."""
    where = f"Round {round} of {max_rounds}"
    prose = (f"{where} · JUDGE GATE. You are the Judge; do not argue the topic. Decide whether the "
             "debate has converged or must continue, and whether anyone made a breakthrough this round.")
    if agents:
        prose += f" Workers: {', '.join(agents)}."
    if round >= max_rounds:
        prose += " This is the last round: the debate ends either way; say CONVERGED only if it settled."
    return f"MAX ROUNDS: {max_rounds}\n\n{prose}\n\n{GATE_FORMAT}"


# --------------------------------------------------------------------------- the scoring tasks


def format_transcript(messages: Sequence[Mapping[str, Any]], cap_chars: int = DEFAULT_TRANSCRIPT_CAP) -> str:
    """One block per message, `[#id R<round> <phase>] agent: text`; turn prompts are left out.

    Over the cap, the earliest non-briefing messages are dropped with a marker line.
    """
    blocks = []
    for message in messages:
        if message.get("kind") == "turn":
            continue
        round_no = message.get("round")
        tag = f"#{message.get('id')}"
        if round_no is not None:
            tag += f" R{round_no}"
        if message.get("phase"):
            tag += f" {message.get('phase')}"
        blocks.append((message.get("kind") == "briefing",
                       f"[{tag}] {message.get('agent')}: {str(message.get('content', '')).strip()}"))
    text = "\n\n".join(block for _, block in blocks)
    if len(text) <= cap_chars:
        return text
    head = [block for is_briefing, block in blocks if is_briefing]
    rest = [block for is_briefing, block in blocks if not is_briefing]
    budget = cap_chars - sum(len(b) + 2 for b in head)
    kept: list[str] = []
    for block in reversed(rest):
        if budget - (len(block) + 2) < 0:
            break
        kept.append(block)
        budget -= len(block) + 2
    omitted = len(rest) - len(kept)
    return "\n\n".join([*head, f"[... {omitted} earlier messages omitted for length ...]", *reversed(kept)])


def scoring_prompt(rt_id: str, topic: str, workers: Sequence[str], messages: Sequence[Mapping[str, Any]],
                   cap_chars: int = DEFAULT_TRANSCRIPT_CAP) -> str:
    """The scoring task: rubric and format once, workers in the order given, then the transcript."""
    return (
        "POST-ROUNDTABLE SCORING\n"
        f"RT: {rt_id}\n"
        f"TOPIC: {topic}\n"
        f"WORKERS: {', '.join(workers)}\n\n"
        f"{RUBRIC}\n{SCORE_FORMAT}\n"
        "TRANSCRIPT:\n"
        f"{format_transcript(messages, cap_chars)}\n"
        "END OF TRANSCRIPT\n\n"
        "Score every worker in WORKERS. Answer with the JSON object only."
    )


def repair_prompt(rt_id: str, topic: str, workers: Sequence[str], previous: str, problems: Sequence[str],
                  messages: Sequence[Mapping[str, Any]], cap_chars: int = DEFAULT_TRANSCRIPT_CAP) -> str:
    """The score-repair task: exactly what was wrong, the rubric and format once, the transcript."""
    listed = "\n".join(f"- {p}" for p in problems)
    return (
        "SCORE REPAIR\n"
        f"RT: {rt_id}\n"
        f"TOPIC: {topic}\n"
        f"WORKERS: {', '.join(workers)}\n\n"
        "Your scoring answer could not be used. Exactly what was wrong:\n"
        f"{listed}\n\n"
        "Answer again for the workers in WORKERS only.\n"
        f"{SCORE_FORMAT}\n{RUBRIC}\n"
        "YOUR PREVIOUS ANSWER:\n<<<\n"
        f"{previous.strip()[:8000]}\n>>>\n\n"
        "TRANSCRIPT:\n"
        f"{format_transcript(messages, cap_chars)}\n"
        "END OF TRANSCRIPT\n\n"
        "Answer with the corrected JSON object only."
    )

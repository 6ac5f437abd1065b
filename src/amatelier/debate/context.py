"""Prompt assembly for one agent turn: persona + memory + skills, briefing, transcript window.

The prompt is laid out as a stable prefix, so provider prompt caches can serve most of it:
persona (the system prompt), then the briefing, then the transcript in order, and only at
the END the material that changes every turn (round, phase, budget, task). A turn's prompt
therefore begins with the whole of the same agent's previous prompt minus its task, and
`layout_prompt` says where each stable part ends (cache points for Anthropic's breakpoints;
OpenAI-compatible servers cache the shared prefix by themselves).

Prompt size stays bounded however long a debate runs: fewer than `2 × recent_messages`
messages are given in full (each capped), older contributions only as a compact index
capped in characters. The window slides in coarse steps (a whole window), so the prefix stays the
same for many turns before the index grows.

The prompt is plain text with structured markers that a reader (and the offline backend)
can parse. Layout::

    AMATELIER TURN
    AGENT: elena
    PARTICIPANTS: elena, marcus, clare, simon
    TOPIC: split the monolith?
    You are elena, taking one turn in a structured roundtable debate. ...   <- orientation prose
    Reply with the text of your message only: ...             <- the reply rule, every turn
    === BRIEFING ===
    ...briefing markdown...
    === EARLIER DECISIONS OF THIS TEAM ON RELATED QUESTIONS ===   <- only when precedents were given
    - rt 0e1d44c4, 2026-11-28: "adopt Kafka?" -> Adopt Kafka for order events
                                                              <- cache point: end of briefing (and precedents)
    === EARLIER CONTRIBUTIONS (index) ===
    #12 r1 SPEAK marcus: first words of the message…
    === RECENT TRANSCRIPT ===
    [#30 r2 SPEAK] marcus: full text of the message           <- cache point after each message
    === YOUR TASK ===
    ROUND: 2                 <- per-turn markers, last
    PHASE: SPEAK
    MAX ROUNDS: 3            <- marker lines written by the runner (KEY: value)
    BUDGET LEFT: 2
    <blank line>
    prose instructions for this phase

Header markers come before the first `===` line; task markers are the `KEY: value` lines
at the top of the task section. Message lines in the transcript start with `[#id`, so a
marker can never be confused with something an agent said. Prose lines never start with an
upper-case `KEY:`, so they are never read as markers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.chat.messages import HUMAN, build_transcript_index
from amatelier.debate.limits import BRIEFING_CHARS, TOPIC_CHARS, briefing_excerpt
from amatelier.persona_files import persona_files
from amatelier.prompt_format import (  # noqa: F401 - parse_markers is part of context's API
    SECTION,
    parse_markers,
    transcript_speakers,
)

# Character caps for the parts of the system prompt and the prompt.
CAPS = {
    "claude_md": 12000,
    "identity_md": 4000,
    "prompt_template": 4000,
    "memory_md": 6000,
    "skills_total": 6000,
    "skill_each": 2000,
    "briefing": BRIEFING_CHARS,
    "precedents": 2000,
    "message": 1500,
    "instructions": 4000,
}
HIDDEN_KINDS = ("turn", "phase", "briefing", "precedents")
PRECEDENTS_SECTION = "EARLIER DECISIONS OF THIS TEAM ON RELATED QUESTIONS"
HUMAN_LABEL = "(a person at the table, not a debater; weigh what they say)"
ORIENTATION = ("You are {agent}, taking one turn in a structured roundtable debate. Below are the "
               "briefing, the debate so far (one message per line: [#id round PHASE] speaker: text; "
               "your own earlier messages appear under your name, and 'runner' lines are the "
               "moderator's notes) and, last, your task.")
REPLY_RULE = ("Reply with the text of your message only: no heading, no name label, no preamble. "
              "It is posted to the chat exactly as you write it.")


@dataclass
class TurnContext:
    """What one turn's prompt is built from (pure data; see build_prompt)."""

    agent: str
    round: int
    phase: str
    topic: str
    participants: list[str]
    briefing: str
    messages: list[dict[str, Any]]
    instructions: str = ""
    recent_messages: int = 24
    index_chars: int = 4000
    extra: dict[str, str] = field(default_factory=dict)
    slide_step: int | None = None          # window moves in steps of this many messages
    hide_round_speeches: bool = False      # independent opening: hide this round's SPEAK messages
    precedents: str = ""                  # earlier decisions of this team (own cap, after the briefing)


def cap(text: str, limit: int, note: str = "truncated") -> str:
    """Trim text to at most `limit` characters, saying so when it was cut."""
    text = text or ""
    if len(text) <= limit:
        return text
    tail = f"\n[… {note}]"
    return text[: max(0, limit - len(tail))].rstrip() + tail


def message_line(message: dict[str, Any], limit: int = CAPS["message"]) -> str:
    """One transcript line: `[#id rN PHASE] agent: text` (text capped)."""
    where = []
    if message.get("round") is not None:
        where.append(f"r{message['round']}")
    if message.get("phase"):
        where.append(str(message["phase"]))
    tag = " ".join([f"#{message['id']}", *where])
    speaker = message["agent"]
    if message.get("kind") == HUMAN:  # a person's `amatelier say`: heard by all, argued by none
        speaker = f"{speaker} {HUMAN_LABEL}"
    return f"[{tag}] {speaker}: {cap(str(message.get('content', '')), limit)}"


@dataclass(frozen=True)
class PromptLayout:
    """A turn prompt and where its stable parts end (character offsets into `text`)."""

    text: str
    briefing_end: int
    message_ends: dict[int, int]        # message id -> offset just after its transcript line
    transcript_end: int
    window_start: int                   # index (among visible messages) of the first one in full


def window_start(visible: int, recent: int, step: int | None = None) -> int:
    """First visible message shown in full: the window slides in coarse steps (pure).

    At least `recent` messages are shown in full (all of them while there are fewer) and
    fewer than `recent + step`: the start only moves in multiples of `step` (default
    `recent`), so every agent's cached prefix stays valid until the next move.
    """
    recent = max(1, recent)
    step = max(1, step if step is not None else recent)
    if visible <= recent:
        return 0
    return ((visible - recent) // step) * step


def layout_prompt(ctx: TurnContext) -> PromptLayout:
    """The user prompt for a turn, stable parts first (see the module doc), with cache points."""
    visible = [m for m in ctx.messages if m.get("kind") not in HIDDEN_KINDS]
    if ctx.hide_round_speeches:  # an independent opening sees no other opening of this round
        visible = [m for m in visible if not (m.get("round") == ctx.round and m.get("phase") == "SPEAK"
                                              and m.get("agent") != "runner")]
    start = window_start(len(visible), ctx.recent_messages, ctx.slide_step)
    older, recent = visible[:start], visible[start:]
    head = [
        "AMATELIER TURN",
        f"AGENT: {ctx.agent}",
        f"PARTICIPANTS: {', '.join(ctx.participants)}",
        f"TOPIC: {' '.join(ctx.topic.split())[:TOPIC_CHARS]}",
    ]
    head += [f"{k.upper()}: {v}" for k, v in ctx.extra.items()]
    head.append(ORIENTATION.format(agent=ctx.agent))
    head.append(REPLY_RULE)  # the same on every turn: part of the cached prefix, not of the task
    head += [SECTION.format("BRIEFING"), briefing_excerpt(ctx.briefing, CAPS["briefing"])]
    if ctx.precedents.strip():  # its own cap, so precedents never push the briefing out
        head += [SECTION.format(PRECEDENTS_SECTION),
                 cap(ctx.precedents.strip(), CAPS["precedents"], "precedents truncated")]
    text = "\n".join(head) + "\n"
    briefing_end = len(text)
    index = build_transcript_index(older, max_chars=ctx.index_chars) if older else ""
    if index:
        text += SECTION.format("EARLIER CONTRIBUTIONS (index)") + "\n" + index + "\n"
    text += SECTION.format("RECENT TRANSCRIPT") + "\n"
    ends: dict[int, int] = {}
    for message in recent:
        text += message_line(message) + "\n"
        ends[int(message["id"])] = len(text)
    if not recent:
        text += "(nothing said yet)\n"
    transcript_end = len(text)
    task = [SECTION.format("YOUR TASK"), f"ROUND: {ctx.round}", f"PHASE: {ctx.phase.upper()}",
            cap(ctx.instructions.strip(), CAPS["instructions"])]
    text += "\n".join(task) + "\n"
    return PromptLayout(text=text, briefing_end=briefing_end, message_ends=ends,
                        transcript_end=transcript_end, window_start=start)


def build_prompt(ctx: TurnContext) -> str:
    """The user prompt for a turn (see `layout_prompt` for where its stable parts end)."""
    return layout_prompt(ctx).text


def max_prompt_chars(ctx: TurnContext) -> int:
    """An upper bound on len(build_prompt(ctx)) that does not grow with the transcript."""
    header = 400 + TOPIC_CHARS + 400 + len(ORIENTATION) + len(REPLY_RULE) + 40 + sum(len(k) + len(v) + 4 for k, v in ctx.extra.items()) + 40 * len(ctx.participants)
    per_message = CAPS["message"] + 80
    return (header + CAPS["briefing"] + CAPS["precedents"] + len(PRECEDENTS_SECTION) + ctx.index_chars + 200
            + max_window(ctx) * per_message + CAPS["instructions"] + 200)


def max_window(ctx: TurnContext) -> int:
    """Most messages a prompt gives in full (see `window_start`)."""
    recent = max(1, ctx.recent_messages)
    return recent + max(1, ctx.slide_step if ctx.slide_step is not None else recent) - 1


# --------------------------------------------------------------------------- persona


def _read(path: Path, limit: int) -> str:
    try:
        return cap(path.read_text(encoding="utf-8").strip(), limit)
    except (OSError, UnicodeDecodeError):
        return ""


def agent_role(config: dict[str, Any], agent: str) -> str:
    """The agent's role from config (workers' role text, or judge/therapist/admin)."""
    team = config.get("team", {})
    if agent in team.get("workers", {}):
        return str(team["workers"][agent].get("role", "roundtable worker"))
    for key in ("judge", "therapist", "admin"):
        if team.get(key, {}).get("name") == agent:
            return key
    return "roundtable participant"


def load_skills(agent_dir: Path, limit_total: int = CAPS["skills_total"],
                limit_each: int = CAPS["skill_each"]) -> str:
    """The agent's owned skills (agents/<name>/skills/*.md), bounded in total."""
    skills_dir = agent_dir / "skills"
    if not skills_dir.is_dir():
        return ""
    parts: list[str] = []
    used = 0
    for path in sorted(skills_dir.glob("*.md")):
        text = _read(path, limit_each)
        if not text:
            continue
        if used + len(text) > limit_total:
            parts.append(f"(… more skills in {skills_dir} not shown)")
            break
        parts.append(text)
        used += len(text)
    return "\n\n".join(parts)


def build_system(agent: str, config: dict[str, Any], *, agent_dir: Path | None = None,
                 models: Sequence[str] = ()) -> str:
    """The agent's system prompt: persona, identity, rendered memory and owned skills.

    Seeds the agent's user-data dir on first use; when no persona seed exists at all, a
    short built-in line names the agent and its role so the turn can still run. `models`
    names the model the agent runs on (role token, resolved id): an installed agent with a
    persona variant for it speaks with that variant, else with its shared persona.
    """
    directory = agent_dir or paths.user_agent_dir(agent)
    if agent_dir is None and not (directory / "CLAUDE.md").exists():
        with contextlib.suppress(OSError):
            paths.seed_agent(agent)
    files = persona_files(directory, models)
    persona = _read(files.claude_md, CAPS["claude_md"])
    role = agent_role(config, agent)
    if not persona:
        persona = (f"You are {agent}, the {role} on an amatelier roundtable: a structured debate "
                   "between AI agents. Speak in your own voice, be concrete, and engage with what "
                   "the others said by name.")
    parts = [persona]
    identity = _read(files.identity_md, CAPS["identity_md"])
    if identity:
        parts += ["## Identity", identity]
    template = _read(files.prompt_template, CAPS["prompt_template"]) if files.prompt_template else ""
    if template:
        parts += ["## Notes for this model", template]
    memory = _read(directory / "MEMORY.md", CAPS["memory_md"])
    if memory:
        parts += ["## Memory", memory]
    skills = load_skills(directory)
    if skills:
        parts += ["## Skills you own", skills]
    return "\n\n".join(parts) + "\n"


def max_system_chars() -> int:
    """An upper bound on len(build_system(...))."""
    return (CAPS["claude_md"] + CAPS["identity_md"] + CAPS["prompt_template"] + CAPS["memory_md"]
            + CAPS["skills_total"] + 2 * CAPS["skill_each"] + 400)

"""The offline agents' POSITION lines: a stance on the topic that moves, deterministically.

Each agent starts on one of three stances (chosen by agent and topic). From round 2 on, the
first speaker of the round, and some others chosen by a stable hash, adopt the stance of a
peer whose latest message holds a different one, and credit it: `MOVED BY: clare #41`. So a
3-round offline run always exercises position changes and the who-moved-whom graph.

Self-contained (reads the transcript lines of the prompt itself) so the offline package
depends on nothing above it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_MESSAGE_START = re.compile(r"^\[#(\d+)(?: r(\d+))?(?: ([A-Z]+))?\] ([^:\n]+): ?(.*)$")
_POSITION = re.compile(r"^\s*POSITION:\s*(.+?)\s*(?:\|\s*CONFIDENCE:\s*(\d+))?\s*(?:\|\s*MOVED BY:.*)?$", re.M)
STANCES = (
    "yes, but incrementally: move {term} behind a reversible seam first",
    "not yet: fix the coupling around {term} before anything is split",
    "only where change rates already differ, starting with {term}",
)


@dataclass(frozen=True)
class SeenMessage:
    """A message of the prompt's recent transcript."""

    id: int
    round: int | None
    phase: str
    agent: str
    text: str


def _stable(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def recent_messages(prompt: str) -> list[SeenMessage]:
    """The recent transcript of a turn prompt as whole (multi-line) messages."""
    section = prompt.split("=== RECENT TRANSCRIPT ===", 1)
    if len(section) < 2:
        return []
    body = section[1].split("=== YOUR TASK ===", 1)[0]
    found: list[SeenMessage] = []
    current: list[str] = []
    head: re.Match[str] | None = None
    for line in body.splitlines():
        match = _MESSAGE_START.match(line)
        if match:
            if head is not None:
                found.append(_seen(head, current))
            head, current = match, [match.group(5)]
        elif head is not None:
            current.append(line)
    if head is not None:
        found.append(_seen(head, current))
    return found


def _seen(head: re.Match[str], lines: list[str]) -> SeenMessage:
    return SeenMessage(id=int(head.group(1)), round=int(head.group(2)) if head.group(2) else None,
                       phase=head.group(3) or "", agent=head.group(4).strip(), text="\n".join(lines).strip())


def stance_of(text: str) -> str | None:
    """The stance of a message's POSITION line, if it has one."""
    found = _POSITION.findall(text or "")
    return found[-1][0].strip() if found else None


def initial_stance(agent: str, term: str) -> str:
    """Where an agent starts: one of the three stances, by agent."""
    return STANCES[_stable("stance", agent) % len(STANCES)].format(term=term)


def position_line(agent: str, round_no: int, phase: str, term: str, prompt: str) -> tuple[str, str | None]:
    """(the POSITION line, the peer credited or None) for an offline turn."""
    seen = recent_messages(prompt)
    own = [m for m in seen if m.agent == agent and stance_of(m.text)]
    current = stance_of(own[-1].text) if own else initial_stance(agent, term)
    assert current is not None
    moved: SeenMessage | None = None
    if phase == "SPEAK" and round_no > 1:
        first_this_round = not any(m.phase == "SPEAK" and m.round == round_no for m in seen)
        if first_this_round or _stable("move", agent, round_no) % 3 == 0:
            peers = [m for m in seen if m.agent not in (agent, "runner", "judge")
                     and stance_of(m.text) and stance_of(m.text) != current]
            if peers:
                moved = peers[-1]
                current = stance_of(moved.text) or current
    confidence = 55 + _stable("confidence", agent, round_no, phase) % 36
    credit = f"{moved.agent} #{moved.id}" if moved else "none"
    return f"POSITION: {current} | CONFIDENCE: {confidence} | MOVED BY: {credit}", (
        f"{moved.agent} #{moved.id}" if moved else None)

"""Reading what agents said: PASS on the floor, the Judge's CONVERGED/CONTINUE/GATE lines,
and how much an agent's position moved between rounds (Jaccard stability). Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from amatelier.judging.verdict import parse_verdict, render_verdict

_PASS = re.compile(r"^[\W_]*pass\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9']+")
_SIGNAL = re.compile(r"^[\s>*_`#-]*(CONVERGED|CONTINUE)\s*[:—–-]\s*(.*)$", re.IGNORECASE)
_GATE = re.compile(r"^[\s>*_`#-]*GATE\s*:\s*([A-Za-z][\w-]*)\s*(?:[—–:-]+\s*(.*))?$", re.IGNORECASE)
PASS_MAX_CHARS = 120


def is_pass(text: str | None) -> bool:
    """A floor answer that declines to contribute: starts with PASS and says little else."""
    if text is None:
        return True
    stripped = text.strip()
    if not stripped:
        return True
    return bool(_PASS.match(stripped)) and len(stripped) <= PASS_MAX_CHARS


_FLOOR_INTENT = re.compile(r"^[\s*_`>-]*floor[\s*_`]*:[\s*_`]*(yes|no)\b", re.IGNORECASE)


FLOOR_INTENT_TAIL = 4  # the closing lines searched: FLOOR may sit next to the POSITION line


def floor_intent(text: str | None) -> bool | None:
    """`FLOOR: yes|no` on one of the last few lines of a reply: True, False, or None when absent.

    Only the closing lines count (where the POSITION line also sits), so an agent quoting the
    instruction mid-reply decides nothing; the last such line wins.
    """
    lines = [line for line in (text or "").splitlines() if line.strip()][-FLOOR_INTENT_TAIL:]
    for line in reversed(lines):
        match = _FLOOR_INTENT.match(line)
        if match:
            return match.group(1).lower() == "yes"
    return None


def words(text: str) -> set[str]:
    """Lower-cased word set of a text."""
    return set(_WORD.findall(text.lower()))


def jaccard(a: str, b: str) -> float:
    """|A ∩ B| / |A ∪ B| over lower-cased word sets; 1.0 when both are empty."""
    sa, sb = words(a), words(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


@dataclass
class GateLine:
    """One `GATE: <agent> — <reason>` line."""

    agent: str
    reason: str
    text: str


@dataclass
class GateAnswer:
    """The Judge's answer at the gate: its decision and any GATE awards it made."""

    decision: str | None = None          # "CONVERGED", "CONTINUE" or None (no signal)
    reason: str = ""
    decision_line: str = ""
    gates: list[GateLine] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        """True when the decision is CONVERGED."""
        return self.decision == "CONVERGED"


def parse_gate_lines(text: str) -> list[GateLine]:
    """Every GATE line of a text."""
    found = []
    for line in (text or "").splitlines():
        match = _GATE.match(line)
        if match:
            found.append(GateLine(agent=match.group(1).lower(), reason=(match.group(2) or "").strip(),
                                  text=line.strip()))
    return found


def parse_gate_answer(text: str | None) -> GateAnswer:
    """The gate's decision and awards: the JSON verdict (judging.verdict), else the CONVERGED:/GATE: lines.

    The first CONVERGED:/CONTINUE: line decides when the answer is in the line form.
    """
    verdict = parse_verdict(text)
    lines = render_verdict(verdict).splitlines()
    gates = [GateLine(agent=g.agent, reason=g.reason, text=line)
             for g, line in zip(verdict.gates, lines[1 if verdict.verdict else 0:], strict=False)]
    return GateAnswer(decision=verdict.verdict, reason=verdict.reason,
                      decision_line=lines[0] if verdict.verdict and lines else "", gates=gates)


def judge_signal_lines(text: str) -> list[tuple[str, str]]:
    """(signal, line) for every GATE/CONVERGED/CONTINUE line in a judge message, in order."""
    found = []
    for line in (text or "").splitlines():
        if _GATE.match(line):
            found.append(("GATE", line.strip()))
            continue
        match = _SIGNAL.match(line)
        if match:
            found.append((match.group(1).upper(), line.strip()))
    return found

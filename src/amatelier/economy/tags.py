"""Parse the economy's in-chat signals: the Judge's GATE/CONVERGED/CONTINUE lines and
workers' [[venture:<tier>: <claim>]] tags.

Models write these by hand, so the parsers are lenient about whitespace, markdown
emphasis and the dash or separator used, and strict about what counts (a known tier, a
non-empty claim, an agent name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GATE = re.compile(
    r"^\s*[*_>`\s]*GATE[*_`]*\s*:[*_`]*\s*@?(?P<agent>[A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9]+)*)[*_`]*"
    r"(?:\s*(?:[\u2014\u2013:]|-{1,2})\s*(?P<reason>.*?))?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_VERDICT = re.compile(r"^\s*[*_>`\s]*(?P<verdict>CONVERGED|CONTINUE)[*_`]*\s*:?[*_`]*\s*(?P<reason>.*?)\s*$",
                      re.IGNORECASE | re.MULTILINE)
_VENTURE = re.compile(
    r"\[\[\s*venture\s*[:|]\s*(?P<tier>scout|venture|moonshot)\s*(?:[:|\u2014\u2013]|-{1,2})\s*"
    r"(?P<claim>.*?)\s*\]\]",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class GateSignal:
    agent: str
    reason: str
    index: int          # position among the GATE lines of its message (0-based)


@dataclass(frozen=True)
class VentureTag:
    tier: str
    claim: str
    index: int          # position among the venture tags of its message (0-based)


def parse_gates(text: str) -> list[GateSignal]:
    """Every `GATE: <agent> — <reason>` line in a Judge message, in order (agent lower-cased)."""
    found = []
    for index, match in enumerate(_GATE.finditer(text or "")):
        found.append(GateSignal(agent=match.group("agent").lower(),
                                reason=(match.group("reason") or "").strip(), index=index))
    return found


def parse_verdict(text: str) -> tuple[str | None, str]:
    """('CONVERGED' | 'CONTINUE' | None, reason) from a Judge gate message; the first verdict wins."""
    match = _VERDICT.search(text or "")
    if not match:
        return None, ""
    return match.group("verdict").upper(), match.group("reason").strip()


def parse_ventures(text: str) -> list[VentureTag]:
    """Every well-formed venture tag in a worker message, in order; empty claims are ignored."""
    found = []
    for match in _VENTURE.finditer(text or ""):
        claim = " ".join(match.group("claim").split())
        if claim:
            found.append(VentureTag(tier=match.group("tier").lower(), claim=claim, index=len(found)))
    return found

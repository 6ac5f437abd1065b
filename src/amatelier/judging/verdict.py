"""The Judge's gate verdict, read from whatever a model answered. Pure functions.

The gate asks for one JSON object `{"verdict": "CONVERGED"|"CONTINUE", "reason": "...",
"gates": [{"agent": ..., "reason": ...}]}`. Models wrap it in code fences, put prose
around it, lower-case the verdict or name the key `decision`; all of that is accepted.
An answer in the older line form (`CONVERGED: ...`, `GATE: elena — ...`) is still read.
Anything else has no verdict, which the runner treats as CONTINUE.

`render_verdict` turns a verdict back into the readable lines the transcript shows (and
that the gate-bonus ledger reads), so the chat stays legible whichever form arrived.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("CONVERGED", "CONTINUE")
_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
_SIGNAL = re.compile(r"^[\s>*_`#-]*(CONVERGED|CONTINUE)\s*[:—–-]\s*(.*)$", re.IGNORECASE)
_GATE = re.compile(r"^[\s>*_`#-]*GATE\s*:\s*([A-Za-z][\w-]*)\s*(?:[—–:-]+\s*(.*))?$", re.IGNORECASE)
# "my verdict: continue" - but not the instructions quoted back ("CONVERGED" | ..., "is CONVERGED when")
_PROSE = re.compile(r"\b(?:verdict|decision)\b[\s:*_\"'-]{0,6}(?:is\s+)?\**\"?(converged|continue)\b"
                    r"(?!\"?\s*(?:\||when\b|if\b|or\b))", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z][\w-]{0,63}$")
MAX_REASON = 500
MAX_GATES = 10


@dataclass
class GateAward:
    """One award for a breakthrough this round."""

    agent: str
    reason: str = ""


@dataclass
class GateVerdict:
    """What the gate decided; `form` says how it was read (json, lines, prose or none)."""

    verdict: str | None = None
    reason: str = ""
    gates: list[GateAward] = field(default_factory=list)
    form: str = "none"

    @property
    def converged(self) -> bool:
        return self.verdict == "CONVERGED"

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reason": self.reason, "form": self.form,
                "gates": [{"agent": g.agent, "reason": g.reason} for g in self.gates]}


def _verdict_word(raw: Any) -> str | None:
    word = re.sub(r"[^a-z]", "", str(raw or "").lower())
    if word in ("converged", "converge", "convergence", "done", "stop"):
        return "CONVERGED"
    if word in ("continue", "continued", "continuing", "more"):
        return "CONTINUE"
    return None


def _clean(text: Any, limit: int = MAX_REASON) -> str:
    flat = " ".join(str(text or "").split())
    return flat[:limit]


def _gate_awards(raw: Any) -> list[GateAward]:
    """Awards from a `gates` value: a list of {agent, reason} objects or `agent — reason` strings."""
    if isinstance(raw, Mapping):   # {"elena": "reason", ...}
        raw = [{"agent": k, "reason": v} for k, v in raw.items()]
    if not isinstance(raw, list):
        return []
    awards: list[GateAward] = []
    for item in raw[:MAX_GATES]:
        if isinstance(item, Mapping):
            agent = str(item.get("agent") or item.get("name") or item.get("worker") or "").strip()
            reason = item.get("reason") or item.get("contribution") or ""
        elif isinstance(item, str):
            parts = re.split(r"\s*[—–:]+\s*|\s+-+\s+", item.strip(), maxsplit=1)
            agent = parts[0].strip()
            reason = parts[1] if len(parts) > 1 else ""
        else:
            continue
        if _NAME.match(agent):
            awards.append(GateAward(agent=agent.lower(), reason=_clean(reason)))
    return awards


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object found in fenced blocks first, then anywhere in the text."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    for candidate in [block.strip() for block in _FENCE.findall(text)] + [text]:
        for match in re.finditer(r"\{", candidate):
            try:
                obj, _ = decoder.raw_decode(candidate, match.start())
            except ValueError:
                continue
            if isinstance(obj, dict):
                found.append(obj)
    return found


def _from_json(text: str) -> GateVerdict | None:
    for obj in _json_objects(text):
        lowered = {str(k).strip().lower(): v for k, v in obj.items()}
        verdict = _verdict_word(lowered.get("verdict", lowered.get("decision")))
        if verdict is None:
            continue
        return GateVerdict(verdict=verdict, reason=_clean(lowered.get("reason")),
                           gates=_gate_awards(lowered.get("gates", lowered.get("awards"))), form="json")
    return None


def _from_lines(text: str) -> GateVerdict | None:
    verdict: GateVerdict | None = None
    awards: list[GateAward] = []
    for line in text.splitlines():
        gate = _GATE.match(line)
        if gate:
            awards.append(GateAward(agent=gate.group(1).lower(), reason=_clean(gate.group(2))))
            continue
        signal = _SIGNAL.match(line)
        if signal and verdict is None:
            verdict = GateVerdict(verdict=signal.group(1).upper(), reason=_clean(signal.group(2)), form="lines")
    if verdict is None:
        return GateVerdict(gates=awards[:MAX_GATES], form="lines") if awards else None
    verdict.gates = awards[:MAX_GATES]
    return verdict


def parse_verdict(text: str | None) -> GateVerdict:
    """The gate verdict in a model answer: JSON first, then the line form, then `verdict: X` prose."""
    text = (text or "").strip()
    if not text:
        return GateVerdict()
    parsed = _from_json(text)
    if parsed is not None:
        return parsed
    parsed = _from_lines(text)
    if parsed is not None and parsed.verdict is not None:
        return parsed
    prose = _PROSE.search(text)
    if prose:
        return GateVerdict(verdict=prose.group(1).upper(), reason=_clean(text, 200), form="prose",
                           gates=parsed.gates if parsed else [])
    return parsed or GateVerdict()


def render_verdict(verdict: GateVerdict) -> str:
    """The readable lines a verdict shows in the transcript: the decision line, then one GATE line per award."""
    lines = []
    if verdict.verdict:
        lines.append(f"{verdict.verdict}: {verdict.reason or 'no reason given'}")
    lines += [f"GATE: {award.agent} — {award.reason or 'a breakthrough this round'}" for award in verdict.gates]
    return "\n".join(lines)


def readable_answer(text: str) -> str:
    """A gate answer as the transcript shows it: a JSON verdict becomes its readable lines; other text stays."""
    verdict = parse_verdict(text)
    return render_verdict(verdict) if verdict.form == "json" else text

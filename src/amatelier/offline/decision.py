"""The offline chair: a valid decision record that cites real message ids of the debate.

Reads the chair prompt (see amatelier.debate.decision_prompt: `KEY: value` markers, then the
TRANSCRIPT and POSITIONS sections whose lines start with `[#id rN PHASE] speaker:`), groups
the agents' final declared positions, and answers with the JSON object the chair is asked
for. Only ids read from the prompt are cited, so the record always passes the citation check.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from amatelier.offline.request import OfflineRequest

_LINE = re.compile(r"^\[#(\d+)(?: r(\d+))?(?: ([A-Z]+))?\] ([^:\n]+): (.*)$")
_POSITION = re.compile(r"^(.*?)(?: \((?:confidence (\d+))?[^)]*\))?$")
_MARKER = re.compile(r"^([A-Z][A-Z ]{1,30}):\s?(.*)$")


@dataclass(frozen=True)
class Line:
    id: int
    round: int | None
    phase: str
    agent: str
    text: str


def _section(prompt: str, name: str) -> list[Line]:
    parts = prompt.split(f"=== {name} ===", 1)
    if len(parts) < 2:
        return []
    body = parts[1].split("\n===", 1)[0]
    found = []
    for raw in body.splitlines():
        match = _LINE.match(raw.strip())
        if match:
            found.append(Line(int(match.group(1)), int(match.group(2)) if match.group(2) else None,
                              match.group(3) or "", match.group(4).strip(), match.group(5).strip()))
    return found


def _markers(prompt: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in prompt.split("\n===", 1)[0].splitlines():
        match = _MARKER.match(line)
        if match:
            found.setdefault(match.group(1), match.group(2).strip())
    return found


def _claim(text: str, words: int = 24) -> str:
    body = re.sub(r"\[offline\]\s*", "", text).split(" POSITION:")[0].strip()
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", body) if len(s.split()) >= 4]
    stance = [s for s in sentences if re.search(r"\b[Oo]n [\w-]+, ", s) and '"' not in s]
    chosen = (stance or [max(sentences or [body], key=lambda s: len(s.split()))])[0]
    cut = chosen.split()
    return " ".join(cut[:words]).rstrip(".,;:") + ("…" if len(cut) > words else "")


def _final_positions(lines: list[Line], workers: list[str]) -> dict[str, tuple[str, int | None, int]]:
    """{agent: (stance, confidence, message id)} from the POSITIONS section."""
    final: dict[str, tuple[str, int | None, int]] = {}
    for line in lines:
        if line.text.startswith("(no POSITION line") or (workers and line.agent not in workers):
            continue
        match = _POSITION.match(line.text)
        stance = (match.group(1) if match else line.text).strip()
        confidence = int(match.group(2)) if match and match.group(2) else None
        final[line.agent] = (stance, confidence, line.id)
    return final


_PRECEDENT = re.compile(r'^- rt (?P<rt>[0-9A-Za-z_-]+), [^:]*: "(?P<topic>.*)" -> (?P<rec>.*)$')


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z0-9-]{3,}", text.lower())}


def _precedents(prompt: str, recommendation: str) -> list[dict[str, str]]:
    """The chair's stance on each listed precedent: agreed when the two recommendations share
    subject words, else unrelated (the offline chair never overturns; a test scripts that)."""
    parts = prompt.split("=== PRECEDENTS ===", 1)
    if len(parts) < 2:
        return []
    found = []
    for raw in parts[1].split("\n===", 1)[0].splitlines():
        match = _PRECEDENT.match(raw.strip())
        if not match:
            continue
        shared = sorted(_words(recommendation) & _words(match["rec"]))
        found.append({"rt_id": match["rt"], "stance": "agreed" if shared else "unrelated",
                      "reason": (f"[offline] both recommendations are about {', '.join(shared[:3])}" if shared
                                 else "[offline] the earlier decision is about something else")})
    return found


def build_record(prompt: str) -> dict[str, object]:
    """The chair's answer for a chair prompt (the model fields of the record)."""
    markers = _markers(prompt)
    workers = [w.strip() for w in markers.get("PARTICIPANTS", "").split(",") if w.strip()]
    partial = markers.get("PARTIAL", "no") == "yes"
    transcript = _section(prompt, "TRANSCRIPT")
    final = _final_positions(_section(prompt, "POSITIONS"), workers)
    groups: dict[str, list[str]] = {}
    for agent, (stance, _, _) in final.items():
        groups.setdefault(stance, []).append(agent)
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
    lead_stance, lead = ranked[0] if ranked else ("", [])
    total = len(final)
    if not final:
        outcome = "no_decision"
    elif len(ranked) == 1 and total > 1:
        outcome = "consensus"
    elif len(lead) * 2 > total:
        outcome = "majority"
    else:
        outcome = "split"
    confidences = [final[a][1] for a in lead if final[a][1] is not None]
    base = (sum(confidences) / len(confidences) / 100.0) if confidences else 0.5
    confidence = round(base * (len(lead) / total if total else 0.0) * (0.7 if partial else 1.0), 2)

    speeches = [line for line in transcript if line.agent in workers and line.phase in ("SPEAK", "REBUTTAL")
                and not line.text.replace("[offline]", "").strip().upper().startswith("PASS")]
    latest: dict[str, Line] = {}
    for line in speeches:  # each agent's latest speech, a SPEAK over a later REBUTTAL
        if line.phase == "SPEAK" or latest.get(line.agent) is None or latest[line.agent].phase != "SPEAK":
            latest[line.agent] = line
    arguments = [{"claim": _claim(line.text), "side": "for" if agent in lead else "against", "by": agent,
                  "cites": [line.id]} for agent, line in latest.items()]
    if len(arguments) < 2:  # a short (cut) debate: every speech is an argument
        arguments = [{"claim": _claim(line.text), "side": "for" if line.agent in lead else "neutral",
                      "by": line.agent, "cites": [line.id]} for line in speeches[:4]]
    dissent = [{"agent": agent, "position": stance, "cites": [msg_id]}
               for agent, (stance, _, msg_id) in final.items() if agent not in lead]
    questions = [re.sub(r"\[offline\]\s*", "", line.text.split("CONTINUE:", 1)[1].split(" GATE:")[0]).strip()
                 for line in transcript if "CONTINUE:" in line.text]
    if partial:
        questions.append(f"The debate stopped early ({markers.get('STOP REASON', 'cut')}); "
                         "what would the remaining rounds have settled?")
    evidence: list[dict[str, object]] = []
    seen: set[tuple[str, str | None]] = set()
    for line in transcript:  # Steward answers only: a refused or failed lookup is no evidence
        found = re.search(r"request:\s*(.+?)\s+(ANSWER|REFUSED|NOT FOUND|TIMEOUT|ERROR|DENIED)\b", line.text)
        if line.agent != "runner" or not line.text.startswith("[Research result") or not found \
                or found.group(2) != "ANSWER":
            continue
        path = re.search(r"path:\s*([^\s·]+)", line.text)
        key = (found.group(1).strip()[:200], path.group(1) if path else None)
        if key not in seen:
            seen.add(key)
            evidence.append({"lookup": key[0], "path": key[1], "cites": [line.id]})
    held = ", ".join(lead) if lead else "nobody"
    if lead_stance:
        recommendation = lead_stance[0].upper() + lead_stance[1:].rstrip(".") + "."
    else:
        recommendation = "No recommendation yet: no agent declared a position before the debate ended."
    record: dict[str, object] = {
        "recommendation": recommendation,
        "outcome": outcome,
        "confidence": max(0.0, min(1.0, confidence)),
        "rationale": (f"[offline] {len(lead)} of {total} agents end on this position ({held}); "
                      f"{len(arguments)} arguments were weighed and {len(dissent)} agents dissent."),
        "arguments": arguments,
        "dissent": dissent,
        "open_questions": questions[-3:],
        "risks": ["[offline] the cost of the change lands before its benefits are measurable"],
        "evidence": evidence,
        "next_steps": ["[offline] take the smallest reversible step first and measure it",
                       "[offline] revisit the dissent with the measurements in hand"],
    }
    precedents = _precedents(prompt, recommendation)
    if precedents:
        record["precedents"] = precedents
    return record


def respond(request: OfflineRequest) -> str:
    """Entry point for the offline backend (tasks "decision" and "decision-repair")."""
    prompt = request.prompt.split("\n=== REPAIR ===", 1)[0]
    return json.dumps(build_record(prompt), ensure_ascii=False)

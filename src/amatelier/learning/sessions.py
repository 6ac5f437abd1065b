"""Therapist session records: the sessions/<rt_id>.md files, case notes and the report.

Split from the interview (learning.therapist) so analytics can read session records
without importing the therapist.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import file_lock, read_json, write_json_atomic, write_text_atomic
from amatelier.learning import agent_memory
from amatelier.learning.outcome_blocks import strip_blocks

THERAPIST = "therapist"
DEFAULT_TURNS = 2
MAX_TURNS = 5
AXES = ("novelty", "accuracy", "impact", "challenge")
MAX_CASE_ITEMS = 20
RECORD_HEADING = "## Record"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
@dataclass
class SessionResult:
    """One agent's debrief: conversation, parsed outcomes, what was applied, status."""
    agent: str
    rt_id: str
    complete: bool = False
    turns_planned: int = DEFAULT_TURNS
    turns_done: int = 0
    conversation: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[str, Any] = field(default_factory=dict)
    applied: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    session_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

log = logging.getLogger(__name__)


@dataclass
class TherapistRun:
    """All sessions of one `run_therapist` call and the report it wrote."""
    rt_id: str
    sessions: list[SessionResult] = field(default_factory=list)
    report_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rt_id": self.rt_id, "report_path": self.report_path,
                "sessions": [s.to_dict() for s in self.sessions]}

def case_notes_path(agent: str) -> Path:
    """agents/therapist/case_notes/<agent>.json."""
    return paths.user_agent_dir(THERAPIST) / "case_notes" / f"{agent}.json"


def load_case_notes(agent: str) -> dict[str, Any]:
    """The therapist's notes on an agent, with every list present."""
    try:
        notes = read_json(case_notes_path(agent), {})
    except ValueError:
        notes = {}
    notes = notes if isinstance(notes, dict) else {}
    notes.setdefault("agent", agent)
    notes.setdefault("sessions_conducted", 0)
    for key in ("clinical_observations", "active_hypotheses", "intervention_history"):
        if not isinstance(notes.get(key), list):
            notes[key] = []
    return notes

# --------------------------------------------------------------------------- files


def _bullet(items: list[str]) -> list[str]:
    return [f"- {i}" for i in items] or ["- none"]


def session_markdown(result: SessionResult, brief: str) -> str:
    """sessions/<rt_id>.md: readable debrief plus a machine-readable record."""
    applied = result.applied
    status = "complete" if result.complete else f"incomplete ({result.error or 'stopped early'})"
    lines = [f"# Debrief — {result.agent} — roundtable {result.rt_id}", "",
             f"- Date: {agent_memory.now_iso()}",
             f"- Status: {status}",
             f"- Turns: {result.turns_done} of {result.turns_planned}", "",
             "## What the therapist saw", "", "```text", brief, "```", "",
             "## Conversation", ""]
    for item in result.conversation:
        who = "Therapist" if item["speaker"] == THERAPIST else result.agent.capitalize()
        lines += [f"**{who}** (turn {item['turn']}):", "", strip_blocks(item["text"]) or "(outcome block only)", ""]
    lines += ["## Outcomes", "", f"Summary: {applied.get('session_summary', '')}", "", "Behaviours:"]
    lines += _bullet([f"{b['action']} \"{b['behavior']}\" → {b.get('result')}" for b in applied.get("behaviors", [])])
    lines += ["", "Goals:"]
    lines += _bullet([f"{g['goal']} (within {g['horizon_rts']} roundtables)" for g in applied.get("goals", [])])
    lines += ["", f"Memory: {applied.get('lessons', 0)} lessons, {applied.get('beliefs', 0)} beliefs, "
              f"{applied.get('episodes', 0)} episodes"]
    request = applied.get("store_request")
    lines += ["", f"Store request: {request['item_id']} — {request.get('status')}" if request else "Store request: none"]
    relegation = applied.get("relegation")
    if relegation:
        lines += ["", f"Relegation: {relegation.get('choice') or 'no choice'} — {relegation.get('status')}"]
    if applied.get("requests_addressed"):
        lines += ["", "Private requests addressed: " + ", ".join(applied["requests_addressed"])]
    if applied.get("errors"):
        lines += ["", "Errors:"] + _bullet(applied["errors"])
    record = {"agent": result.agent, "rt_id": result.rt_id, "complete": result.complete,
              "turns_done": result.turns_done, "turns_planned": result.turns_planned,
              "error": result.error, "outcomes": result.outcomes, "applied": applied}
    lines += ["", RECORD_HEADING, "", "```json", json.dumps(record, indent=2, ensure_ascii=False), "```"]
    return "\n".join(lines) + "\n"


def read_session_record(path: Path) -> dict[str, Any] | None:
    """The machine-readable record at the end of a sessions/<rt_id>.md (None if absent)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return None
    head, sep, tail = text.rpartition(RECORD_HEADING)
    if not sep:
        return None
    match = re.search(r"```json\s*\n(.*?)```", tail, re.S)
    if not match:
        return None
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def update_case_notes(agent: str, result: SessionResult, data: dict[str, Any]) -> None:
    """Steps 12-13: only a complete session counts as conducted."""
    if not result.complete:
        return
    path = case_notes_path(agent)
    with file_lock(path):
        try:
            notes = read_json(path, {})
        except ValueError:
            keep = path.with_name(f"{path.name}.corrupt-{agent_memory.now_iso().replace(':', '')}")
            with contextlib.suppress(OSError):
                path.replace(keep)
            log.warning("case notes for %s were not valid JSON (kept as %s); starting new notes", agent, keep.name)
            notes = {}
        if not isinstance(notes, dict):
            notes = {}
        _add_to_case_notes(notes, agent, result, data)
        write_json_atomic(path, notes)


def _add_to_case_notes(notes: dict[str, Any], agent: str, result: SessionResult, data: dict[str, Any]) -> None:
    """One complete session in the case notes (steps 12-13), lists capped at MAX_CASE_ITEMS."""
    notes.setdefault("agent", agent)
    notes.setdefault("sessions_conducted", 0)
    for key in ("clinical_observations", "active_hypotheses", "intervention_history"):
        if not isinstance(notes.get(key), list):
            notes[key] = []
    notes["sessions_conducted"] = int(notes.get("sessions_conducted", 0)) + 1
    notes["last_session_rt"] = result.rt_id
    notes["clinical_observations"].append({"rt_id": result.rt_id, "at": agent_memory.now_iso(),
                                           "observation": result.applied.get("session_summary"),
                                           "score_total": score_total(data.get("scores"))})
    for goal in result.applied.get("goals", []):
        notes["active_hypotheses"].append(f"If {agent} works on \"{goal['goal']}\", its scores "
                                          f"should move within {goal['horizon_rts']} roundtables.")
    notes["intervention_history"].append({
        "rt_id": result.rt_id, "at": agent_memory.now_iso(),
        "behaviors": [f"{b['action']}: {b['behavior']}" for b in result.applied.get("behaviors", [])],
        "goals": [g["goal"] for g in result.applied.get("goals", [])],
        "store_request": result.applied.get("store_request"),
        "relegation": result.applied.get("relegation"),
        "requests_addressed": result.applied.get("requests_addressed", []),
    })
    notes["diary"] = agent_memory.diary_stats(agent)
    for key in ("clinical_observations", "active_hypotheses", "intervention_history"):
        notes[key] = notes[key][-MAX_CASE_ITEMS:]


def write_report(rt_id: str, digest: dict[str, Any], agents: list[str],
                 failed: dict[str, str] | None = None) -> Path:
    """Step 15: one report for the roundtable, built from every agent's session record.

    `failed` lists agents whose session broke before it could be recorded: the report
    says so rather than leaving them out.
    """
    lines = [f"# Therapist report — roundtable {rt_id}", "",
             f"Topic: {digest.get('topic') or '?'}", f"Written: {agent_memory.now_iso()}", ""]
    names = list(dict.fromkeys(agents + digest_workers(digest)))
    failed = failed or {}
    for agent in names:
        record = read_session_record(paths.user_agent_dir(agent) / "sessions" / f"{rt_id}.md")
        if agent in failed:
            lines += [f"## {agent}", "", f"- Session: failed ({failed[agent]})", ""]
            continue
        if record is None:
            continue
        applied = record.get("applied") or {}
        status = "complete" if record.get("complete") else f"incomplete ({record.get('error') or 'stopped early'})"
        lines += [f"## {agent}", "", f"- Session: {status}, {record.get('turns_done')} of "
                  f"{record.get('turns_planned')} turns",
                  f"- Summary: {applied.get('session_summary', '')}"]
        for b in applied.get("behaviors", []):
            lines.append(f"- Behaviour {b.get('action')}: {b.get('behavior')} ({b.get('result')})")
        for g in applied.get("goals", []):
            lines.append(f"- Goal: {g.get('goal')} (within {g.get('horizon_rts')} roundtables)")
        if applied.get("store_request"):
            req = applied["store_request"]
            lines.append(f"- Store request: {req.get('item_id')} — {req.get('status')}")
        if applied.get("relegation"):
            rel = applied["relegation"]
            lines.append(f"- Relegation: {rel.get('choice') or 'no choice'} — {rel.get('status')}")
        if applied.get("requests_addressed"):
            lines.append("- Private requests addressed: " + ", ".join(applied["requests_addressed"]))
        lines.append("")
    path = paths.user_digest_dir() / f"therapist-report-{rt_id}.md"
    write_text_atomic(path, "\n".join(lines).rstrip() + "\n")
    return path


class DigestError(ValueError):
    """The digest file is missing or malformed; the message names the path and the problem."""


# --------------------------------------------------------------------------- digest


def load_digest(path: Path | str) -> dict[str, Any]:
    """Read a digest JSON file or raise DigestError with a one-line explanation."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DigestError(f"digest not found: {path}") from None
    except OSError as exc:
        raise DigestError(f"cannot read digest {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise DigestError(f"digest {path} is not valid JSON{where}") from None
    check_digest(data, str(path))
    return data


def check_digest(data: Any, where: str = "digest") -> None:
    """Raise DigestError unless `data` is an object with an rt_id."""
    if not isinstance(data, dict):
        raise DigestError(f"digest {where} must be a JSON object")
    if not isinstance(data.get("rt_id"), str) or not data["rt_id"].strip():
        raise DigestError(f"digest {where} has no rt_id")
    if not SAFE_NAME.fullmatch(data["rt_id"]):
        # The rt_id names files (sessions/<rt_id>.md, therapist-report-<rt_id>.md).
        raise DigestError(f"digest {where} has an invalid rt_id {data['rt_id']!r} (letters, digits, - and _ only)")


def digest_workers(digest: dict[str, Any]) -> list[str]:
    """Workers of the roundtable (digest workers, else who contributed, judge excluded)."""
    workers = digest.get("workers")
    if isinstance(workers, list) and workers:
        return [str(w) for w in workers if isinstance(w, str)]
    names: list[str] = []
    for key in ("contributions", "scores", "final_positions"):
        value = digest.get(key)
        if isinstance(value, dict):
            names += [n for n in value if n not in names]
    return [n for n in names if n not in ("judge", "runner", THERAPIST)]


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def extract_agent_data(digest: dict[str, Any], agent: str) -> dict[str, Any]:
    """This agent's numbers from the digest; every field optional."""
    scores = _as_dict(digest.get("scores")).get(agent)
    stability = {}
    for round_key, per_agent in _as_dict(digest.get("stability_scores")).items():
        value = _as_dict(per_agent).get(agent)
        if isinstance(value, int | float):
            stability[str(round_key)] = round(float(value), 3)
    redirects = [str(i.get("text") or i.get("content") or i) if isinstance(i, dict) else str(i)
                 for i in digest.get("judge_interventions") or []]
    return {
        "topic": digest.get("topic"),
        "scores": scores if isinstance(scores, dict) else None,
        "contributions": _as_dict(digest.get("contributions")).get(agent),
        "budget": _as_dict(_as_dict(digest.get("budget_usage")).get(agent)) or None,
        "stability": stability,
        "final_position": _as_dict(digest.get("final_positions")).get(agent),
        "sparks_earned": _as_dict(digest.get("sparks_earned")).get(agent),
        "judge_signals": [r for r in redirects if re.search(rf"\b{re.escape(agent)}\b", r, re.I)],
        "converged": digest.get("converged"),
        "rounds": digest.get("rounds"),
    }


def score_total(scores: dict[str, Any] | None) -> float | None:
    """The total of a digest score entry (None when unscored or incomplete)."""
    if not isinstance(scores, dict) or "unscored" in scores:
        return None
    if isinstance(scores.get("total"), int | float):
        return float(scores["total"])
    values = [scores.get(a) for a in AXES]
    if all(isinstance(v, int | float) for v in values):
        return float(sum(values))
    return None

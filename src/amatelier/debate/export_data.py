"""Everything an export shows about one roundtable, read once from the database (read-only).

The renderers (export_html, export_md) and `--format json` all work from one ExportData, so
the three formats carry the same content. A roundtable from before decision records existed
(or one whose record was never stored) gets the deterministic record built from its
positions on the fly; nothing is written.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from amatelier.debate import position_changes
from amatelier.debate.decision_check import SCHEMA_VERSION, schema_problems
from amatelier.debate.decision_fallback import fallback_record
from amatelier.debate.decision_prompt import DecisionInputs
from amatelier.debate.decision_store import load_decision
from amatelier.debate.positions import load_positions

AXES = ("novelty", "accuracy", "impact", "challenge")
EXPORT_SCHEMA_VERSION = "1.0"  # of `--format json` (docs/schemas/export.schema.json)


@dataclass
class ExportData:
    """One roundtable, ready to render."""

    rt: dict[str, Any]
    messages: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    decision: dict[str, Any]
    decision_stored: bool
    workers: list[str]
    judge: str
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    usage: dict[str, dict[str, Any]] = field(default_factory=dict)
    reliability: dict[str, Any] | None = None   # judging.reliability.roundtable_reliability

    @property
    def rt_id(self) -> str:
        return str(self.rt.get("id"))

    def rounds(self) -> list[int]:
        """Rounds the debate reached (from the messages)."""
        found = sorted({int(m["round"]) for m in self.messages if m.get("round")})
        return found or [1]

    def timeline(self) -> dict[str, dict[str, dict[str, Any]]]:
        return position_changes.timeline(self.positions)

    def changes(self) -> list[dict[str, Any]]:
        return position_changes.changes(self.positions)

    def speaking_share(self) -> dict[str, int]:
        """Characters each agent spoke (speeches and the Judge), in worker order."""
        share = {a: 0 for a in [*self.workers, self.judge]}
        for message in self.messages:
            if message.get("kind") in ("speech", "judge") and message.get("agent") in share:
                share[message["agent"]] += len(str(message.get("content") or ""))
        return share

    def totals(self) -> dict[str, Any]:
        calls = sum(u["calls"] for u in self.usage.values())
        tokens_in = sum(u["input_tokens"] for u in self.usage.values())
        tokens_out = sum(u["output_tokens"] for u in self.usage.values())
        costs = [u["cost_usd"] for u in self.usage.values() if u["cost_usd"] is not None]
        return {"calls": calls, "input_tokens": tokens_in, "output_tokens": tokens_out,
                "cost_usd": round(sum(costs), 6) if costs else None}

    def as_json(self) -> dict[str, Any]:
        """The `--format json` document."""
        return {
            "schema_version": EXPORT_SCHEMA_VERSION,
            "rt_id": self.rt_id, "topic": self.rt.get("topic"), "status": self.rt.get("status"),
            "cut_reason": self.rt.get("cut_reason"), "created_at": self.rt.get("created_at"),
            "closed_at": self.rt.get("closed_at"), "workers": self.workers, "judge": self.judge,
            "decision": self.decision, "decision_stored": self.decision_stored,
            "position_timeline": self.timeline(), "position_changes": self.changes(),
            "scores": self.scores, "speaking_share": self.speaking_share(),
            "usage_by_agent": self.usage, "usage_total": self.totals(), "reliability": self.reliability,
            "messages": [{k: m.get(k) for k in ("id", "agent", "kind", "round", "phase", "content", "created_at")}
                         for m in self.messages],
        }


def _rows(conn: sqlite3.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    try:
        cursor = conn.execute(sql, args)
    except sqlite3.OperationalError:  # an older database without this table
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _usage(conn: sqlite3.Connection, rt_id: str) -> dict[str, dict[str, Any]]:
    usage: dict[str, dict[str, Any]] = {}
    for row in _rows(conn, "SELECT agent, input_tokens, output_tokens, cost_usd FROM llm_calls WHERE rt_id = ?",
                     rt_id):
        entry = usage.setdefault(str(row.get("agent") or "?"),
                                 {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": None})
        entry["calls"] += 1
        entry["input_tokens"] += int(row.get("input_tokens") or 0)
        entry["output_tokens"] += int(row.get("output_tokens") or 0)
        if row.get("cost_usd") is not None:
            entry["cost_usd"] = round((entry["cost_usd"] or 0.0) + float(row["cost_usd"]), 6)
    return dict(sorted(usage.items()))


def _scores(conn: sqlite3.Connection, rt_id: str) -> dict[str, dict[str, Any]]:
    found = {}
    for row in _rows(conn, "SELECT agent, novelty, accuracy, impact, challenge, total, unscored_reason"
                           " FROM scores WHERE rt_id = ? ORDER BY agent", rt_id):
        found[str(row["agent"])] = {k: row.get(k) for k in (*AXES, "total", "unscored_reason")}
    return found


def _reliability(conn: sqlite3.Connection, rt_id: str) -> dict[str, Any] | None:
    """The reliability figures of the roundtable (None on a database too old or damaged to read them)."""
    from amatelier.judging.reliability import roundtable_reliability

    try:
        return roundtable_reliability(conn, rt_id)
    except sqlite3.Error:
        return None


def load_export(conn: sqlite3.Connection, rt: dict[str, Any], *, judge: str = "judge") -> ExportData:
    """Read one roundtable (given its row) into ExportData."""
    rt_id = str(rt["id"])
    messages = _rows(conn, "SELECT id, agent, kind, round, phase, content, created_at FROM messages"
                           " WHERE rt_id = ? ORDER BY id", rt_id)
    try:
        positions = load_positions(conn, rt_id)
    except sqlite3.OperationalError:
        positions = []
    participants = rt.get("participants") or []
    if isinstance(participants, str):
        try:
            participants = json.loads(participants)
        except ValueError:
            participants = []
    workers = [a for a in participants if a != judge]
    decision = load_decision(conn, rt_id)
    damaged = decision is not None and bool(schema_problems(decision))  # a row changed since it was checked
    if damaged:
        decision = None
    stored = decision is not None
    if decision is None:
        stop = rt.get("cut_reason") or ("ended" if rt.get("status") != "open" else "still running")
        inputs = DecisionInputs(rt_id=rt_id, topic=str(rt.get("topic") or ""), messages=messages,
                                positions=positions, workers=workers, judge=judge, stop_reason=stop,
                                partial=rt.get("status") != "closed")
        change_list = position_changes.changes(positions)
        decision = {"schema_version": SCHEMA_VERSION, "rt_id": rt_id, "question": inputs.topic or "(no topic)",
                    **fallback_record(inputs, change_list, "the stored decision record is damaged" if damaged
                                       else "no decision record was stored"),
                    "partial": inputs.partial, "stop_reason": stop, "synthesized": False}
    return ExportData(rt=rt, messages=messages,
                      positions=positions, decision=decision, decision_stored=stored, workers=workers,
                      judge=judge, scores=_scores(conn, rt_id), usage=_usage(conn, rt_id),
                      reliability=_reliability(conn, rt_id))

"""Helpers for the economy tests: roundtable rows, runner state, ledger rows, a scripted model."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from amatelier.backends.base import Completion, LLMBackend, LLMCallError

WORKERS = ["elena", "marcus", "clare", "simon"]


def make_rt(conn: sqlite3.Connection, rt_id: str, workers: Sequence[str] = WORKERS, status: str = "open") -> str:
    conn.execute("INSERT INTO roundtables (id, topic, participants, status, created_at) VALUES (?, ?, ?, ?, ?)",
                 (rt_id, f"topic of {rt_id}", json.dumps(list(workers)), status, "2026-01-01T00:00:00Z"))
    return rt_id


def make_state(conn: sqlite3.Connection, rt_id: str, config: dict[str, Any],
               workers: Sequence[str] = WORKERS, budget: int = 3):
    from amatelier.state import RoundtableState

    return RoundtableState(rt_id=rt_id, topic=f"topic of {rt_id}", briefing_text="Decide the thing.",
                           briefing_path=Path("briefing.md"), launch_dir=Path("."), workers=list(workers),
                           judge="judge", config=config, conn=conn, mode="offline", max_rounds=1,
                           budget_per_agent=budget)


def ledger_rows(conn: sqlite3.Connection, **where: Any) -> list[dict[str, Any]]:
    sql = "SELECT * FROM spark_ledger"
    if where:
        sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
    return [dict(r) for r in conn.execute(sql + " ORDER BY id", tuple(where.values()))]


def grant(conn: sqlite3.Connection, agent: str, amount: int, ref: str | None = None) -> None:
    """Put sparks in an agent's account the way the economy does: a ledger row (a bench payment)."""
    from amatelier.economy import ledger

    ledger.append(conn, agent, amount, "bench", reason="test grant", ref=ref)


def valid_score_json(workers: Sequence[str], axes: tuple[int, int, int, int] = (1, 2, 1, 1), **extra: Any) -> str:
    entry = dict(zip(("novelty", "accuracy", "impact", "challenge"), axes, strict=True))
    entry.update({"reason": "solid", "penalties": [], "grand_insight": None}, **extra)
    return json.dumps({"scores": {w: dict(entry) for w in workers}})


class ScriptedBackend(LLMBackend):
    """Answers from a queue (a string, or an exception to raise) and remembers every call."""

    name = "scripted"

    def __init__(self, answers: Sequence[str | Exception]) -> None:
        super().__init__({})
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    @classmethod
    def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
        return True, "test"

    def complete(self, system: str, prompt: str, model: str = "sonnet", max_tokens: int = 1024,
                 timeout: float = 120.0, *, task: str | None = None, agent: str | None = None) -> Completion:
        self.calls.append({"system": system, "prompt": prompt, "model": model, "task": task, "agent": agent})
        if not self.answers:
            raise LLMCallError("no scripted answer left", kind="other")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Completion(text=answer, backend=self.name, model=model, input_tokens=1, output_tokens=1)

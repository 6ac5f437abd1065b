"""Hedged calls through call_and_record, with in-process backends whose timing the test controls.

No wall-clock assertions: each backend blocks on an Event the test (or the other backend)
sets, so which request answers first is decided by the test, not by the scheduler.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from amatelier.backends.base import Completion, LLMBackend, LLMCallError
from amatelier.chat import hedge
from amatelier.chat.llm_calls import call_and_record

HEDGE = {"llm": {"hedge": {"enabled": True, "percentile": 75, "min_samples": 20}}}


class Gated(LLMBackend):
    """Answers each call once its gate opens; `before` lets the test hold the first call only."""

    name = "gated"

    def __init__(self, config: dict[str, Any], *, hold_first: threading.Event | None = None,
                 fail: bool = False, second_releases_first: bool = False) -> None:
        super().__init__(config)
        self.hold_first = hold_first
        self.fail = fail
        self.second_releases_first = second_releases_first
        self.calls = 0
        self.lock = threading.Lock()
        self.answered = threading.Event()

    @classmethod
    def detect(cls, config=None):
        return True, "test"

    def resolve_model(self, model: str) -> str:
        return f"gated-{model}"

    def complete(self, system, prompt, model="sonnet", max_tokens=1024, timeout=120.0, *, task=None, agent=None):
        with self.lock:
            self.calls += 1
            number = self.calls
        if number == 1 and self.hold_first is not None:
            assert self.hold_first.wait(10), "the test never released the first call"
        if number == 2 and self.second_releases_first and self.hold_first is not None:
            self.hold_first.set()
        if self.fail:
            raise LLMCallError("gated: boom", kind="server", backend=self.name, model=model)
        self.answered.set()
        return Completion(text=f"answer {number}", backend=self.name, model=self.resolve_model(model),
                          input_tokens=100, output_tokens=10 * number, latency_ms=5.0 * number, cost_usd=0.001)


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    from amatelier.chat.db import open_db

    connection = open_db()
    yield connection
    connection.close()


def seed_latencies(conn: sqlite3.Connection, count: int, latency_ms: float = 1.0) -> None:
    for _ in range(count):
        conn.execute("INSERT INTO llm_calls (backend, model, latency_ms, status, created_at)"
                     " VALUES ('gated', 'gated-sonnet', ?, 'ok', '2026-01-01T00:00:00Z')", (latency_ms,))


def calls(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute("SELECT * FROM llm_calls WHERE rt_id = 'rt1' ORDER BY id")]


def test_settings_and_threshold(conn: sqlite3.Connection) -> None:
    assert hedge.hedge_settings({}) == hedge.HedgeSettings()
    assert hedge.hedge_settings({"llm": {"hedge": {"enabled": "yes", "percentile": 500}}}) == hedge.HedgeSettings()
    assert hedge.hedge_settings({"llm": {"hedge": {"enabled": True, "percentile": 90, "backend": "offline"}}}) == \
        hedge.HedgeSettings(enabled=True, percentile=90.0, backend="offline")
    settings = hedge.HedgeSettings(enabled=True)
    seed_latencies(conn, 19)
    assert hedge.latency_threshold(conn, "gated", "gated-sonnet", settings) is None   # below min_samples
    for ms in (10.0, 20.0, 30.0, 40.0):
        conn.execute("INSERT INTO llm_calls (backend, model, latency_ms, status, created_at)"
                     " VALUES ('gated', 'gated-sonnet', ?, 'ok', '2026-01-01T00:00:00Z')", (ms,))
    assert hedge.latency_threshold(conn, "gated", "gated-sonnet", settings) == 1.0
    assert hedge.nearest_rank([1.0, 2.0, 3.0, 4.0], 75) == 3.0 and hedge.nearest_rank([], 75) is None


def test_without_enough_history_nothing_is_hedged(conn: sqlite3.Connection) -> None:
    backend = Gated(HEDGE)
    result = call_and_record(conn, backend, rt_id="rt1", agent="elena", role="speak", system="s", prompt="p",
                             model="sonnet")
    assert result.text == "answer 1" and backend.calls == 1
    assert conn.execute("SELECT COUNT(*) FROM hedged_calls").fetchone()[0] == 0


def test_a_slow_primary_is_hedged_the_hedge_wins_and_both_calls_are_recorded(conn: sqlite3.Connection) -> None:
    seed_latencies(conn, 20)
    release = threading.Event()
    backend = Gated(HEDGE, hold_first=release)
    result = call_and_record(conn, backend, rt_id="rt1", agent="elena", role="speak", system="s", prompt="p" * 400,
                             model="sonnet")
    assert result.text == "answer 2" and backend.calls == 2
    rows = calls(conn)
    assert [(r["status"], r["role"]) for r in rows] == [("ok", "speak"), ("abandoned", "speak")]
    winner, loser = rows
    assert winner["output_tokens"] == 20 and loser["input_tokens"] > 0 and loser["output_tokens"] == 0
    (hedged,) = [dict(r) for r in conn.execute("SELECT * FROM hedged_calls")]
    assert hedged["winner"] == "hedge" and hedged["threshold_ms"] == 1.0
    assert (hedged["hedge_call_id"], hedged["primary_call_id"]) == (winner["id"], loser["id"])
    assert hedged["saved_ms"] is None

    backend.answered.clear()
    release.set()                                   # the ignored primary now finishes
    assert backend.answered.wait(10)
    # Its usage replaces the estimate and the saved latency is filled in, by the finishing
    # thread on its own connection: poll until both are written (bounded, not timed).
    done = threading.Event()
    for _ in range(1000):
        tokens = conn.execute("SELECT output_tokens FROM llm_calls WHERE id = ?", (loser["id"],)).fetchone()[0]
        saved = conn.execute("SELECT saved_ms FROM hedged_calls").fetchone()[0]
        if tokens == 10 and saved is not None:
            done.set()
            break
        done.wait(0.01)
    assert done.is_set() and saved >= 0


def test_the_hedge_can_go_to_a_fallback_backend(conn: sqlite3.Connection) -> None:
    seed_latencies(conn, 20)
    release = threading.Event()
    primary = Gated({"llm": {"hedge": {**HEDGE["llm"]["hedge"], "backend": "offline"}}}, hold_first=release)
    result = call_and_record(conn, primary, rt_id="rt1", agent="elena", role="speak", system="s", prompt="p",
                             model="sonnet")
    release.set()
    assert result.backend == "offline" and result.model == "offline-sonnet"
    hedged = dict(conn.execute("SELECT * FROM hedged_calls").fetchone())
    assert (hedged["backend"], hedged["hedge_backend"], hedged["winner"]) == ("gated", "offline", "hedge")


def test_when_both_requests_fail_both_failures_are_recorded(conn: sqlite3.Connection) -> None:
    seed_latencies(conn, 20)
    release = threading.Event()
    backend = Gated(HEDGE, hold_first=release, fail=True, second_releases_first=True)
    with pytest.raises(LLMCallError):
        call_and_record(conn, backend, rt_id="rt1", agent="elena", role="speak", system="s", prompt="p",
                        model="sonnet")
    assert backend.calls == 2
    assert [r["status"] for r in calls(conn)] == ["error", "error"]
    assert conn.execute("SELECT winner FROM hedged_calls").fetchone()[0] == "none"


def test_a_dated_answer_id_counts_as_the_model_asked_but_a_sibling_model_does_not(conn: sqlite3.Connection) -> None:
    settings = hedge.HedgeSettings(enabled=True, min_samples=3)
    for model, ms in (("gpt-4o-2024-08-06", 100.0), ("gpt-4o-2024-08-06", 100.0), ("gpt-4o-mini", 9.0),
                      ("gpt-4o-mini", 9.0), ("gpt-4o-mini", 9.0), ("gpt-4o", 300.0)):
        conn.execute("INSERT INTO llm_calls (backend, model, latency_ms, status, created_at)"
                     " VALUES ('openai-compat', ?, ?, 'ok', '2026-01-01T00:00:00Z')", (model, ms))
    assert hedge.latency_threshold(conn, "openai-compat", "gpt-4o", settings) == 300.0
    assert hedge.latency_threshold(conn, "openai-compat", "gpt-4o-mini", settings) == 9.0
    assert hedge.latency_threshold(conn, "openai-compat", "gpt-4o[", settings) is None

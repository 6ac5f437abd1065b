"""The circuit breaker: a retry-after beyond the cap fails at once and holds backend+model;
repeated 429/5xx trip the same hold; held calls are skipped without a request; retries are counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.retry_script import POLICY, run_script

from amatelier.backends.base import Completion, LLMBackend, LLMCallError
from amatelier.backends.retry import Failure, RetryPolicy
from amatelier.backends.tally import tally_call
from amatelier.chat import llm_holds
from amatelier.chat.db import open_db
from amatelier.chat.llm_calls import call_and_record


def _drive(outcomes: list, policy: RetryPolicy = POLICY):
    with tally_call() as tally:
        result, calls, sleeps = run_script(outcomes, policy)
    return result, calls, sleeps, tally


def test_a_retry_after_beyond_the_cap_fails_at_once_with_a_hold() -> None:
    result, calls, sleeps, tally = _drive([Failure("rate_limit", "slow down", 429, retry_after_s=3600.0), "unused"])
    assert isinstance(result, LLMCallError) and result.kind == "rate_limit"
    assert (calls, sleeps, tally.retries) == (1, [], 0)
    assert result.hold_s == 3600.0 and "beyond the 30 s retry cap" in str(result)


def test_a_retry_within_the_cap_is_counted_with_its_wait() -> None:
    result, calls, sleeps, tally = _drive([Failure("rate_limit", "slow", 429, retry_after_s=2.0),
                                           Failure("server", "busy", 503), "ok"])
    assert result == "ok" and calls == 3
    assert tally.retries == 2 and tally.wait_s == pytest.approx(sum(sleeps)) and sleeps == [2.0, 0.5]


def test_a_4xx_never_holds() -> None:
    result, *_ = _drive([Failure("bad_request", "no", 400, retry_after_s=3600.0)])
    assert result.hold_s is None


def test_hold_decision_is_pure() -> None:
    assert llm_holds.hold_after_failure(hold_s=3600, kind="rate_limit", recent_failures=0, threshold=2,
                                        cooldown_s=60, now=100.0)[0] == 3700.0
    assert llm_holds.hold_after_failure(hold_s=None, kind="server", recent_failures=1, threshold=2,
                                        cooldown_s=60, now=100.0) is None
    assert llm_holds.hold_after_failure(hold_s=None, kind="server", recent_failures=2, threshold=2,
                                        cooldown_s=60, now=100.0)[0] == 160.0
    assert llm_holds.hold_after_failure(hold_s=None, kind="auth", recent_failures=9, threshold=2,
                                        cooldown_s=60, now=100.0) is None


class ScriptedBackend(LLMBackend):
    """A backend whose calls fail or succeed from a script, counting real calls."""

    name = "scripted"

    def __init__(self, script: list, config: dict | None = None) -> None:
        super().__init__(config or {})
        self.script = list(script)
        self.calls = 0

    @classmethod
    def detect(cls, config=None):
        return True, "test"

    def complete(self, system, prompt, model="sonnet", max_tokens=1024, timeout=120.0, *, task=None, agent=None):
        self.calls += 1
        outcome = self.script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return Completion(text=outcome, backend=self.name, model=model)


@pytest.fixture
def conn(tmp_path: Path):
    connection = open_db(tmp_path / "rt.db")
    yield connection
    connection.close()


def _call(conn, backend, agent="clare"):
    return call_and_record(conn, backend, rt_id="rt1", agent=agent, role="speak", system="s", prompt="p",
                           model="haiku")


def test_a_long_retry_after_holds_the_model_and_later_calls_skip_the_provider(conn) -> None:
    backend = ScriptedBackend([LLMCallError("429", kind="rate_limit", status=429, backend="scripted",
                                            model="haiku", hold_s=3600.0), "never sent"])
    with pytest.raises(LLMCallError, match="held until"):
        _call(conn, backend)
    for _ in range(3):
        with pytest.raises(LLMCallError, match="cooling down until") as caught:
            _call(conn, backend)
        assert caught.value.kind == "held"
    assert backend.calls == 1
    rows = [dict(r) for r in conn.execute("SELECT status, error_kind FROM llm_calls ORDER BY id")]
    assert rows == [{"status": "error", "error_kind": "rate_limit"}] + [{"status": "held", "error_kind": "held"}] * 3
    [event] = llm_holds.events(conn, "rt1")
    assert event["event"] == "breaker" and event["agent"] == "clare" and event["model"] == "haiku"
    # another roundtable, another model and another agent are not held
    assert llm_holds.active(conn, "rt2", "clare", "scripted", "haiku") is None
    assert llm_holds.active(conn, "rt1", "clare", "scripted", "sonnet") is None
    assert llm_holds.active(conn, "rt1", "elena", "scripted", "haiku") is None
    assert llm_holds.active(conn, "rt1", "clare", "scripted", "haiku") is not None


def test_repeated_5xx_trip_the_breaker(conn) -> None:
    failure = LLMCallError("500", kind="server", status=500, backend="scripted", model="haiku")
    backend = ScriptedBackend([failure, failure, "never sent"],
                              {"llm": {"retry": {"breaker_failures": 2, "breaker_cooldown_s": 60}}})
    with pytest.raises(LLMCallError) as first:
        _call(conn, backend)
    assert "held until" not in str(first.value)
    with pytest.raises(LLMCallError, match="held until"):
        _call(conn, backend)
    with pytest.raises(LLMCallError, match="cooling down"):
        _call(conn, backend)
    assert backend.calls == 2


def test_retries_are_recorded_on_the_call_row(conn) -> None:
    class Retrying(ScriptedBackend):
        def complete(self, *args, **kwargs):
            from amatelier.backends.tally import note_retry

            note_retry(1.5)
            note_retry(0.25)
            return super().complete(*args, **kwargs)

    _call(conn, Retrying(["fine"]))
    row = conn.execute("SELECT status, retries, retry_wait_s FROM llm_calls").fetchone()
    assert tuple(row) == ("ok", 2, 1.75)

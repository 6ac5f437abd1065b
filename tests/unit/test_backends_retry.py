"""The retry policy: which failures are retried, how long we wait, and what the error says."""

from __future__ import annotations

import email.utils

import pytest
from tests.helpers.retry_script import POLICY, run_script

from amatelier.backends.base import LLMCallError
from amatelier.backends.retry import (
    Failure,
    RetryPolicy,
    backoff_delay,
    call_with_retry,
    classify_status,
    error_message,
    is_retryable,
    parse_retry_after,
    parse_should_retry,
    redact,
)


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, "bad_request", False),
        (401, "auth", False),
        (403, "auth", False),
        (404, "bad_request", False),
        (413, "bad_request", False),
        (422, "bad_request", False),
        (408, "timeout", True),
        (409, "server", True),
        (429, "rate_limit", True),
        (500, "server", True),
        (502, "server", True),
        (503, "server", True),
        (529, "server", True),
    ],
)
def test_status_classification_and_retryability(status: int, kind: str, retryable: bool) -> None:
    assert classify_status(status) == kind
    assert is_retryable(Failure(kind, "x", status=status)) is retryable


def test_transport_failures_are_retryable() -> None:
    assert is_retryable(Failure("timeout", "slow"))
    assert is_retryable(Failure("connection", "refused"))
    assert not is_retryable(Failure("other", "weird"))


def test_server_may_veto_or_request_a_retry_but_never_for_auth() -> None:
    assert not is_retryable(Failure("server", "x", status=529, should_retry=False))
    assert is_retryable(Failure("other", "x", should_retry=True))
    assert not is_retryable(Failure("auth", "x", status=401, should_retry=True))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "2"}, 2.0),
        ({"Retry-After": "0.25"}, 0.25),
        ({"retry-after-ms": "300"}, 0.3),
        ({"retry-after-ms": "300", "retry-after": "9"}, 0.3),  # ms is more precise and wins
        ({"retry-after-ms": "junk", "retry-after": "4"}, 4.0),
        ({"retry-after": "-3"}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 12, usegmt=True)
    assert parse_retry_after({"retry-after": header}, now=now) == pytest.approx(12.0, abs=1.0)
    past = email.utils.formatdate(now - 100, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0


def test_parse_should_retry() -> None:
    assert parse_should_retry({"X-Should-Retry": "false"}) is False
    assert parse_should_retry({"x-should-retry": "true"}) is True
    assert parse_should_retry({"x-should-retry": "maybe"}) is None
    assert parse_should_retry(None) is None


def test_retry_after_is_honoured_but_capped() -> None:
    assert backoff_delay(1, POLICY, retry_after_s=1.5) == 1.5
    assert backoff_delay(1, POLICY, retry_after_s=120.0) == 30.0
    tight = RetryPolicy(max_retry_after_s=0.05)
    assert backoff_delay(3, tight, retry_after_s=600.0) == 0.05
    assert backoff_delay(1, POLICY, retry_after_s=0.0) == 0.0


def test_exponential_backoff_with_equal_jitter() -> None:
    low = [backoff_delay(n, POLICY, rng=lambda: 0.0) for n in range(1, 7)]
    high = [backoff_delay(n, POLICY, rng=lambda: 1.0) for n in range(1, 7)]
    # ceilings 0.5, 1, 2, 4, 8, 8 (capped): jitter spans the upper half of each
    assert low == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert high == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    middle = backoff_delay(3, POLICY, rng=lambda: 0.5)
    assert low[2] < middle < high[2]


def test_policy_from_config_reads_llm_retry_and_clamps() -> None:
    config = {"llm": {"retry": {"max_attempts": 0, "base_delay_s": 0.01, "max_delay_s": 0.1,
                                "max_retry_after_s": 2}}}
    policy = RetryPolicy.from_config(config)
    assert policy == RetryPolicy(max_attempts=1, base_delay_s=0.01, max_delay_s=0.1, max_retry_after_s=2.0)
    assert RetryPolicy.from_config({}) == RetryPolicy()


def test_call_with_retry_retries_transient_then_succeeds() -> None:
    result, calls, sleeps = run_script([Failure("rate_limit", "slow down", 429, retry_after_s=0.2),
                                  Failure("server", "overloaded", 529), "done"])
    assert result == "done"
    assert calls == 3
    assert sleeps == [0.2, 0.5]  # retry-after, then backoff for attempt 2 (ceiling 1.0, jitter 0)


def test_call_with_retry_never_retries_auth() -> None:
    result, calls, sleeps = run_script([Failure("auth", "invalid x-api-key", 401), "unused"])
    assert isinstance(result, LLMCallError)
    assert (result.kind, result.status, calls, sleeps) == ("auth", 401, 1, [])
    assert str(result) == "fake (model m-1): HTTP 401 authentication failed: invalid x-api-key"


def test_call_with_retry_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.1, max_delay_s=1.0)
    result, calls, sleeps = run_script([Failure("server", "boom", 500)] * 3, policy)
    assert isinstance(result, LLMCallError)
    assert calls == 3 and len(sleeps) == 2
    assert result.kind == "server"
    assert "after 3 attempts" in str(result) and "HTTP 500" in str(result)


def test_call_with_retry_lets_unknown_exceptions_through() -> None:
    def attempt():
        raise KeyError("bug")

    with pytest.raises(KeyError):
        call_with_retry(attempt, lambda exc: None, POLICY, backend="b", model="m", sleep=lambda s: None)


def test_error_message_is_one_line_and_redacts_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-42")
    failure = Failure("auth", "Incorrect API key provided:\n sk-secret-value-42.\n", status=401)
    message = error_message("openai-compat", "gpt-4o", failure)
    assert "\n" not in message
    assert "sk-secret-value-42" not in message
    assert message.startswith("openai-compat (model gpt-4o): HTTP 401 authentication failed:")
    assert redact("token abcd1234 here", extra_secrets=["abcd1234"]) == "token *** here"

"""Drive backends.retry.call_with_retry over a script of outcomes, recording calls and sleeps."""

from __future__ import annotations

from typing import Any

from amatelier.backends.base import LLMCallError
from amatelier.backends.retry import Failure, RetryPolicy, call_with_retry

POLICY = RetryPolicy(max_attempts=4, base_delay_s=0.5, max_delay_s=8.0, max_retry_after_s=30.0)


class ScriptedFailure(Exception):
    """What an SDK would raise for one scripted Failure."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


def run_script(outcomes: list[Any], policy: RetryPolicy = POLICY) -> tuple[Any, int, list[float]]:
    """(the result or the LLMCallError, attempts made, sleeps asked for) for scripted outcomes."""
    calls: list[int] = []
    sleeps: list[float] = []

    def attempt() -> Any:
        calls.append(1)
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, Failure):
            raise ScriptedFailure(outcome)
        return outcome

    def translate(exc: BaseException) -> Failure | None:
        return exc.failure if isinstance(exc, ScriptedFailure) else None

    try:
        result = call_with_retry(attempt, translate, policy, backend="fake", model="m-1",
                                 sleep=sleeps.append, rng=lambda: 0.0)
    except LLMCallError as exc:
        result = exc
    return result, len(calls), sleeps

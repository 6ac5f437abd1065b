"""Our own retry loop for provider calls: one policy for every SDK.

Why not the SDKs' retries: the anthropic SDK sleeps whatever `retry-after` a server
sends (120 s and more), openai gives up entirely when it is large, google-genai does not
retry at all. So every backend sets the SDK's retries to zero and calls
`call_with_retry`, which retries only transient failures (429, 5xx, 529 overloaded,
timeouts, connection errors), honours `retry-after`/`retry-after-ms` up to
`llm.retry.max_retry_after_s` (a longer one fails the call at once, with `hold_s` set so the
caller holds that backend+model), and otherwise backs off exponentially with jitter. Every
retry and its wait are counted in the current call tally (amatelier.backends.tally).
Auth and bad-request failures (400/401/403/404) are never retried.

The policy math is pure; `sleep` and `rng` are injectable so tests never wait.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from amatelier.backends.base import LLMCallError
from amatelier.backends.tally import note_retry

T = TypeVar("T")

RETRYABLE_KINDS = frozenset({"rate_limit", "server", "timeout", "connection"})

#: environment variables whose values must never appear in an error message
SECRET_ENVS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY",
               "OPENROUTER_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts and how long to wait between them (config `llm.retry`)."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_retry_after_s: float = 30.0
    breaker_failures: int = 2        # calls failed for good with 429/5xx that trip the breaker ...
    breaker_window_s: float = 600.0  # ... within this many seconds (about a round)
    breaker_cooldown_s: float = 120.0  # how long a tripped backend+model is then held

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> RetryPolicy:
        section = ((config or {}).get("llm") or {}).get("retry") or {}
        default = cls()
        return cls(
            max_attempts=max(1, int(section.get("max_attempts", default.max_attempts))),
            base_delay_s=max(0.0, float(section.get("base_delay_s", default.base_delay_s))),
            max_delay_s=max(0.0, float(section.get("max_delay_s", default.max_delay_s))),
            max_retry_after_s=max(0.0, float(section.get("max_retry_after_s",
                                                         default.max_retry_after_s))),
            breaker_failures=max(1, int(section.get("breaker_failures", default.breaker_failures))),
            breaker_window_s=max(0.0, float(section.get("breaker_window_s", default.breaker_window_s))),
            breaker_cooldown_s=max(0.0, float(section.get("breaker_cooldown_s",
                                                          default.breaker_cooldown_s))),
        )


@dataclass
class Failure:
    """What went wrong with one attempt, translated from an SDK's exception."""

    kind: str
    detail: str
    status: int | None = None
    retry_after_s: float | None = None
    should_retry: bool | None = None  # the server's x-should-retry, when it sent one


# --------------------------------------------------------------------------- pure logic


def classify_status(status: int | None) -> str:
    """Map an HTTP status to an LLMCallError kind."""
    if status is None:
        return "other"
    if status in (401, 403, 407):
        return "auth"
    if status == 408:
        return "timeout"
    if status == 429:
        return "rate_limit"
    if status >= 500:  # includes 529 overloaded
        return "server"
    if status == 409:  # lock / conflict: transient on Anthropic's side
        return "server"
    return "bad_request"


def is_retryable(failure: Failure) -> bool:
    """Transient failures are retried unless the server said otherwise; 4xx never are."""
    if failure.kind in ("auth", "bad_request"):
        return False
    if failure.should_retry is not None:
        return failure.should_retry
    return failure.kind in RETRYABLE_KINDS


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds a server asked us to wait: `retry-after-ms`, else `retry-after` (seconds or HTTP date)."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def parse_should_retry(headers: Mapping[str, str] | None) -> bool | None:
    """The `x-should-retry` header some providers send, as a bool, else None."""
    if not headers:
        return None
    for key, value in headers.items():
        if str(key).lower() == "x-should-retry":
            text = str(value).strip().lower()
            if text == "true":
                return True
            if text == "false":
                return False
    return None


def waits_too_long(failure: Failure, policy: RetryPolicy) -> bool:
    """A retry-after beyond the cap: the call fails at once rather than sleeping on a cut-down wait."""
    return failure.retry_after_s is not None and failure.retry_after_s > policy.max_retry_after_s


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after_s: float | None = None,
                  rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    A server's retry-after wins but never beyond `max_retry_after_s` (call_with_retry
    does not retry at all when it is beyond; see `waits_too_long`). Otherwise
    exponential backoff (base * 2^(attempt-1), capped at max_delay_s) with "equal jitter":
    half fixed, half random, so concurrent workers spread out but never retry instantly.
    """
    if retry_after_s is not None and retry_after_s >= 0:
        return min(retry_after_s, policy.max_retry_after_s)
    exponent = max(0, attempt - 1)
    ceiling = min(policy.max_delay_s, policy.base_delay_s * (2 ** exponent))
    jitter = min(1.0, max(0.0, rng()))
    return ceiling / 2.0 + jitter * ceiling / 2.0


def retry_delays(failures: Iterable[Failure], policy: RetryPolicy,
                 rng: Callable[[], float] = random.random) -> list[float]:
    """The waits a sequence of failed attempts would cause (for tests and docs)."""
    return [backoff_delay(i, policy, f.retry_after_s, rng) for i, f in enumerate(failures, start=1)]


def redact(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """Remove any API key value found in the environment (or given) from a message."""
    secrets = [os.environ.get(name, "") for name in SECRET_ENVS]
    secrets += list(extra_secrets)
    for secret in sorted({s.strip() for s in secrets if s and len(s.strip()) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace so an error reads as one line, and keep it short."""
    flat = re.sub(r"\s+", " ", text or "").strip()
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


_KIND_WORDS = {
    "auth": "authentication failed",
    "bad_request": "request rejected",
    "rate_limit": "rate limited",
    "server": "server error",
    "timeout": "timed out",
    "connection": "could not connect",
    "cli": "CLI failed",
    "other": "call failed",
}


def error_message(backend: str, model: str, failure: Failure, attempts: int = 1,
                  secrets: Iterable[str] = ()) -> str:
    """One line naming backend, model, HTTP status and what happened (never a key)."""
    status = f"HTTP {failure.status} " if failure.status else ""
    head = f"{backend} (model {model}): {status}{_KIND_WORDS.get(failure.kind, failure.kind)}"
    detail = one_line(redact(failure.detail, secrets))
    tail = f" after {attempts} attempts" if attempts > 1 else ""
    return f"{head}{tail}: {detail}" if detail else f"{head}{tail}"


def to_error(backend: str, model: str, failure: Failure, attempts: int = 1,
             secrets: Iterable[str] = (), policy: RetryPolicy | None = None) -> LLMCallError:
    """The LLMCallError a final failure raises (message from `error_message`).

    With a retry-after beyond the policy's cap, the error says so and carries `hold_s`.
    """
    message = error_message(backend, model, failure, attempts, secrets)
    hold_s = None
    if policy is not None and waits_too_long(failure, policy) and is_retryable(failure):
        hold_s = float(failure.retry_after_s or 0.0)
        message += (f" (the provider asked to wait {hold_s:g} s, beyond the {policy.max_retry_after_s:g} s "
                    "retry cap: not retried)")
    return LLMCallError(message, kind=failure.kind, status=failure.status, backend=backend, model=model,
                        hold_s=hold_s)


# --------------------------------------------------------------------------- the loop


def call_with_retry(
    attempt: Callable[[], T],
    translate: Callable[[BaseException], Failure | None],
    policy: RetryPolicy,
    *,
    backend: str,
    model: str,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    on_failure: Callable[[Failure, int], None] | None = None,
    secrets: Iterable[str] = (),
) -> T:
    """Run `attempt` until it succeeds, fails for good, or attempts run out.

    `translate` turns an exception into a Failure (None: not a provider error, re-raised
    as is). The final failure is raised as one-line LLMCallError naming backend and model.
    """
    secrets = tuple(secrets)
    number = 0
    while True:
        number += 1
        try:
            return attempt()
        except Exception as exc:
            failure = translate(exc)
            if failure is None:
                raise
            if on_failure is not None:
                with contextlib.suppress(Exception):  # logging must never mask the real error
                    on_failure(failure, number)
            if not is_retryable(failure) or number >= policy.max_attempts or waits_too_long(failure, policy):
                raise to_error(backend, model, failure, number, secrets, policy) from exc
            delay = backoff_delay(number, policy, failure.retry_after_s, rng)
            note_retry(delay)
            sleep(delay)

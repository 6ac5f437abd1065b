"""What the SDK-based backends (anthropic-sdk, openai-compat, gemini) have in common.

They differ in how a client is built, what a request looks like and how a response
becomes a Completion. Everything else is the same for all three and lives here: the
client is built once under a lock (and refused early when its key is missing), every
call goes through `backends.retry.call_with_retry` with the key redacted from errors,
and the call is timed for `Completion.latency_ms`.
"""

from __future__ import annotations

import os
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from amatelier.backends.base import LLMBackend, LLMCallError
from amatelier.backends.retry import Failure, RetryPolicy, call_with_retry

_T = TypeVar("_T")


class SDKBackend(LLMBackend):
    """A backend that talks to a provider through its Python SDK, with SDK retries off."""

    #: the environment variable holding the API key (a class default or set per instance)
    key_env: str | None = None

    def __init__(self, config: dict[str, Any] | None = None, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(config)
        self._client: Any = None  # kept referenced: a dropped google-genai Client closes its transport
        self._lock = threading.Lock()
        self._sleep = sleep
        self.retry_policy = RetryPolicy.from_config(self.config)

    def _api_key(self) -> str:
        return os.environ.get(self.key_env or "", "").strip() if self.key_env else ""

    def _missing_key_name(self) -> str:
        """What the missing-key error names (the key variable, unless a subclass knows better)."""
        return self.key_env or ""

    def _secrets(self) -> tuple[str, ...]:
        """The key in use, so an error echoing it (some servers do) is redacted."""
        value = self._api_key()
        return (value,) if value else ()

    def _timeout_s(self) -> float:
        """The client-wide timeout (`llm.timeout_s`); each call also passes its own."""
        return float(self.config.get("llm", {}).get("timeout_s", 180))

    def client(self) -> Any:
        """The configured SDK client (SDK retries off; built once, thread-safe).

        Public so tool-use loops (the steward) can share the same configuration.
        """
        with self._lock:
            if self._client is None:
                api_key = self._api_key()
                if not api_key:
                    raise LLMCallError(f"{self.name}: {self._missing_key_name()} is not set",
                                       kind="auth", backend=self.name)
                self._client = self._build_client(api_key)
            return self._client

    @abstractmethod
    def _build_client(self, api_key: str) -> Any:
        """Import the SDK (lazily: only callers of this backend pay for it) and build a client."""

    def _call(self, attempt: Callable[[], _T], translate: Callable[[BaseException], Failure | None],
              model_id: str, *,
              on_failure: Callable[[Failure, int], None] | None = None) -> tuple[_T, float]:
        """Run one provider call through our retry loop: (response, latency in ms)."""
        started = time.perf_counter()
        response = call_with_retry(
            attempt,
            translate,
            self.retry_policy,
            backend=self.name,
            model=model_id,
            sleep=self._sleep,
            secrets=self._secrets(),
            on_failure=on_failure,
        )
        return response, (time.perf_counter() - started) * 1000.0


def raw_dump(response: Any, **options: Any) -> dict[str, Any] | None:
    """`response.model_dump(mode="json", **options)` for Completion.raw; None when it cannot."""
    dump = getattr(response, "model_dump", None)
    if not callable(dump):
        return None
    try:
        return dump(mode="json", **options)
    except Exception:
        return None

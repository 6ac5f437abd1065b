"""The contract every backend meets, and the errors callers can rely on."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

ROLE_TOKENS = ("sonnet", "haiku", "opus")


@dataclass
class Completion:
    """One model answer plus what it cost; every call is also recorded in llm_calls.

    Token fields mean the same on every backend: `input_tokens` is ALL the input the
    provider processed (cache reads and cache writes included); `cache_read_tokens` and
    `cache_write_tokens` are the parts of it read from / written to the prompt cache, and
    `uncached_input_tokens` is the rest. `cost_usd` is the provider's own figure when it
    gives one (claude-code), else filled from the price table when the call is recorded.
    """

    text: str
    backend: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    latency_ms: float = 0.0
    stop_reason: str | None = None
    cost_usd: float | None = None
    raw: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens neither read from nor written to the prompt cache."""
        return max(0, self.input_tokens - self.cache_read_tokens - self.cache_write_tokens)


class BackendUnavailable(RuntimeError):
    """Raised when no backend can satisfy the current environment."""


class LLMCallError(RuntimeError):
    """A model call failed after any retries; `kind` says how, for logs and llm_calls.

    kind is one of: auth, bad_request, rate_limit, server, timeout, connection, cli, held, other.
    `hold_s` is set when the provider asked us to wait longer than the retry cap: the
    caller then holds this backend+model for that long instead of calling it again.
    """

    def __init__(self, message: str, *, kind: str = "other", status: int | None = None,
                 backend: str = "", model: str = "", hold_s: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.backend = backend
        self.model = model
        self.hold_s = hold_s


class LLMBackend(ABC):
    """A way to reach a model. Constructed from the merged config; cheap to construct."""

    name: str = "base"
    #: whether complete() takes `cache_points` (prompt offsets where a stable prefix ends)
    accepts_cache_points: bool = False

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = config or {}

    @classmethod
    @abstractmethod
    def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
        """(available, how it was detected or what is missing) without any network call."""

    def available(self) -> bool:
        return self.detect(self.config)[0]

    def resolve_model(self, model: str) -> str:
        """Map a role token (sonnet/haiku/opus) to this backend's model id; pass ids through."""
        mapping = self.model_map()
        return mapping.get(model, model)

    def model_map(self) -> dict[str, str]:
        return dict(self.config.get("llm", {}).get("model_map", {}).get(self.name, {}))

    @abstractmethod
    def complete(
        self,
        system: str,
        prompt: str,
        model: str = "sonnet",
        max_tokens: int = 1024,
        timeout: float = 120.0,
        *,
        task: str | None = None,
        agent: str | None = None,
    ) -> Completion:
        """Answer `prompt` under `system`.

        `task` (speak, rebuttal, floor, gate, score, distill, therapist, ...) and `agent`
        are hints: real providers ignore them; the offline backend uses them to play its part.
        """


def env_set(name: str | None) -> bool:
    return bool(name) and bool(os.environ.get(name, "").strip())

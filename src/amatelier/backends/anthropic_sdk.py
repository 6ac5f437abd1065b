"""Anthropic Messages API backend (the `anthropic` SDK, imported on first call)."""

from __future__ import annotations

from typing import Any

from amatelier.backends.base import Completion, LLMBackend, env_set


class AnthropicSDKBackend(LLMBackend):
    name = "anthropic-sdk"

    @classmethod
    def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
        if env_set("ANTHROPIC_API_KEY"):
            return True, "ANTHROPIC_API_KEY is set"
        return False, "ANTHROPIC_API_KEY is not set (export ANTHROPIC_API_KEY=sk-ant-...)"

    def complete(self, system: str, prompt: str, model: str = "sonnet", max_tokens: int = 1024,
                 timeout: float = 120.0, *, task: str | None = None,
                 agent: str | None = None) -> Completion:
        raise NotImplementedError("AnthropicSDKBackend.complete is built by the foundation issue")

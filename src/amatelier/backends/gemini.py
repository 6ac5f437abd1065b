"""Gemini backend (google-genai) for Naomi, the cross-model blind-spot catcher."""

from __future__ import annotations

from typing import Any

from amatelier.backends.base import Completion, LLMBackend, env_set


class GeminiBackend(LLMBackend):
    name = "gemini"

    @classmethod
    def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
        env = (config or {}).get("llm", {}).get("gemini", {}).get("api_key_env") or "GEMINI_API_KEY"
        if env_set(env):
            return True, f"{env} is set"
        return False, f"{env} is not set (Naomi needs it; or pass --skip-naomi)"

    def complete(self, system: str, prompt: str, model: str = "flash", max_tokens: int = 1024,
                 timeout: float = 120.0, *, task: str | None = None,
                 agent: str | None = None) -> Completion:
        raise NotImplementedError("GeminiBackend.complete is built by the foundation issue")

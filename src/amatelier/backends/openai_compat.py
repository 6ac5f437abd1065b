"""OpenAI-compatible Chat Completions backend: OpenAI, OpenRouter, Ollama, vLLM, any base_url."""

from __future__ import annotations

from typing import Any

from amatelier.backends.base import Completion, LLMBackend, env_set


def key_env(config: dict[str, Any] | None) -> str | None:
    """Which environment variable holds the key: config's api_key_env, else OpenAI, else OpenRouter."""
    section = (config or {}).get("llm", {}).get("openai_compat", {})
    explicit = section.get("api_key_env")
    if explicit:
        return explicit
    for name in ("OPENAI_API_KEY", "OPENROUTER_API_KEY"):
        if env_set(name):
            return name
    return None


class OpenAICompatBackend(LLMBackend):
    name = "openai-compat"

    @classmethod
    def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
        name = key_env(config)
        if name and env_set(name):
            return True, f"{name} is set"
        if name:
            return False, f"{name} (llm.openai_compat.api_key_env) is not set"
        return False, "neither OPENAI_API_KEY nor OPENROUTER_API_KEY is set"

    def complete(self, system: str, prompt: str, model: str = "sonnet", max_tokens: int = 1024,
                 timeout: float = 120.0, *, task: str | None = None,
                 agent: str | None = None) -> Completion:
        raise NotImplementedError("OpenAICompatBackend.complete is built by the foundation issue")

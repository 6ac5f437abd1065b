"""The one door to every model provider, for the engine and for users' own code.

    from amatelier.llm_backend import get_backend
    result = get_backend().complete(system="...", prompt="...", model="haiku")

Importing this module imports no provider SDK; each backend imports its SDK on first call.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from amatelier.backends.anthropic_sdk import AnthropicSDKBackend
from amatelier.backends.base import (
    ROLE_TOKENS,
    BackendUnavailable,
    Completion,
    LLMBackend,
    LLMCallError,
)
from amatelier.backends.claude_cli import ClaudeCLIBackend
from amatelier.backends.gemini import GeminiBackend
from amatelier.backends.offline import OfflineBackend
from amatelier.backends.openai_compat import OpenAICompatBackend

__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "ROLE_TOKENS",
    "AnthropicSDKBackend",
    "BackendUnavailable",
    "ClaudeCLIBackend",
    "Completion",
    "GeminiBackend",
    "LLMBackend",
    "LLMCallError",
    "OfflineBackend",
    "OpenAICompatBackend",
    "backend_for_agent",
    "call_claude",
    "describe_environment",
    "get_backend",
    "make_backend",
    "resolve_mode",
]

MODE_ENV = "AMATELIER_MODE"
BACKENDS: dict[str, type[LLMBackend]] = {
    "claude-code": ClaudeCLIBackend,
    "anthropic-sdk": AnthropicSDKBackend,
    "openai-compat": OpenAICompatBackend,
    "offline": OfflineBackend,
    "gemini": GeminiBackend,
}
# Auto-detection never picks offline: a user must ask for it.
AUTO_ORDER = ("claude-code", "anthropic-sdk", "openai-compat")
SELECTABLE_MODES = (*AUTO_ORDER, "offline")

SETUP_HINTS = {
    "claude-code": "install Claude Code so `claude` is on PATH (npm install -g @anthropic-ai/claude-code)",
    "anthropic-sdk": "export ANTHROPIC_API_KEY=sk-ant-...",
    "openai-compat": "export OPENAI_API_KEY=... or OPENROUTER_API_KEY=... (or set llm.openai_compat.base_url and api_key_env for Ollama/vLLM)",
    "offline": "export AMATELIER_MODE=offline for a deterministic demo that calls no model",
}


def _load_config(config: dict[str, Any] | None) -> dict[str, Any]:
    if config is not None:
        return config
    from amatelier.config import load_config

    return load_config()


def explicit_override() -> str | None:
    value = os.environ.get(MODE_ENV, "").strip()
    return value or None


def _unavailable_message(reason: str) -> str:
    lines = [f"no LLM backend available: {reason}", "enable one of these modes:"]
    lines += [f"  - {mode}: {hint}" for mode, hint in SETUP_HINTS.items()]
    return "\n".join(lines)


def resolve_mode(config: dict[str, Any] | None = None) -> str:
    """Pick the mode: AMATELIER_MODE, then config llm.mode, then claude-code > anthropic-sdk > openai-compat."""
    cfg = _load_config(config)
    override = explicit_override()
    if override and override != "auto":
        if override not in SELECTABLE_MODES:
            raise BackendUnavailable(
                f"{MODE_ENV}={override} is not a mode (choose one of {', '.join(SELECTABLE_MODES)}, or auto)"
            )
        return override
    configured = cfg.get("llm", {}).get("mode", "auto")
    if configured and configured != "auto":
        return configured
    for mode in AUTO_ORDER:
        if BACKENDS[mode].detect(cfg)[0]:
            return mode
    raise BackendUnavailable(_unavailable_message("nothing detected in this environment"))


def make_backend(mode: str, config: dict[str, Any] | None = None) -> LLMBackend:
    """Construct the backend for `mode`, refusing with setup guidance when it cannot run."""
    cfg = _load_config(config)
    cls = BACKENDS.get(mode)
    if cls is None:
        raise BackendUnavailable(_unavailable_message(f"unknown mode '{mode}'"))
    available, how = cls.detect(cfg)
    if not available:
        hint = SETUP_HINTS.get(mode, "")
        raise BackendUnavailable(f"mode {mode} was selected but cannot run: {how}" + (f"; {hint}" if hint else ""))
    return cls(cfg)


@lru_cache(maxsize=1)
def get_backend() -> LLMBackend:
    """Return a singleton backend instance configured for the current env."""
    cfg = _load_config(None)
    return make_backend(resolve_mode(cfg), cfg)


def backend_for_agent(agent: str, config: dict[str, Any] | None = None) -> LLMBackend:
    """The backend an agent runs on: Gemini for agents pinned to it (Naomi), unless offline."""
    from amatelier.config import worker_backend

    cfg = _load_config(config)
    mode = resolve_mode(cfg)
    if worker_backend(cfg, agent) == "gemini" and mode != "offline":
        return make_backend("gemini", cfg)
    return make_backend(mode, cfg)


def describe_environment(config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Diagnostic snapshot used by `amatelier config`; never includes a key's value."""
    cfg = _load_config(config)
    report: dict[str, Any] = {}
    for mode, cls in BACKENDS.items():
        available, how = cls.detect(cfg)
        report[mode] = {"available": available, "detected_via": how}
    return report


def call_claude(system_prompt: str, prompt: str, agent_name: str = "", model: str = "sonnet",
                max_tokens: int = 1024, timeout: float = 180.0) -> str:
    """Backward-compatible shim matching the original claude_agent.call_claude API."""
    result = get_backend().complete(system=system_prompt, prompt=prompt, model=model,
                                    max_tokens=max_tokens, timeout=timeout, agent=agent_name or None)
    return result.text

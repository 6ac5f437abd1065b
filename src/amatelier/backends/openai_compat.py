"""OpenAI-compatible Chat Completions backend: OpenAI, OpenRouter, Ollama, vLLM, any base_url.

Where requests go (first match wins):
  1. `llm.openai_compat.base_url` from config (Ollama: http://localhost:11434/v1);
  2. OpenRouter (https://openrouter.ai/api/v1) when the key in use is OPENROUTER_API_KEY;
  3. OPENAI_BASE_URL if set, else api.openai.com (the SDK's own default).
Role tokens map through `llm.openai_compat.model_map`, or `openrouter_model_map` when the
requests go to OpenRouter (entries the user changed in `model_map` still win there).
The SDK's retries are off; `backends.retry` retries with a capped retry-after.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from amatelier.backends.base import Completion, env_set
from amatelier.backends.sdk_base import SDKBackend, raw_dump
from amatelier.backends.sdk_errors import translate_stainless

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
KEY_ENVS = ("OPENAI_API_KEY", "OPENROUTER_API_KEY")


def _section(config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return ((config or {}).get("llm") or {}).get("openai_compat") or {}


def key_env(config: Mapping[str, Any] | None) -> str | None:
    """Which environment variable holds the key: config's api_key_env, else OpenAI, else OpenRouter."""
    explicit = _section(config).get("api_key_env")
    if explicit:
        return str(explicit)
    for name in KEY_ENVS:
        if env_set(name):
            return name
    return None


def resolve_base_url(config: Mapping[str, Any] | None, key_name: str | None = None) -> tuple[str, str]:
    """(base URL, where it came from) for the current config and environment."""
    configured = _section(config).get("base_url")
    if configured:
        return str(configured).rstrip("/"), "config llm.openai_compat.base_url"
    name = key_name if key_name is not None else key_env(config)
    if name == "OPENROUTER_API_KEY":
        return OPENROUTER_BASE_URL, "OpenRouter default (OPENROUTER_API_KEY in use)"
    env_url = os.environ.get("OPENAI_BASE_URL", "").strip()
    if env_url:
        return env_url.rstrip("/"), "OPENAI_BASE_URL"
    return OPENAI_DEFAULT_BASE_URL, "OpenAI default"


def is_openrouter(base_url: str) -> bool:
    """Whether requests to this URL go to OpenRouter."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "openrouter.ai" or host.endswith(".openrouter.ai")


def effective_model_map(section: Mapping[str, Any], openrouter: bool,
                        bundled_section: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Role token -> model id for this provider.

    Not OpenRouter: `model_map`. OpenRouter: `openrouter_model_map`, overlaid with the
    `model_map` entries that differ from the bundled defaults (a user who pinned ids in
    `model_map` for OpenRouter, as the examples do, gets exactly those ids).
    """
    model_map = dict(section.get("model_map") or {})
    if not openrouter:
        return model_map
    routed = dict(section.get("openrouter_model_map") or {})
    bundled_map = dict((bundled_section or {}).get("model_map") or {})
    for token, model_id in model_map.items():
        if bundled_map.get(token) != model_id:
            routed[token] = model_id
    return routed or model_map


def _bundled_section() -> Mapping[str, Any]:
    try:
        from amatelier.config import load_bundled_config

        return _section(load_bundled_config())
    except Exception:
        return {}


class OpenAICompatBackend(SDKBackend):
    name = "openai-compat"

    def __init__(self, config: dict[str, Any] | None = None, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(config, sleep=sleep)
        self.key_env = key_env(self.config)
        self.base_url, self.base_url_source = resolve_base_url(self.config, self.key_env)

    @classmethod
    def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
        name = key_env(config)
        if name and env_set(name):
            url, source = resolve_base_url(config, name)
            return True, f"{name} is set; requests go to {url} ({source})"
        if name:
            return False, f"{name} (llm.openai_compat.api_key_env) is not set"
        return False, "neither OPENAI_API_KEY nor OPENROUTER_API_KEY is set"

    @property
    def routed_to_openrouter(self) -> bool:
        """Requests go to OpenRouter (its model map applies)."""
        return is_openrouter(self.base_url)

    @property
    def is_openai_proper(self) -> bool:
        """Requests go to api.openai.com itself (it wants max_completion_tokens)."""
        return (urlsplit(self.base_url).hostname or "").lower() == "api.openai.com"

    def model_map(self) -> dict[str, str]:
        """The effective role-token map for where requests go (see `effective_model_map`)."""
        return effective_model_map(_section(self.config), self.routed_to_openrouter,
                                   _bundled_section())

    def _missing_key_name(self) -> str:
        return self.key_env or "OPENAI_API_KEY / OPENROUTER_API_KEY"

    def _build_client(self, api_key: str) -> Any:
        import openai  # lazy: ~0.7 s of imports, paid only by callers of this backend

        return openai.OpenAI(api_key=api_key, base_url=self.base_url, max_retries=0,
                             timeout=self._timeout_s())

    def complete(self, system: str, prompt: str, model: str = "sonnet", max_tokens: int = 1024,
                 timeout: float = 120.0, *, task: str | None = None,
                 agent: str | None = None) -> Completion:
        model_id = self.resolve_model(model)
        client = self.client()
        messages: list[dict[str, str]] = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt})
        # OpenAI's own API wants max_completion_tokens (its reasoning models reject
        # max_tokens); Ollama, vLLM and older compatible servers know only max_tokens.
        limit_param = "max_completion_tokens" if self.is_openai_proper else "max_tokens"
        request: dict[str, Any] = {"model": model_id, "messages": messages,
                                   limit_param: int(max_tokens), "timeout": timeout}
        response, latency_ms = self._call(lambda: client.chat.completions.create(**request),
                                          translate_stainless, model_id)
        return completion_from_chat(response, backend=self.name, model=model_id,
                                    latency_ms=latency_ms)


def completion_from_chat(response: Any, *, backend: str, model: str, latency_ms: float) -> Completion:
    """Build a Completion from a ChatCompletion (first choice; cached tokens from prompt details)."""
    choices = getattr(response, "choices", None) or []
    first = choices[0] if choices else None
    message = getattr(first, "message", None)
    text = getattr(message, "content", None) or ""
    usage = getattr(response, "usage", None)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    cache_write = getattr(details, "cache_write_tokens", None) or 0
    return Completion(
        text=text,
        backend=backend,
        model=getattr(response, "model", None) or model,
        input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),  # already includes cached tokens
        output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cache_read_tokens=int(cached),
        cache_write_tokens=int(cache_write),
        latency_ms=latency_ms,
        stop_reason=getattr(first, "finish_reason", None),
        raw=raw_dump(response),
    )

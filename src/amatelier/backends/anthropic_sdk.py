"""Anthropic Messages API backend (the `anthropic` SDK, imported on first call).

The system prompt goes out as a text block marked `cache_control: ephemeral`: a persona
prompt is identical on every turn of a roundtable, so after the first call it is read
from Anthropic's prompt cache, and the cache read/write token counts reach Completion.
The SDK's own retries are off (max_retries=0); `backends.retry` retries instead, so a
server's retry-after is honoured but capped. ANTHROPIC_BASE_URL is honoured by the SDK.
"""

from __future__ import annotations

import os
from typing import Any

from amatelier.backends.base import Completion, env_set
from amatelier.backends.sdk_base import SDKBackend, raw_dump
from amatelier.backends.sdk_errors import translate_stainless

KEY_ENV = "ANTHROPIC_API_KEY"


def _usage_int(usage: Any, name: str) -> int:
    value = getattr(usage, name, None) if usage is not None else None
    return int(value) if isinstance(value, int | float) else 0


class AnthropicSDKBackend(SDKBackend):
    name = "anthropic-sdk"
    key_env = KEY_ENV

    @classmethod
    def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
        if env_set(KEY_ENV):
            base = os.environ.get("ANTHROPIC_BASE_URL", "").strip()
            return True, f"{KEY_ENV} is set" + (f" (base URL from ANTHROPIC_BASE_URL: {base})" if base else "")
        return False, f"{KEY_ENV} is not set (export {KEY_ENV}=sk-ant-...)"

    def _build_client(self, api_key: str) -> Any:
        import anthropic  # lazy: ~1.7 s of imports, paid only by callers of this backend

        return anthropic.Anthropic(api_key=api_key, max_retries=0, timeout=self._timeout_s())

    def complete(self, system: str, prompt: str, model: str = "sonnet", max_tokens: int = 1024,
                 timeout: float = 120.0, *, task: str | None = None,
                 agent: str | None = None) -> Completion:
        model_id = self.resolve_model(model)
        client = self.client()
        request: dict[str, Any] = {
            "model": model_id,
            "max_tokens": int(max_tokens),
            "messages": [{"role": "user", "content": prompt}],
            "timeout": timeout,
        }
        if system:
            request["system"] = [{"type": "text", "text": system,
                                  "cache_control": {"type": "ephemeral"}}]
        response, latency_ms = self._call(lambda: client.messages.create(**request),
                                          translate_stainless, model_id)
        return completion_from_message(response, backend=self.name, model=model_id,
                                       latency_ms=latency_ms)


def completion_from_message(message: Any, *, backend: str, model: str, latency_ms: float) -> Completion:
    """Build a Completion from an anthropic `Message` (text blocks joined, usage copied)."""
    text = "".join(getattr(block, "text", "") for block in getattr(message, "content", []) or []
                   if getattr(block, "type", None) == "text")
    usage = getattr(message, "usage", None)
    # Anthropic's usage.input_tokens counts only the uncached part; ours counts all input.
    read = _usage_int(usage, "cache_read_input_tokens")
    write = _usage_int(usage, "cache_creation_input_tokens")
    return Completion(
        text=text,
        backend=backend,
        model=getattr(message, "model", None) or model,
        input_tokens=_usage_int(usage, "input_tokens") + read + write,
        output_tokens=_usage_int(usage, "output_tokens"),
        cache_read_tokens=read,
        cache_write_tokens=write,
        latency_ms=latency_ms,
        stop_reason=getattr(message, "stop_reason", None),
        raw=raw_dump(message),
    )

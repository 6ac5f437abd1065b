"""Anthropic Messages API backend (the `anthropic` SDK, imported on first call).

Prompt caching: Anthropic caches a prompt prefix that ends at a block marked
`cache_control` (at most 4 per request; a prefix shorter than the model's minimum, 1,024
tokens for Sonnet/Opus and 2,048 for Haiku, is not cached). The persona (system prompt) is
marked when it alone reaches the minimum; the caller may pass `cache_points`, character
offsets in the prompt where a stable prefix ends (end of the briefing, end of the
transcript at this agent's previous turn, end of the transcript now): the prompt is split
there into text blocks and the last points that fit in the remaining breakpoints are
marked. So each turn reads the prefix its previous turn wrote, and a persona below the
minimum is cached together with the briefing. Cache read/write counts reach Completion.
The SDK's own retries are off (max_retries=0); `backends.retry` retries instead, so a
server's retry-after is honoured but capped. ANTHROPIC_BASE_URL is honoured by the SDK.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from amatelier.backends.base import Completion, env_set
from amatelier.backends.sdk_base import SDKBackend, raw_dump
from amatelier.backends.sdk_errors import translate_stainless

KEY_ENV = "ANTHROPIC_API_KEY"
MAX_BREAKPOINTS = 4


def _usage_int(usage: Any, name: str) -> int:
    value = getattr(usage, name, None) if usage is not None else None
    return int(value) if isinstance(value, int | float) else 0


class AnthropicSDKBackend(SDKBackend):
    name = "anthropic-sdk"
    key_env = KEY_ENV
    accepts_cache_points = True

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
                 agent: str | None = None, cache_points: Sequence[int] = ()) -> Completion:
        model_id = self.resolve_model(model)
        client = self.client()
        system_blocks, content = cached_layout(system, prompt, model_id, cache_points)
        request: dict[str, Any] = {
            "model": model_id,
            "max_tokens": int(max_tokens),
            "messages": [{"role": "user", "content": content}],
            "timeout": timeout,
        }
        if system_blocks:
            request["system"] = system_blocks
        response, latency_ms = self._call(lambda: client.messages.create(**request),
                                          translate_stainless, model_id)
        return completion_from_message(response, backend=self.name, model=model_id,
                                       latency_ms=latency_ms)


def min_cacheable_tokens(model_id: str) -> int:
    """Anthropic's minimum cacheable prefix for a model (2,048 for Haiku, else 1,024)."""
    return 2048 if "haiku" in model_id.lower() else 1024


def cached_layout(system: str, prompt: str, model_id: str,
                  cache_points: Sequence[int] = ()) -> tuple[list[dict[str, Any]], Any]:
    """(system blocks, user content) with cache_control on at most 4 stable prefix ends.

    Without cache points the prompt stays one plain string. The persona is marked only
    when it alone reaches the model's minimum (counted as 4 characters a token, a low
    estimate for English, so a marked persona is really cacheable); otherwise the first
    prompt point (the end of the briefing) caches persona and briefing together.
    """
    marker = {"type": "ephemeral"}
    system_blocks: list[dict[str, Any]] = []
    left = MAX_BREAKPOINTS
    if system:
        block: dict[str, Any] = {"type": "text", "text": system}
        if len(system) // 4 >= min_cacheable_tokens(model_id) or not cache_points:
            block["cache_control"] = marker
            left -= 1
        system_blocks.append(block)
    points = sorted({p for p in cache_points if 0 < p < len(prompt)})
    if not points:
        return system_blocks, prompt
    # The prompt is split at every point, so a prefix keeps the same blocks from turn to turn
    # (a cache entry matches only identical blocks); the first point and the latest are marked.
    marked = set(points[:1] + points[1:][-(left - 1):]) if left > 1 else set(points[-left:] if left else [])
    content: list[dict[str, Any]] = []
    start = 0
    for point in [*points, len(prompt)]:
        piece = {"type": "text", "text": prompt[start:point]}
        if point in marked:
            piece["cache_control"] = marker
        content.append(piece)
        start = point
    return system_blocks, content


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

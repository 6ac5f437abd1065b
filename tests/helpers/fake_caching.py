"""Fake providers that cache prompts by the providers' rules, answer like the offline model,
honour max_tokens and take a configurable time per call.

* ``AnthropicCacheSimulator`` applies Anthropic's prompt-caching rules to a Messages request:
  a cacheable prefix ends at a block marked ``cache_control`` (tools, then system, then
  messages, in order); at most 4 such breakpoints (more is a 400 error); a prefix shorter
  than the model's minimum (1,024 tokens for Sonnet/Opus, 2,048 for Haiku) is not cached;
  an entry lives 5 minutes and each hit refreshes it. Strict: only the exact prefixes that
  end at breakpoints are looked up (no automatic look-back), so shares measured with it are
  a lower bound.
* ``OpenAIPrefixCache`` plays OpenAI's automatic caching: the longest prefix a request
  shares with an earlier one of the same model, counted in 128-token steps from 1,024 tokens.
* ``CachingAnthropic`` / ``LatencyOpenAI`` are FakeAnthropic / FakeOpenAI servers using them.
  Their answers come from amatelier's offline responders (the turn's PHASE and AGENT markers
  say which), so a roundtable against them runs the same debate as offline mode.

Tokens are counted as four characters each, like the offline backend.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.helpers.fake_llm_servers import (
    FakeAnthropic,
    FakeOpenAI,
    RecordedRequest,
    Reply,
    anthropic_error,
    anthropic_message,
    openai_chat_completion,
)

TTL_S = 300.0
MAX_BREAKPOINTS = 4
OPENAI_MIN_PREFIX = 1024
OPENAI_STEP = 128


def tokens_of(text: str) -> int:
    return len(text) // 4


def min_cacheable_tokens(model: str) -> int:
    """Anthropic's minimum cacheable prompt length for a model family."""
    return 2048 if "haiku" in model.lower() else 1024


@dataclass(frozen=True)
class CacheUsage:
    """What a request cost in Anthropic's terms (input_tokens = the uncached part)."""

    input_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int


class CacheRuleError(ValueError):
    """The request breaks a caching rule (a real API answers 400)."""


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every cacheable unit of a request in cache order: tools, system blocks, message blocks."""
    found: list[dict[str, Any]] = []
    for tool in body.get("tools") or []:
        found.append(tool)
    system = body.get("system")
    if isinstance(system, str) and system:
        found.append({"type": "text", "text": system})
    elif isinstance(system, list):
        found.extend(b for b in system if isinstance(b, dict))
    for message in body.get("messages") or []:
        content = message.get("content")
        role = message.get("role", "user")
        if isinstance(content, str):
            found.append({"type": "text", "text": content, "_role": role})
        elif isinstance(content, list):
            found.extend(dict(b, _role=role) for b in content if isinstance(b, dict))
    return found


def _block_tokens(block: dict[str, Any]) -> int:
    if block.get("type") == "text":
        return tokens_of(str(block.get("text", "")))
    return tokens_of(json.dumps({k: v for k, v in block.items() if k != "cache_control"}))


class AnthropicCacheSimulator:
    """Prompt cache of one fake Anthropic account (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[str, float] = {}       # prefix hash -> expiry
        self._lock = threading.Lock()
        self.totals = {"input": 0, "read": 0, "write": 0}

    def process(self, body: dict[str, Any]) -> CacheUsage:
        model = str(body.get("model", ""))
        blocks = _blocks(body)
        breakpoints = [i for i, b in enumerate(blocks) if b.get("cache_control")]
        if len(breakpoints) > MAX_BREAKPOINTS:
            raise CacheRuleError(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be "
                                 f"provided. Found {len(breakpoints)}.")
        digest = hashlib.sha256(model.encode("utf-8"))
        prefix_hash: list[str] = []
        prefix_tokens: list[int] = []
        running = 0
        for block in blocks:
            canonical = json.dumps({k: v for k, v in block.items() if k != "cache_control"},
                                   sort_keys=True)
            digest.update(b"\x1e" + canonical.encode("utf-8"))
            prefix_hash.append(digest.copy().hexdigest())
            running += _block_tokens(block)
            prefix_tokens.append(running)
        total = running
        minimum = min_cacheable_tokens(model)
        eligible = [i for i in breakpoints if prefix_tokens[i] >= minimum]
        now = self.clock()
        with self._lock:
            self._entries = {h: exp for h, exp in self._entries.items() if exp > now}
            hit = max((i for i in eligible if prefix_hash[i] in self._entries), default=None)
            read = prefix_tokens[hit] if hit is not None else 0
            if hit is not None:
                self._entries[prefix_hash[hit]] = now + TTL_S
            later = [i for i in eligible if hit is None or i > hit]
            write = (prefix_tokens[later[-1]] - read) if later else 0
            for i in later:
                self._entries[prefix_hash[i]] = now + TTL_S
            usage = CacheUsage(input_tokens=total - read - write, cache_read_input_tokens=read,
                               cache_creation_input_tokens=write)
            self.totals["input"] += usage.input_tokens
            self.totals["read"] += read
            self.totals["write"] += write
        return usage


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix (binary search over C-level slice compares)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


class OpenAIPrefixCache:
    """OpenAI-style automatic prefix caching over the serialized messages."""

    def __init__(self) -> None:
        self._seen: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def process(self, body: dict[str, Any]) -> tuple[int, int]:
        """(prompt_tokens, cached_tokens) for a Chat Completions request."""
        model = str(body.get("model", ""))
        text = "".join(f"<{m.get('role')}>{m.get('content')}" for m in body.get("messages") or [])
        with self._lock:
            earlier = self._seen.setdefault(model, [])
            best = max((_common_prefix(other, text) for other in earlier), default=0)
            earlier.append(text)
        shared = tokens_of(text[:best])
        cached = 0 if shared < OPENAI_MIN_PREFIX else (shared // OPENAI_STEP) * OPENAI_STEP
        return tokens_of(text), cached


def after_debate_task(prompt: str) -> str:
    """The offline task a post-debate prompt asks for (decision, scoring, distilling), or ''."""
    if prompt.startswith("AMATELIER DECISION"):
        return "decision-repair" if "=== REPAIR ===" in prompt else "decision"
    if "SCORE REPAIR" in prompt:
        return "score-repair"
    if "POST-ROUNDTABLE SCORING" in prompt:
        return "score"
    if "MIN_SKILLS:" in prompt and "TRANSCRIPT:" in prompt:
        return "distill"
    if "CANDIDATES:" in prompt:
        return "distill-gate"
    return ""


def offline_answer(system: str, prompt: str, model: str, max_tokens: int, answers: str = "offline") -> str:
    """What the offline model says to this turn (or an echo of it), cut to max_tokens like a real model."""
    if answers == "echo":
        return f"fake reply to: {prompt}"[: max(1, int(max_tokens)) * 4]
    from amatelier.backends.offline import respond
    from amatelier.debate.worker import task_for
    from amatelier.offline.request import OfflineRequest
    from amatelier.prompt_format import parse_markers

    markers = parse_markers(prompt)
    phase = markers.get("PHASE", "")
    task = task_for(phase) if phase else after_debate_task(prompt)
    request = OfflineRequest(system=system, prompt=prompt, model=model, task=task,
                             agent=markers.get("AGENT", "").lower())
    return respond(request)[: max(1, int(max_tokens)) * 4]


def _system_text(system: Any) -> str:
    if isinstance(system, list):
        return "".join(b.get("text", "") for b in system if isinstance(b, dict))
    return str(system or "")


class CachingAnthropic(FakeAnthropic):
    """Messages API with Anthropic's caching rules, offline-model answers and a per-call latency."""

    def __init__(self, latency_s: float = 0.0, answers: str = "offline") -> None:
        super().__init__()
        self.latency_s = latency_s
        self.answers = answers
        self.cache = AnthropicCacheSimulator()

    def default_reply(self, request: RecordedRequest) -> Reply:
        if request.path != "/v1/messages" or request.method != "POST":
            return super().default_reply(request)
        body = request.json or {}
        try:
            usage = self.cache.process(body)
        except CacheRuleError as exc:
            return Reply.error(400, anthropic_error(400, str(exc)))
        text = offline_answer(_system_text(body.get("system")), request.user_text(),
                              str(body.get("model", "")), int(body.get("max_tokens", 1024)), self.answers)
        return Reply.json(anthropic_message(
            text, model=body.get("model", "claude-fake"), input_tokens=usage.input_tokens,
            cache_read_input_tokens=usage.cache_read_input_tokens,
            cache_creation_input_tokens=usage.cache_creation_input_tokens), delay_s=self.latency_s)


class LatencyOpenAI(FakeOpenAI):
    """Chat Completions with automatic prefix caching, offline-model answers and a latency."""

    def __init__(self, latency_s: float = 0.0, answers: str = "offline") -> None:
        super().__init__()
        self.latency_s = latency_s
        self.answers = answers
        self.cache = OpenAIPrefixCache()

    def default_reply(self, request: RecordedRequest) -> Reply:
        if not self.handles(request):
            return super().default_reply(request)
        body = request.json or {}
        prompt_tokens, cached = self.cache.process(body)
        system = "".join(str(m.get("content")) for m in body.get("messages") or []
                         if m.get("role") in ("system", "developer"))
        limit = int(body.get("max_tokens") or body.get("max_completion_tokens") or 1024)
        text = offline_answer(system, request.user_text(), str(body.get("model", "")), limit, self.answers)
        return Reply.json(openai_chat_completion(text, model=body.get("model", "gpt-fake"),
                                                 prompt_tokens=prompt_tokens, cached_tokens=cached),
                          delay_s=self.latency_s)

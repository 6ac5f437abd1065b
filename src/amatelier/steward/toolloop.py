"""Tool-use loops for the anthropic-sdk and openai-compat modes.

The model gets read_file / grep / glob tools whose every call runs locally through the
scope check (amatelier.steward.tools). The loops take an SDK client, so the backends own
how a client is configured (base URL, key, retries) and tests point real SDKs at fakes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from amatelier.backends.anthropic_sdk import completion_from_message
from amatelier.backends.base import Completion, LLMCallError
from amatelier.backends.openai_compat import completion_from_chat
from amatelier.steward import prompts
from amatelier.steward.registry import Registry
from amatelier.steward.result import StewardResult
from amatelier.steward.scope import registered_paths
from amatelier.steward.tools import ToolBox, anthropic_tools, openai_tools

DEFAULT_MAX_TURNS = 8
# Wraps one SDK call (e.g. with the backend's retry policy); the default calls it once.
Caller = Callable[[Callable[[], Any]], Any]


def _once(call: Callable[[], Any]) -> Any:
    return call()


def _listing(registry: Registry, max_bytes: int | None) -> str:
    allowed, _ = registered_paths(registry, max_bytes=max_bytes)
    return prompts.registered_listing([registry.display(p) for p in allowed])


def _finish(toolbox: ToolBox, text: str, *, method: str, started: float,
            usage: list[Completion]) -> StewardResult:
    refused = toolbox.refused()
    if not toolbox.paths_read and refused:
        notes = "; ".join(f"{c.path}" for c in refused)
        status = "out_of_scope"
        output = (text.strip() + "\n" if text.strip() else "") + f"(refused out-of-scope paths: {notes})"
        path = ", ".join(dict.fromkeys(c.path for c in refused))
    else:
        status = "ok"
        output = text.strip() or "(the Steward model gave no answer)"
        path = ", ".join(toolbox.paths_read)
    return StewardResult(status, output=output, path=path, bytes=toolbox.bytes_read,
                         elapsed_s=time.perf_counter() - started, method=method, usage=usage)


def _timed_out(toolbox: ToolBox, method: str, started: float, usage: list[Completion],
               timeout_s: float) -> StewardResult:
    return StewardResult("timeout", output=f"the Steward model did not finish within {timeout_s:.0f}s",
                         path=", ".join(toolbox.paths_read), bytes=toolbox.bytes_read,
                         elapsed_s=time.perf_counter() - started, method=method, usage=usage)


def _error(exc: BaseException, toolbox: ToolBox, method: str, started: float,
           usage: list[Completion]) -> StewardResult:
    name = type(exc).__name__
    timed_out = "Timeout" in name or (isinstance(exc, LLMCallError) and exc.kind == "timeout")
    status = "timeout" if timed_out else "error"
    return StewardResult(status, output=f"the Steward model call failed: {name}: {exc}",
                         path=", ".join(toolbox.paths_read), bytes=toolbox.bytes_read,
                         elapsed_s=time.perf_counter() - started, method=method, usage=usage)


def _drive(toolbox: ToolBox, *, started: float, backend_name: str, max_turns: int,
           timeout_s: float, caller: Caller, send: Callable[[float], Any],
           record: Callable[[Any, float], Completion],
           step: Callable[[Any], str | None]) -> StewardResult:
    """The loop both APIs share: call with the time left, record usage, run tools until an answer.

    `send(left)` makes one SDK call; `record(response, latency_ms)` turns it into usage;
    `step(response)` returns the final text, or runs the requested tools, appends the
    exchange to the conversation and returns None for another turn.
    """
    method = f"subagent:{backend_name}"
    usage: list[Completion] = []
    for _turn in range(max(1, max_turns)):
        left = timeout_s - (time.perf_counter() - started)
        if left <= 0:
            return _timed_out(toolbox, method, started, usage, timeout_s)
        call_started = time.perf_counter()
        try:
            response = caller(lambda left=left: send(left))
        except Exception as exc:
            return _error(exc, toolbox, method, started, usage)
        usage.append(record(response, (time.perf_counter() - call_started) * 1000.0))
        answer = step(response)
        if answer is not None:
            return _finish(toolbox, answer, method=method, started=started, usage=usage)
    result = _finish(toolbox, "", method=method, started=started, usage=usage)
    if result.status == "ok":
        result.status = "error"
        result.output = f"the Steward model used all {max_turns} tool turns without answering"
    return result


def anthropic_loop(client: Any, *, model: str, request: str, registry: Registry,
                   max_bytes: int | None = None, max_turns: int = DEFAULT_MAX_TURNS,
                   max_tokens: int = 1024, timeout_s: float = 120.0,
                   backend_name: str = "anthropic-sdk", caller: Caller = _once) -> StewardResult:
    """Messages API with tools: run tool_use blocks locally, send tool_result blocks back."""
    started = time.perf_counter()
    toolbox = ToolBox(registry, max_bytes=max_bytes)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": prompts.user_prompt(request, _listing(registry, max_bytes))}]

    def send(left: float) -> Any:
        return client.messages.create(model=model, max_tokens=max_tokens, system=prompts.SYSTEM,
                                      messages=messages, tools=anthropic_tools(), timeout=left)

    def record(response: Any, latency_ms: float) -> Completion:
        return completion_from_message(response, backend=backend_name, model=model,
                                       latency_ms=latency_ms)

    def step(response: Any) -> str | None:
        texts = [b.text for b in response.content if getattr(b, "type", "") == "text"]
        uses = [b for b in response.content if getattr(b, "type", "") == "tool_use"]
        if not uses:
            return "\n".join(texts)
        assistant: list[dict[str, Any]] = [{"type": "text", "text": t} for t in texts if t]
        results: list[dict[str, Any]] = []
        for use in uses:
            assistant.append({"type": "tool_use", "id": use.id, "name": use.name,
                              "input": use.input})
            text, is_error = toolbox.run(use.name, use.input)
            results.append({"type": "tool_result", "tool_use_id": use.id, "content": text,
                            "is_error": is_error})
        messages.append({"role": "assistant", "content": assistant})
        messages.append({"role": "user", "content": results})
        return None

    return _drive(toolbox, started=started, backend_name=backend_name, max_turns=max_turns,
                  timeout_s=timeout_s, caller=caller, send=send, record=record, step=step)


def openai_loop(client: Any, *, model: str, request: str, registry: Registry,
                max_bytes: int | None = None, max_turns: int = DEFAULT_MAX_TURNS,
                max_tokens: int = 1024, timeout_s: float = 120.0,
                backend_name: str = "openai-compat",
                limit_param: str = "max_tokens", caller: Caller = _once) -> StewardResult:
    """Chat Completions with function tools: run tool_calls locally, answer with tool messages.

    `limit_param` is max_completion_tokens for OpenAI's own API, max_tokens for the rest.
    """
    started = time.perf_counter()
    toolbox = ToolBox(registry, max_bytes=max_bytes)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": prompts.SYSTEM},
        {"role": "user", "content": prompts.user_prompt(request, _listing(registry, max_bytes))},
    ]

    def send(left: float) -> Any:
        return client.chat.completions.create(model=model, messages=messages, tools=openai_tools(),
                                              timeout=left, **{limit_param: max_tokens})

    def record(response: Any, latency_ms: float) -> Completion:
        return completion_from_chat(response, backend=backend_name, model=model,
                                    latency_ms=latency_ms)

    def step(response: Any) -> str | None:
        message = response.choices[0].message
        calls = list(getattr(message, "tool_calls", None) or [])
        if not calls:
            return message.content or ""
        messages.append({
            "role": "assistant",
            "content": message.content,
            "tool_calls": [{"id": c.id, "type": "function",
                            "function": {"name": c.function.name,
                                         "arguments": c.function.arguments or "{}"}}
                           for c in calls],
        })
        for call in calls:
            try:
                arguments = json.loads(call.function.arguments or "{}")
            except ValueError:
                arguments = None
            if arguments is None:
                text = "error: tool arguments were not valid JSON"
            else:
                text, _ = toolbox.run(call.function.name, arguments)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": text})
        return None

    return _drive(toolbox, started=started, backend_name=backend_name, max_turns=max_turns,
                  timeout_s=timeout_s, caller=caller, send=send, record=record, step=step)

"""Fake LLM provider servers on 127.0.0.1 for wire tests with the real SDKs and CLI.

Three servers speak just enough of each provider's protocol for the real clients to
accept the answers (see the team's notes on what the real clients send):

* ``FakeAnthropic``  - ``POST /v1/messages`` (also ``?beta=true``), JSON or SSE by the
  request's ``stream`` flag, ``POST /v1/messages/count_tokens``, ``HEAD`` on any path.
* ``FakeOpenAI``     - ``POST /v1/chat/completions``, JSON or ``data:`` chunks.
* ``FakeGemini``     - ``POST /{v1,v1beta}/models/{model}:generateContent`` and
  ``:streamGenerateContent`` (SSE), ``:countTokens``.

Usage::

    with FakeAnthropic() as server:
        server.push(Reply.json(anthropic_message("hello", input_tokens=12)))
        server.push(Reply.error(429, headers={"retry-after-ms": "20"}))
        client = anthropic.Anthropic(base_url=server.base_url, api_key="x")
        ...
        assert len(server.requests) == 1

Scripting: ``push()`` queues replies answered in order, each a ``Reply`` or a callable
``(RecordedRequest) -> Reply``. When the queue is empty ``server.default`` answers
(a callable too; every server has a protocol-correct default that echoes the prompt).
A 200 ``Reply`` whose body is a protocol message dict is streamed automatically when the
request asked for ``stream: true``; use ``Reply.sse(...)`` for hand-made event streams.
Every request is recorded in ``server.requests`` (``RecordedRequest``), HEAD probes too.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FakeAnthropic",
    "FakeGemini",
    "FakeLLMServer",
    "FakeOpenAI",
    "RecordedRequest",
    "Reply",
    "anthropic_error",
    "anthropic_message",
    "anthropic_text_block",
    "anthropic_tool_use_block",
    "gemini_error",
    "gemini_response",
    "openai_chat_completion",
    "openai_error",
    "openai_tool_call",
]


# --------------------------------------------------------------------------- data types


@dataclass
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    received_at: float

    @property
    def json(self) -> Any:
        """The parsed JSON body, or None when there is none or it is not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def wants_stream(self) -> bool:
        body = self.json
        if isinstance(body, dict) and body.get("stream") is True:
            return True
        return ":streamGenerateContent" in self.path

    def user_text(self) -> str:
        """The last user turn's text, whichever protocol the body speaks."""
        body = self.json if isinstance(self.json, dict) else {}
        for message in reversed(body.get("messages", [])):
            if message.get("role") == "user":
                return _flatten_content(message.get("content"))
        for content in reversed(body.get("contents", [])):
            if content.get("role", "user") == "user":
                return "".join(p.get("text", "") for p in content.get("parts", []))
        return ""


@dataclass
class Reply:
    """A scripted answer. ``body`` may be a dict/list (sent as JSON), str or bytes.

    ``delay_s`` sleeps before answering (for client-timeout tests); the sleep ends early
    when the server stops. ``events`` is a ready-made SSE stream: a list of
    ``(event_name_or_None, data)`` pairs, data being a dict (JSON) or a string.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    events: list[tuple[str | None, Any]] | None = None

    @classmethod
    def json(cls, body: Any, status: int = 200, headers: dict[str, str] | None = None,
             delay_s: float = 0.0) -> Reply:
        return cls(status=status, body=body, headers=dict(headers or {}), delay_s=delay_s)

    @classmethod
    def error(cls, status: int, body: Any = None, headers: dict[str, str] | None = None,
              delay_s: float = 0.0) -> Reply:
        """An error status; ``body`` None means the server's protocol-shaped error body."""
        return cls(status=status, body=body, headers=dict(headers or {}), delay_s=delay_s)

    @classmethod
    def sse(cls, events: list[tuple[str | None, Any]], headers: dict[str, str] | None = None,
            delay_s: float = 0.0) -> Reply:
        return cls(status=200, events=events, headers=dict(headers or {}), delay_s=delay_s)

    @classmethod
    def sleep(cls, seconds: float) -> Reply:
        """Answer only after ``seconds`` (a client with a shorter timeout gives up first)."""
        return cls(status=200, delay_s=seconds)


Script = Reply | Callable[[RecordedRequest], Reply]


def _flatten_content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(block.get("text", ""))
            elif isinstance(block, str):
                parts.append(block)
        return "".join(parts)
    return ""


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


# --------------------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeLLM/1.0"
    protocol_version = "HTTP/1.1"
    owner: FakeLLMServer  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _record(self) -> RecordedRequest:
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            received_at=time.monotonic(),
        )
        self.owner._record(request)
        return request

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._record()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        request = self._record()
        self._send(request, self.owner._next_reply(request))

    def do_POST(self) -> None:  # noqa: N802
        request = self._record()
        self._send(request, self.owner._next_reply(request))

    def _send(self, request: RecordedRequest, reply: Reply) -> None:
        if reply.delay_s > 0 and self.owner._stopping.wait(reply.delay_s):
            return
        try:
            if reply.events is not None:
                self._send_sse(reply.status, reply.events, reply.headers)
                return
            body = reply.body
            if reply.status >= 400 and body is None:
                body = self.owner.error_body(reply.status)
            if body is None and reply.status < 400:
                body = self.owner.default(request).body
            if reply.status == 200 and request.wants_stream and isinstance(body, dict):
                self._send_sse(200, self.owner.stream_events(request, body), reply.headers)
                return
            self._send_body(reply.status, body, reply.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests); nothing to tell it

    def _send_body(self, status: int, body: Any, headers: dict[str, str]) -> None:
        if isinstance(body, bytes):
            payload, ctype = body, "application/octet-stream"
        elif isinstance(body, str):
            payload, ctype = body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            payload, ctype = json.dumps(body).encode("utf-8"), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", headers.get("content-type", ctype))
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            if name.lower() != "content-type":
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_sse(self, status: int, events: Iterable[tuple[str | None, Any]],
                  headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.close_connection = True
        for event, data in events:
            frame = ""
            if event:
                frame += f"event: {event}\n"
            text = data if isinstance(data, str) else json.dumps(data)
            frame += f"data: {text}\n\n"
            self.wfile.write(frame.encode("utf-8"))
            self.wfile.flush()


class FakeLLMServer:
    """Base class: a threaded HTTP server on 127.0.0.1:<random port>, scripted per request."""

    #: the prefix SDKs put in front of paths, added to ``url`` to make ``base_url``
    base_path = ""

    def __init__(self, replies: Iterable[Script] = ()) -> None:
        self.requests: list[RecordedRequest] = []
        self.default: Callable[[RecordedRequest], Reply] = self.default_reply
        self._queue: deque[Script] = deque(replies)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> FakeLLMServer:
        handler = type("BoundHandler", (_Handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- addresses

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` with no path."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to hand the provider's SDK as its base URL."""
        return self.url + self.base_path

    # ---- scripting

    def push(self, *replies: Script) -> FakeLLMServer:
        """Queue replies, answered in order before the default takes over."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    @property
    def pending(self) -> int:
        """Scripted replies not yet used."""
        with self._lock:
            return len(self._queue)

    def api_requests(self) -> list[RecordedRequest]:
        """Requests other than HEAD probes."""
        with self._lock:
            return [r for r in self.requests if r.method != "HEAD"]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            script = self._queue.popleft() if self._queue and self.handles(request) else None
        if script is None:
            return self.default(request)
        return script(request) if callable(script) else script

    # ---- protocol hooks (overridden per provider)

    def handles(self, request: RecordedRequest) -> bool:
        """Whether a scripted reply may answer this request (side endpoints never consume one)."""
        return True

    def default_reply(self, request: RecordedRequest) -> Reply:
        return Reply.error(404, {"error": f"no route for {request.method} {request.path}"})

    def error_body(self, status: int) -> Any:
        return {"error": {"code": status, "message": f"fake error {status}"}}

    def stream_events(self, request: RecordedRequest, body: dict[str, Any]) -> list[tuple[str | None, Any]]:
        return [(None, body)]


# --------------------------------------------------------------------------- Anthropic


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def anthropic_text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def anthropic_tool_use_block(name: str, input: dict[str, Any], id: str | None = None) -> dict[str, Any]:  # noqa: A002
    return {"type": "tool_use", "id": id or f"toolu_{uuid.uuid4().hex[:20]}", "name": name,
            "input": input}


def anthropic_message(
    text: str | None = "ok",
    *,
    content: list[dict[str, Any]] | None = None,
    model: str = "claude-fake",
    stop_reason: str | None = None,
    input_tokens: int = 10,
    output_tokens: int | None = None,
    cache_creation_input_tokens: int = 0,
    cache_read_input_tokens: int = 0,
) -> dict[str, Any]:
    """A Messages API response. Pass ``content`` (e.g. with tool_use blocks) to go beyond text."""
    blocks = list(content) if content is not None else [anthropic_text_block(text or "")]
    if stop_reason is None:
        stop_reason = "tool_use" if any(b.get("type") == "tool_use" for b in blocks) else "end_turn"
    if output_tokens is None:
        output_tokens = sum(_approx_tokens(b.get("text", "")) for b in blocks) or 1
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": cache_creation_input_tokens,
            "cache_read_input_tokens": cache_read_input_tokens,
        },
    }


def anthropic_error(status: int, message: str | None = None) -> dict[str, Any]:
    kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message or f"fake {kind}"}}


class FakeAnthropic(FakeLLMServer):
    """Anthropic Messages API. Hand ``base_url`` (no /v1) to ``anthropic.Anthropic``
    or ``ANTHROPIC_BASE_URL``.

    The default reply says ``fake reply to: <last user text>`` and plays prompt caching:
    the first time a ``cache_control``-marked system prefix is seen its size is reported as
    ``cache_creation_input_tokens``; later requests with the same prefix report it as
    ``cache_read_input_tokens``.
    """

    def __init__(self, replies: Iterable[Script] = ()) -> None:
        super().__init__(replies)
        self._seen_prefixes: set[str] = set()

    def handles(self, request: RecordedRequest) -> bool:
        return request.method == "POST" and request.path == "/v1/messages"

    def default_reply(self, request: RecordedRequest) -> Reply:
        if request.path == "/v1/messages/count_tokens":
            body = request.json or {}
            return Reply.json({"input_tokens": _approx_tokens(json.dumps(body.get("messages", [])))})
        if request.path != "/v1/messages" or request.method != "POST":
            return Reply.error(404, anthropic_error(404, f"no route {request.path}"))
        body = request.json or {}
        cached = "".join(
            b.get("text", "") for b in (body.get("system") or [])
            if isinstance(b, dict) and b.get("cache_control")
        ) if isinstance(body.get("system"), list) else ""
        create = read = 0
        if cached:
            digest = hashlib.sha256(cached.encode("utf-8")).hexdigest()
            tokens = _approx_tokens(cached)
            with self._lock:
                if digest in self._seen_prefixes:
                    read = tokens
                else:
                    self._seen_prefixes.add(digest)
                    create = tokens
        text = f"fake reply to: {request.user_text()}"
        return Reply.json(anthropic_message(
            text, model=body.get("model", "claude-fake"),
            input_tokens=_approx_tokens(request.user_text()),
            cache_creation_input_tokens=create, cache_read_input_tokens=read,
        ))

    def error_body(self, status: int) -> Any:
        return anthropic_error(status)

    def stream_events(self, request: RecordedRequest, body: dict[str, Any]) -> list[tuple[str | None, Any]]:
        """Render a Messages response as the SSE events the SDK and CLI expect (each with ``event:``)."""
        if body.get("type") == "error":
            return [("error", body)]
        usage = dict(body.get("usage", {}))
        start = dict(body, content=[], stop_reason=None, stop_sequence=None,
                     usage=dict(usage, output_tokens=1))
        events: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": start}),
                                                ("ping", {"type": "ping"})]
        for index, block in enumerate(body.get("content", [])):
            if block.get("type") == "tool_use":
                opening = dict(block, input={})
                deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block.get("input", {}))}]
            elif block.get("type") == "thinking":
                opening = {"type": "thinking", "thinking": "", "signature": ""}
                deltas = [{"type": "thinking_delta", "thinking": block.get("thinking", "")},
                          {"type": "signature_delta", "signature": block.get("signature", "sig")}]
            else:
                opening = {"type": "text", "text": ""}
                text = block.get("text", "")
                half = len(text) // 2
                deltas = [{"type": "text_delta", "text": piece} for piece in (text[:half], text[half:]) if piece]
            events.append(("content_block_start",
                           {"type": "content_block_start", "index": index, "content_block": opening}))
            for delta in deltas:
                events.append(("content_block_delta",
                               {"type": "content_block_delta", "index": index, "delta": delta}))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        events.append(("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": body.get("stop_reason"), "stop_sequence": body.get("stop_sequence")},
            "usage": {"output_tokens": usage.get("output_tokens", 0)},
        }))
        events.append(("message_stop", {"type": "message_stop"}))
        return events


# --------------------------------------------------------------------------- OpenAI


def openai_tool_call(name: str, arguments: dict[str, Any] | str, id: str | None = None) -> dict[str, Any]:  # noqa: A002
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": id or f"call_{uuid.uuid4().hex[:20]}", "type": "function",
            "function": {"name": name, "arguments": args}}


def openai_chat_completion(
    text: str | None = "ok",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    model: str = "gpt-fake",
    finish_reason: str | None = None,
    prompt_tokens: int = 10,
    completion_tokens: int | None = None,
    cached_tokens: int = 0,
) -> dict[str, Any]:
    """A Chat Completions response; ``tool_calls`` (see ``openai_tool_call``) for tool use."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if finish_reason is None:
        finish_reason = "tool_calls" if tool_calls else "stop"
    if completion_tokens is None:
        completion_tokens = _approx_tokens(text or "") or 1
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens},
        },
    }


def openai_error(status: int, message: str | None = None) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "invalid_api_key", 403: "permission_denied",
             404: "model_not_found", 429: "rate_limit_exceeded"}
    code = kinds.get(status, "server_error")
    return {"error": {"message": message or f"fake {code}", "type": code, "param": None, "code": code}}


class FakeOpenAI(FakeLLMServer):
    """OpenAI Chat Completions. ``base_url`` includes ``/v1`` as the SDK requires.

    The default reply echoes the prompt and reports ``cached_tokens`` for a system message
    it has seen before (OpenAI caches repeated prefixes automatically).
    """

    base_path = "/v1"

    def __init__(self, replies: Iterable[Script] = ()) -> None:
        super().__init__(replies)
        self._seen_prefixes: set[str] = set()

    def handles(self, request: RecordedRequest) -> bool:
        return request.method == "POST" and request.path == "/v1/chat/completions"

    def default_reply(self, request: RecordedRequest) -> Reply:
        if not self.handles(request):
            return Reply.error(404, openai_error(404, f"no route {request.path}"))
        body = request.json or {}
        system = "".join(_flatten_content(m.get("content")) for m in body.get("messages", [])
                         if m.get("role") in ("system", "developer"))
        cached = 0
        if system:
            digest = hashlib.sha256(system.encode("utf-8")).hexdigest()
            with self._lock:
                if digest in self._seen_prefixes:
                    cached = _approx_tokens(system)
                self._seen_prefixes.add(digest)
        prompt_tokens = _approx_tokens(system) + _approx_tokens(request.user_text())
        return Reply.json(openai_chat_completion(
            f"fake reply to: {request.user_text()}", model=body.get("model", "gpt-fake"),
            prompt_tokens=prompt_tokens, cached_tokens=cached,
        ))

    def error_body(self, status: int) -> Any:
        return openai_error(status)

    def stream_events(self, request: RecordedRequest, body: dict[str, Any]) -> list[tuple[str | None, Any]]:
        """Render a completion as ``chat.completion.chunk`` frames, usage last when asked for."""
        base = {"id": body.get("id"), "object": "chat.completion.chunk", "created": body.get("created"),
                "model": body.get("model")}
        choice = body["choices"][0]
        message = choice.get("message", {})
        frames: list[tuple[str | None, Any]] = [
            (None, dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                                        "finish_reason": None}])),
        ]
        text = message.get("content") or ""
        for piece in (text[: len(text) // 2], text[len(text) // 2:]):
            if piece:
                frames.append((None, dict(base, choices=[{"index": 0, "delta": {"content": piece},
                                                          "finish_reason": None}])))
        for index, call in enumerate(message.get("tool_calls") or []):
            frames.append((None, dict(base, choices=[{"index": 0, "finish_reason": None, "delta": {
                "tool_calls": [dict(call, index=index)]}}])))
        frames.append((None, dict(base, choices=[{"index": 0, "delta": {},
                                                  "finish_reason": choice.get("finish_reason")}])))
        options = (request.json or {}).get("stream_options") or {}
        if options.get("include_usage"):
            frames.append((None, dict(base, choices=[], usage=body.get("usage"))))
        frames.append((None, "[DONE]"))
        return frames


# --------------------------------------------------------------------------- Gemini


def gemini_response(
    text: str = "ok",
    *,
    model: str = "gemini-fake",
    finish_reason: str = "STOP",
    prompt_tokens: int = 10,
    candidates_tokens: int | None = None,
    cached_tokens: int = 0,
    thoughts_tokens: int = 0,
    function_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A generateContent response; ``function_calls`` are ``{"name", "args"}`` dicts."""
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    parts += [{"functionCall": call} for call in function_calls or []]
    if candidates_tokens is None:
        candidates_tokens = _approx_tokens(text) or 1
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidates_tokens,
        "totalTokenCount": prompt_tokens + candidates_tokens + thoughts_tokens,
    }
    if cached_tokens:
        usage["cachedContentTokenCount"] = cached_tokens
    if thoughts_tokens:
        usage["thoughtsTokenCount"] = thoughts_tokens
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish_reason,
                        "index": 0}],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": uuid.uuid4().hex[:16],
    }


def gemini_error(status: int, message: str | None = None) -> dict[str, Any]:
    names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
             404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
    name = names.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message or f"fake {name}", "status": name}}


class FakeGemini(FakeLLMServer):
    """Gemini generateContent (``/v1`` and ``/v1beta``). Hand ``base_url`` to
    ``types.HttpOptions(base_url=...)`` or ``GOOGLE_GEMINI_BASE_URL``."""

    def handles(self, request: RecordedRequest) -> bool:
        return request.method == "POST" and (
            request.path.endswith(":generateContent") or request.path.endswith(":streamGenerateContent")
        )

    @staticmethod
    def model_of(request: RecordedRequest) -> str:
        """The model id named in the request path (``/v1/models/{model}:generateContent``)."""
        tail = request.path.split("/models/", 1)[-1]
        return tail.split(":", 1)[0]

    def default_reply(self, request: RecordedRequest) -> Reply:
        if request.path.endswith(":countTokens"):
            return Reply.json({"totalTokens": _approx_tokens(request.body.decode("utf-8", "replace"))})
        if not self.handles(request):
            return Reply.error(404, gemini_error(404, f"no route {request.path}"))
        text = request.user_text()
        return Reply.json(gemini_response(f"fake reply to: {text}", model=self.model_of(request),
                                          prompt_tokens=_approx_tokens(text)))

    def error_body(self, status: int) -> Any:
        return gemini_error(status)

    def stream_events(self, request: RecordedRequest, body: dict[str, Any]) -> list[tuple[str | None, Any]]:
        return [(None, body)]

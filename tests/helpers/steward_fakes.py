"""Minimal scriptable fake Anthropic / OpenAI servers for the Steward's tool-use loops.

Each server answers POSTs with the next scripted JSON body and records every request
body, so a test can check exactly what the real SDK sent back (tool results included).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


class FakeServer:
    def __init__(self, replies: list[Script]) -> None:
        self.replies = list(replies)
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802 - the Claude CLI's reachability probe
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.split("?")[0].endswith(("/messages", "/chat/completions")):
                    self._json(404, {"type": "error", "error": {"type": "not_found_error",
                                                                "message": self.path}})
                    return
                with owner.lock:
                    owner.requests.append(body)
                    owner.paths.append(self.path)
                    scripted = bool(owner.replies)
                    reply = owner.replies.pop(0) if scripted else None
                if reply is None:
                    # 400 (not retried by the SDKs) tells a test it ran past its script.
                    self._json(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                "message": "no script left"}})
                    return
                data = reply(body) if callable(reply) else reply
                if body.get("stream") and data.get("type") == "message":
                    self._sse(anthropic_events(data))
                else:
                    self._json(200, data)

            def _json(self, status: int, data: dict[str, Any]) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _sse(self, events: list[tuple[str, dict[str, Any]]]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                self.close_connection = True
                for name, data in events:
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


def anthropic_reply(content: list[dict[str, Any]], stop_reason: str = "end_turn") -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-5-5",
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {"input_tokens": 20, "output_tokens": 7, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0}}


def anthropic_tool_use(name: str, args: dict[str, Any], use_id: str) -> dict[str, Any]:
    return anthropic_reply([{"type": "text", "text": "Let me look."},
                            {"type": "tool_use", "id": use_id, "name": name, "input": args}],
                           stop_reason="tool_use")


def anthropic_text(text: str) -> dict[str, Any]:
    return anthropic_reply([{"type": "text", "text": text}])


def openai_reply(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", **message},
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 7, "total_tokens": 27}}


def openai_tool_calls(*calls: tuple[str, dict[str, Any] | str, str]) -> dict[str, Any]:
    return openai_reply({"content": None, "tool_calls": [
        {"id": call_id, "type": "function",
         "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
        for name, args, call_id in calls]}, finish="tool_calls")


def openai_text(text: str) -> dict[str, Any]:
    return openai_reply({"content": text})


def anthropic_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A Messages response as SSE events (the Claude CLI always streams); each has `event:`."""
    usage = dict(message.get("usage", {}))
    start = dict(message, content=[], stop_reason=None, stop_sequence=None,
                 usage=dict(usage, output_tokens=1))
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start",
                                                                   "message": start})]
    for index, block in enumerate(message.get("content", [])):
        if block["type"] == "tool_use":
            opening = dict(block, input={})
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        else:
            opening = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        events += [("content_block_start", {"type": "content_block_start", "index": index,
                                            "content_block": opening}),
                   ("content_block_delta", {"type": "content_block_delta", "index": index,
                                            "delta": delta}),
                   ("content_block_stop", {"type": "content_block_stop", "index": index})]
    events += [("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": message.get("stop_reason"),
                                            "stop_sequence": None},
                                  "usage": {"output_tokens": usage.get("output_tokens", 0)}}),
               ("message_stop", {"type": "message_stop"})]
    return events

"""The fake provider servers themselves, driven by the real SDKs (other areas build on them)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from tests.helpers.fake_llm_servers import (
    FakeAnthropic,
    FakeGemini,
    FakeOpenAI,
    Reply,
    anthropic_message,
    anthropic_text_block,
    anthropic_tool_use_block,
    gemini_response,
    openai_chat_completion,
    openai_tool_call,
)

pytestmark = pytest.mark.wire


def raw_post(url: str, body: dict, headers: dict | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers.get("content-type", ""), response.read()


def test_anthropic_streaming_tool_use_round_trip() -> None:
    import anthropic

    with FakeAnthropic() as server:
        server.push(Reply.json(anthropic_message(content=[
            anthropic_text_block("Checking the file."),
            anthropic_tool_use_block("read_file", {"path": "notes.md"}, id="toolu_1"),
        ])))
        client = anthropic.Anthropic(base_url=server.base_url, api_key="x", max_retries=0)
        tools = [{"name": "read_file", "description": "read", "input_schema": {"type": "object"}}]
        with client.messages.stream(model="m", max_tokens=50, tools=tools,
                                    messages=[{"role": "user", "content": "look"}]) as stream:
            message = stream.get_final_message()
        assert message.stop_reason == "tool_use"
        assert message.content[0].text == "Checking the file."
        assert (message.content[1].name, message.content[1].input) == ("read_file", {"path": "notes.md"})

        follow_up = client.messages.create(model="m", max_tokens=50, tools=tools, messages=[
            {"role": "user", "content": "look"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "read_file",
                                               "input": {"path": "notes.md"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}]},
        ])
        assert follow_up.stop_reason == "end_turn"
        recorded = server.api_requests()[-1].json
        assert recorded["messages"][-1]["content"][0]["type"] == "tool_result"


def test_anthropic_cli_style_requests_are_accepted() -> None:
    with FakeAnthropic() as server:
        probe = urllib.request.Request(server.url + "/api/hello", method="HEAD")
        with urllib.request.urlopen(probe, timeout=10) as response:
            assert response.status == 200
        body = {"model": "claude-haiku-5-5", "max_tokens": 100, "stream": True,
                "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi there"}]},
                             {"role": "system", "content": [{"type": "text", "text": "# Environment"}]}]}
        status, ctype, payload = raw_post(server.url + "/v1/messages?beta=true", body)
        assert status == 200 and ctype.startswith("text/event-stream")
        frames = [f for f in payload.decode().split("\n\n") if f.strip()]
        assert all(frame.startswith("event: ") for frame in frames)  # the SDK drops frames without one
        events = [frame.split("\n", 1)[0].removeprefix("event: ") for frame in frames]
        assert events[0] == "message_start" and events[-1] == "message_stop"
        text = "".join(json.loads(f.split("data: ", 1)[1])["delta"].get("text", "")
                       for f in frames if f.startswith("event: content_block_delta"))
        assert text == "fake reply to: hi there"
        assert [r.method for r in server.requests] == ["HEAD", "POST"]
        assert server.requests[1].query == {"beta": ["true"]}


def test_scripts_are_consumed_in_order_and_side_endpoints_do_not_consume() -> None:
    with FakeAnthropic() as server:
        server.push(lambda request: Reply.json(anthropic_message(f"saw {request.user_text()}")),
                    Reply.json(anthropic_message("second")))
        status, _, payload = raw_post(server.url + "/v1/messages/count_tokens",
                                      {"model": "m", "messages": [{"role": "user", "content": "abcd"}]})
        assert status == 200 and "input_tokens" in json.loads(payload)
        assert server.pending == 2
        first = json.loads(raw_post(server.url + "/v1/messages", {"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": "one"}]})[2])
        second = json.loads(raw_post(server.url + "/v1/messages", {"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": "two"}]})[2])
        third = json.loads(raw_post(server.url + "/v1/messages", {"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": "three"}]})[2])
        assert [m["content"][0]["text"] for m in (first, second, third)] == [
            "saw one", "second", "fake reply to: three"]
        assert server.pending == 0


def test_openai_streaming_with_usage_and_tool_calls() -> None:
    import openai

    with FakeOpenAI() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        server.push(Reply.json(openai_chat_completion("streamed text", prompt_tokens=30, cached_tokens=20)))
        chunks = list(client.chat.completions.create(model="m", stream=True, stream_options={"include_usage": True},
                                                     messages=[{"role": "user", "content": "go"}]))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed text"
        assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 20

        server.push(Reply.json(openai_chat_completion(None, tool_calls=[openai_tool_call("grep", {"q": "x"},
                                                                                         id="call_9")])))
        with client.chat.completions.stream(model="m", messages=[{"role": "user", "content": "go"}]) as stream:
            final = stream.get_final_completion()
        call = final.choices[0].message.tool_calls[0]
        assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("call_9", "grep", {"q": "x"})
        assert final.choices[0].finish_reason == "tool_calls"


def test_gemini_v1beta_and_streaming() -> None:
    from google import genai
    from google.genai import types

    with FakeGemini() as server:
        client = genai.Client(api_key="x", http_options=types.HttpOptions(base_url=server.url,
                                                                          api_version="v1beta"))
        server.push(Reply.json(gemini_response("beta ok", cached_tokens=7)))
        reply = client.models.generate_content(model="gemini-x", contents="hi")
        assert reply.text == "beta ok" and reply.usage_metadata.cached_content_token_count == 7
        pieces = [chunk.text for chunk in client.models.generate_content_stream(model="gemini-x", contents="yo")]
        assert "".join(pieces) == "fake reply to: yo"
        assert [r.path for r in server.api_requests()] == ["/v1beta/models/gemini-x:generateContent",
                                                           "/v1beta/models/gemini-x:streamGenerateContent"]

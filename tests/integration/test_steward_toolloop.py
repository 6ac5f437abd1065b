"""The Steward's tool-use loops with the REAL anthropic and openai SDKs against fake servers.

The fake model asks for an out-of-scope file first: the tool result the SDK sends back
must say "out of scope", and the file must never be opened.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.helpers.fake_llm_servers import (
    FakeAnthropic,
    FakeOpenAI,
    Reply,
    anthropic_message,
    anthropic_text_block,
    anthropic_tool_use_block,
    openai_chat_completion,
    openai_tool_call,
)
from tests.helpers.steward_tree import make_tree, record_opens

from amatelier.steward.subagent import spawn_steward_subagent
from amatelier.steward.toolloop import anthropic_loop, openai_loop

pytestmark = pytest.mark.wire


@pytest.fixture
def tree(tmp_path: Path):
    return make_tree(tmp_path)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return record_opens(monkeypatch, resolve=True)


def anthropic_client(server: FakeAnthropic):
    import anthropic

    return anthropic.Anthropic(base_url=server.base_url, api_key="test-key", max_retries=0)


def openai_client(server: FakeOpenAI):
    import openai

    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)


def anthropic_tool_use(name: str, args: dict, use_id: str) -> Reply:
    return Reply.json(anthropic_message(content=[anthropic_text_block("Let me look."),
                                                 anthropic_tool_use_block(name, args, id=use_id)]))


def anthropic_text(text: str) -> Reply:
    return Reply.json(anthropic_message(text))


def openai_tool_calls(*calls: tuple) -> Reply:
    return Reply.json(openai_chat_completion(None, tool_calls=[
        openai_tool_call(name, args, id=call_id) for name, args, call_id in calls]))


def openai_text(text: str) -> Reply:
    return Reply.json(openai_chat_completion(text))


def bodies(server) -> list[dict]:
    return [r.json for r in server.api_requests()]


def paths(server) -> list[str]:
    return [r.path for r in server.api_requests()]


def tool_results(body: dict) -> list[dict]:
    last = body["messages"][-1]
    return [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]


def test_anthropic_loop_refuses_out_of_scope_then_reads_registered(tree, opened) -> None:
    registry = tree.registry("- notes.md")
    with FakeAnthropic().push(
        anthropic_tool_use("read_file", {"path": str(tree.secret)}, "tu_1"),
        anthropic_tool_use("read_file", {"path": "../secret.txt"}, "tu_2"),
        anthropic_tool_use("read_file", {"path": "notes.md", "start_line": 2, "end_line": 2}, "tu_3"),
        anthropic_text("The retry budget is 4 attempts (notes.md:2)."),
    ) as server:
        result = anthropic_loop(anthropic_client(server), model="claude-haiku-5-5",
                                request="what is the retry budget?", registry=registry)
    assert paths(server) == ["/v1/messages"] * 4
    first = bodies(server)[0]
    assert [t["name"] for t in first["tools"]] == ["read_file", "grep", "glob"]
    assert "- notes.md" in first["messages"][0]["content"]
    refused_1 = tool_results(bodies(server)[1])[0]
    assert refused_1["tool_use_id"] == "tu_1" and refused_1["is_error"] is True
    assert refused_1["content"].startswith("out of scope:")
    assert tool_results(bodies(server)[2])[0]["content"].startswith("out of scope:")
    answer = tool_results(bodies(server)[3])[0]
    assert answer["is_error"] is False and "2: retry budget is 4 attempts" in answer["content"]
    assert all("TOP SECRET" not in str(body) for body in bodies(server))
    assert str(tree.secret) not in opened and os.path.realpath(tree.secret) not in opened
    assert opened == [str((tree.launch / "notes.md").resolve())]
    assert result.status == "ok" and result.path == "notes.md"
    assert result.output == "The retry budget is 4 attempts (notes.md:2)."
    assert result.method == "subagent:anthropic-sdk" and len(result.usage) == 4
    assert result.usage[0].input_tokens == 10 and result.usage[0].stop_reason == "tool_use"


def test_anthropic_loop_with_only_refusals_is_out_of_scope(tree, opened) -> None:
    with FakeAnthropic().push(
        anthropic_tool_use("grep", {"pattern": "SECRET", "path": "../*.txt"}, "tu_1"),
        anthropic_text("I could not read that file."),
    ) as server:
        result = anthropic_loop(anthropic_client(server), model="m", request="read the secret",
                                registry=tree.registry("- notes.md"))
    assert tool_results(bodies(server)[1])[0]["content"].startswith("out of scope:")
    assert result.status == "out_of_scope" and result.path == "../*.txt"
    assert opened == []


def test_anthropic_loop_gives_up_after_max_turns(tree) -> None:
    replies = [anthropic_tool_use("glob", {}, f"tu_{i}") for i in range(3)]
    with FakeAnthropic().push(*replies) as server:
        result = anthropic_loop(anthropic_client(server), model="m", request="loop",
                                registry=tree.registry("- notes.md"), max_turns=3)
    assert len(bodies(server)) == 3
    assert result.status == "error" and "3 tool turns" in result.output


def test_anthropic_loop_reports_an_api_error(tree) -> None:
    with FakeAnthropic().push(Reply.error(400)) as server:
        result = anthropic_loop(anthropic_client(server), model="m", request="x",
                                registry=tree.registry("- notes.md"))
    assert result.status == "error" and "BadRequestError" in result.output


def test_openai_loop_refuses_out_of_scope_then_reads_registered(tree, opened) -> None:
    registry = tree.registry("- notes.md\n- config.json")
    with FakeOpenAI().push(
        openai_tool_calls(("read_file", {"path": "/etc/passwd"}, "call_1"),
                          ("read_file", {"path": "notes.md\u0000/../../secret.txt"}, "call_2")),
        openai_tool_calls(("grep", {"pattern": "retry"}, "call_3"),
                          ("read_file", "{not json", "call_4")),
        openai_text("Retries: 4 (notes.md:2, config.json)."),
    ) as server:
        result = openai_loop(openai_client(server), model="gpt-4o-mini",
                             request="how many retries?", registry=registry)
    assert paths(server) == ["/v1/chat/completions"] * 3
    assert [t["function"]["name"] for t in bodies(server)[0]["tools"]] == ["read_file", "grep", "glob"]
    second = bodies(server)[1]["messages"]
    tool_msgs = [m for m in second if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == ["call_1", "call_2"]
    assert tool_msgs[0]["content"].startswith("out of scope:")
    assert tool_msgs[1]["content"].startswith("out of scope: NUL byte in path")
    assert second[2]["role"] == "assistant" and second[2]["tool_calls"][0]["id"] == "call_1"
    third = [m for m in bodies(server)[2]["messages"] if m["role"] == "tool"][2:]
    assert "notes.md:2: retry budget is 4 attempts" in third[0]["content"]
    assert third[1]["content"] == "error: tool arguments were not valid JSON"
    assert bodies(server)[0]["max_tokens"] == 1024
    assert all("TOP SECRET" not in str(body) for body in bodies(server))
    assert "/etc/passwd" not in opened and os.path.realpath(tree.secret) not in opened
    assert result.status == "ok" and result.path == "notes.md, config.json"
    assert result.method == "subagent:openai-compat"


def test_openai_loop_uses_max_completion_tokens_for_openai_proper(tree) -> None:
    with FakeOpenAI().push(openai_text("nothing to read")) as server:
        openai_loop(openai_client(server), model="m", request="x",
                    registry=tree.registry("- notes.md"), limit_param="max_completion_tokens")
    assert bodies(server)[0]["max_completion_tokens"] == 1024
    assert "max_tokens" not in bodies(server)[0]


class FakeBackend:
    """Stands in for the backends' AnthropicSDKBackend/OpenAICompatBackend: client() + model map."""

    def __init__(self, client, is_openai_proper: bool = False) -> None:
        self._client = client
        self.is_openai_proper = is_openai_proper

    def client(self):
        return self._client

    def resolve_model(self, token: str) -> str:
        return {"haiku": "small-model", "sonnet": "big-model"}.get(token, token)


@pytest.mark.parametrize("mode", ["anthropic-sdk", "openai-compat"])
def test_spawn_steward_subagent_routes_by_mode(tree, mode) -> None:
    reply = anthropic_text("answer") if mode == "anthropic-sdk" else openai_text("answer")
    server_class = FakeAnthropic if mode == "anthropic-sdk" else FakeOpenAI
    with server_class().push(reply) as server:
        client = anthropic_client(server) if mode == "anthropic-sdk" else openai_client(server)
        result = spawn_steward_subagent("what is the retry budget?", tree.registry("- notes.md"),
                                        mode=mode, config={"steward": {}},
                                        backend=FakeBackend(client))
        server.push(reply)
        complex_result = spawn_steward_subagent("compare notes and config", tree.registry("- notes.md"),
                                                mode=mode, config={"steward": {}},
                                                backend=FakeBackend(client))
    assert result.status == "ok" and result.output == "answer"
    assert bodies(server)[0]["model"] == "small-model"
    assert bodies(server)[1]["model"] == "big-model"
    assert complex_result.status == "ok"


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_a_model_slower_than_the_timeout_gives_a_timeout_result(tree, api) -> None:
    server_class, loop, client = ((FakeAnthropic, anthropic_loop, anthropic_client) if api == "anthropic"
                                  else (FakeOpenAI, openai_loop, openai_client))
    with server_class().push(Reply.sleep(30)) as server:
        result = loop(client(server), model="m", request="what is the retry budget?",
                      registry=tree.registry("- notes.md"), timeout_s=0.5)
    assert len(server.api_requests()) == 1
    assert result.status == "timeout", result.output
    assert result.bytes == 0 and "TOP SECRET" not in result.output


def test_the_time_left_bounds_every_later_call(tree) -> None:
    # The first answer asks for a tool; the second call gets only what is left of the timeout.
    with FakeAnthropic().push(
        anthropic_tool_use("read_file", {"path": "notes.md"}, "tu_1"),
        Reply.sleep(30),
    ) as server:
        result = anthropic_loop(anthropic_client(server), model="m", request="retry budget?",
                                registry=tree.registry("- notes.md"), timeout_s=1.0)
    assert len(server.api_requests()) == 2
    assert result.status == "timeout" and result.path == "notes.md" and result.bytes > 0

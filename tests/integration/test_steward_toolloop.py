"""The Steward's tool-use loops with the REAL anthropic and openai SDKs against fake servers.

The fake model asks for an out-of-scope file first: the tool result the SDK sends back
must say "out of scope", and the file must never be opened.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.helpers.steward_fakes import (
    FakeServer,
    anthropic_text,
    anthropic_tool_use,
    openai_text,
    openai_tool_calls,
)
from tests.helpers.steward_tree import make_tree

from amatelier.steward import scope
from amatelier.steward.subagent import spawn_steward_subagent
from amatelier.steward.toolloop import anthropic_loop, openai_loop

pytestmark = pytest.mark.wire


@pytest.fixture
def tree(tmp_path: Path):
    return make_tree(tmp_path)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        seen.append(os.path.realpath(os.fspath(path)))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(scope.os, "open", spy)
    return seen


def anthropic_client(url: str):
    import anthropic

    return anthropic.Anthropic(base_url=url, api_key="test-key", max_retries=0)


def openai_client(url: str):
    import openai

    return openai.OpenAI(base_url=url + "/v1", api_key="test-key", max_retries=0)


def tool_results(body: dict) -> list[dict]:
    last = body["messages"][-1]
    return [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]


def test_anthropic_loop_refuses_out_of_scope_then_reads_registered(tree, opened) -> None:
    registry = tree.registry("- notes.md")
    with FakeServer([
        anthropic_tool_use("read_file", {"path": str(tree.secret)}, "tu_1"),
        anthropic_tool_use("read_file", {"path": "../secret.txt"}, "tu_2"),
        anthropic_tool_use("read_file", {"path": "notes.md", "start_line": 2, "end_line": 2}, "tu_3"),
        anthropic_text("The retry budget is 4 attempts (notes.md:2)."),
    ]) as server:
        result = anthropic_loop(anthropic_client(server.url), model="claude-haiku-5-5",
                                request="what is the retry budget?", registry=registry)
    assert server.paths == ["/v1/messages"] * 4
    first = server.requests[0]
    assert [t["name"] for t in first["tools"]] == ["read_file", "grep", "glob"]
    assert "- notes.md" in first["messages"][0]["content"]
    refused_1 = tool_results(server.requests[1])[0]
    assert refused_1["tool_use_id"] == "tu_1" and refused_1["is_error"] is True
    assert refused_1["content"].startswith("out of scope:")
    assert tool_results(server.requests[2])[0]["content"].startswith("out of scope:")
    answer = tool_results(server.requests[3])[0]
    assert answer["is_error"] is False and "2: retry budget is 4 attempts" in answer["content"]
    assert all("TOP SECRET" not in str(body) for body in server.requests)
    assert str(tree.secret) not in opened and os.path.realpath(tree.secret) not in opened
    assert opened == [str((tree.launch / "notes.md").resolve())]
    assert result.status == "ok" and result.path == "notes.md"
    assert result.output == "The retry budget is 4 attempts (notes.md:2)."
    assert result.method == "subagent:anthropic-sdk" and len(result.usage) == 4
    assert result.usage[0].input_tokens == 20


def test_anthropic_loop_with_only_refusals_is_out_of_scope(tree, opened) -> None:
    with FakeServer([
        anthropic_tool_use("grep", {"pattern": "SECRET", "path": "../*.txt"}, "tu_1"),
        anthropic_text("I could not read that file."),
    ]) as server:
        result = anthropic_loop(anthropic_client(server.url), model="m", request="read the secret",
                                registry=tree.registry("- notes.md"))
    assert tool_results(server.requests[1])[0]["content"].startswith("out of scope:")
    assert result.status == "out_of_scope" and result.path == "../*.txt"
    assert opened == []


def test_anthropic_loop_gives_up_after_max_turns(tree) -> None:
    replies = [anthropic_tool_use("glob", {}, f"tu_{i}") for i in range(3)]
    with FakeServer(replies) as server:
        result = anthropic_loop(anthropic_client(server.url), model="m", request="loop",
                                registry=tree.registry("- notes.md"), max_turns=3)
    assert len(server.requests) == 3
    assert result.status == "error" and "3 tool turns" in result.output


def test_anthropic_loop_reports_an_api_error(tree) -> None:
    with FakeServer([]) as server:  # no script: the fake answers 400
        result = anthropic_loop(anthropic_client(server.url), model="m", request="x",
                                registry=tree.registry("- notes.md"))
    assert result.status == "error" and "BadRequestError" in result.output


def test_openai_loop_refuses_out_of_scope_then_reads_registered(tree, opened) -> None:
    registry = tree.registry("- notes.md\n- config.json")
    with FakeServer([
        openai_tool_calls(("read_file", {"path": "/etc/passwd"}, "call_1"),
                          ("read_file", {"path": "notes.md\u0000/../../secret.txt"}, "call_2")),
        openai_tool_calls(("grep", {"pattern": "retry"}, "call_3"),
                          ("read_file", "{not json", "call_4")),
        openai_text("Retries: 4 (notes.md:2, config.json)."),
    ]) as server:
        result = openai_loop(openai_client(server.url), model="gpt-4o-mini",
                             request="how many retries?", registry=registry)
    assert server.paths == ["/v1/chat/completions"] * 3
    assert [t["function"]["name"] for t in server.requests[0]["tools"]] == ["read_file", "grep", "glob"]
    second = server.requests[1]["messages"]
    tool_msgs = [m for m in second if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == ["call_1", "call_2"]
    assert tool_msgs[0]["content"].startswith("out of scope:")
    assert tool_msgs[1]["content"].startswith("out of scope: NUL byte in path")
    assert second[2]["role"] == "assistant" and second[2]["tool_calls"][0]["id"] == "call_1"
    third = [m for m in server.requests[2]["messages"] if m["role"] == "tool"][2:]
    assert "notes.md:2: retry budget is 4 attempts" in third[0]["content"]
    assert third[1]["content"] == "error: tool arguments were not valid JSON"
    assert server.requests[0]["max_tokens"] == 1024
    assert all("TOP SECRET" not in str(body) for body in server.requests)
    assert "/etc/passwd" not in opened and os.path.realpath(tree.secret) not in opened
    assert result.status == "ok" and result.path == "notes.md, config.json"
    assert result.method == "subagent:openai-compat"


def test_openai_loop_uses_max_completion_tokens_for_openai_proper(tree) -> None:
    with FakeServer([openai_text("nothing to read")]) as server:
        openai_loop(openai_client(server.url), model="m", request="x",
                    registry=tree.registry("- notes.md"), limit_param="max_completion_tokens")
    assert server.requests[0]["max_completion_tokens"] == 1024
    assert "max_tokens" not in server.requests[0]


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
    with FakeServer([reply]) as server:
        client = anthropic_client(server.url) if mode == "anthropic-sdk" else openai_client(server.url)
        result = spawn_steward_subagent("what is the retry budget?", tree.registry("- notes.md"),
                                        mode=mode, config={"steward": {}},
                                        backend=FakeBackend(client))
        complex_result = None
        server.replies.append(reply)
        complex_result = spawn_steward_subagent("compare notes and config", tree.registry("- notes.md"),
                                                mode=mode, config={"steward": {}},
                                                backend=FakeBackend(client))
    assert result.status == "ok" and result.output == "answer"
    assert server.requests[0]["model"] == "small-model"
    assert server.requests[1]["model"] == "big-model"
    assert complex_result.status == "ok"

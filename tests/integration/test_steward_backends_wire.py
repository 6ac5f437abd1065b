"""The Steward through the runner seams, on the REAL backends and SDKs, against the shared fakes.

The Steward builds AnthropicSDKBackend / OpenAICompatBackend itself (make_backend + client())
from the environment, exactly as in a roundtable. The fake model first asks for files
outside the registered set; the tool results the SDK sends back must say out of scope,
and the scope layer must never open them.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
from tests.helpers.backends_config import fast_config, isolated_env
from tests.helpers.fake_llm_servers import (
    FakeAnthropic,
    FakeOpenAI,
    Reply,
    anthropic_message,
    anthropic_tool_use_block,
    openai_chat_completion,
    openai_tool_call,
)
from tests.helpers.steward_tree import make_tree, record_opens

from amatelier.chat.db import open_db
from amatelier.debate import steward_turns as steward_hooks
from amatelier.state import RoundtableState

pytestmark = pytest.mark.wire
QUESTION = "[[request: what is the retry budget, according to the notes?]]"


@pytest.fixture
def setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    isolated_env(monkeypatch, tmp_path / "ws", keep_path=True)
    tree = make_tree(tmp_path)
    conn = open_db(tmp_path / "rt.db")
    conn.execute("INSERT INTO roundtables (id, topic, created_at) VALUES ('rt1', 't', 'now')")
    opened = record_opens(monkeypatch, resolve=True)

    def state_for(mode: str) -> RoundtableState:
        state = RoundtableState(
            rt_id="rt1", topic="t",
            briefing_text="# B\n\n## Steward-Registered Files\n- notes.md\n- docs/*.md\n",
            briefing_path=tmp_path / "b.md", launch_dir=tree.launch, workers=["elena"],
            judge="judge", config=copy.deepcopy(fast_config()), conn=conn, mode=mode,
            max_rounds=1, budget_per_agent=3, current_round=1, current_phase="SPEAK")
        steward_hooks.setup(state)
        return state

    yield tree, conn, opened, state_for
    conn.close()


# Where each mode's SDK takes its key and base URL from.
SDK_ENV = {"anthropic-sdk": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
           "openai-compat": ("OPENAI_API_KEY", "OPENAI_BASE_URL")}


def ask_steward(state_for, mode: str, server, monkeypatch: pytest.MonkeyPatch):
    """Point `mode`'s SDK at `server`, send QUESTION through the seams and drain the Steward.

    Returns (state, whether after_speech queued a request).
    """
    key_env, url_env = SDK_ENV[mode]
    monkeypatch.setenv(key_env, "test-key")
    monkeypatch.setenv(url_env, server.base_url)
    state = state_for(mode)
    queued = steward_hooks.after_speech(state, "elena", QUESTION)
    steward_hooks.drain(state)
    return state, queued


def steward_messages(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT content FROM messages WHERE kind = 'steward' ORDER BY id")]


def test_anthropic_sdk_mode(setting, monkeypatch: pytest.MonkeyPatch) -> None:
    tree, conn, opened, state_for = setting
    with FakeAnthropic() as server:
        server.push(
            Reply.json(anthropic_message(content=[
                anthropic_tool_use_block("read_file", {"path": str(tree.secret)}, id="toolu_a"),
                anthropic_tool_use_block("read_file", {"path": "unregistered.txt"}, id="toolu_b")])),
            Reply.json(anthropic_message(content=[
                anthropic_tool_use_block("grep", {"pattern": "retry"}, id="toolu_c")])),
            Reply.json(anthropic_message("The notes say the retry budget is 4 attempts.")),
        )
        state, queued = ask_steward(state_for, "anthropic-sdk", server, monkeypatch)
    assert queued is True
    bodies = [r.json for r in server.api_requests()]
    assert len(bodies) == 3
    assert bodies[0]["model"] == "claude-haiku-5-5"
    refused = bodies[1]["messages"][-1]["content"]
    assert [(b["tool_use_id"], b["is_error"]) for b in refused] == [("toolu_a", True), ("toolu_b", True)]
    assert all(b["content"].startswith("out of scope:") for b in refused)
    found = bodies[2]["messages"][-1]["content"][0]["content"]
    assert "notes.md:2: retry budget is 4 attempts" in found
    assert all("TOP SECRET" not in str(b) and "not for the steward" not in str(b) for b in bodies)
    assert os.path.realpath(tree.secret) not in opened
    assert str((tree.launch / "unregistered.txt").resolve()) not in opened
    entry = steward_hooks.digest_fields(state)["steward_log"][0]
    assert entry["status"] == "ok" and entry["method"] == "subagent:anthropic-sdk"
    assert "retry budget is 4 attempts" in steward_messages(conn)[0]
    calls = conn.execute("SELECT backend, role, agent, model FROM llm_calls").fetchall()
    assert [tuple(c) for c in calls] == [("anthropic-sdk", "steward", "elena", "claude-fake")] * 3


def test_openai_compat_mode(setting, monkeypatch: pytest.MonkeyPatch) -> None:
    tree, conn, opened, state_for = setting
    with FakeOpenAI() as server:
        server.push(
            Reply.json(openai_chat_completion(None, tool_calls=[
                openai_tool_call("read_file", {"path": "../secret.txt"}, id="call_a"),
                openai_tool_call("grep", {"pattern": "SECRET", "path": "../*.txt"}, id="call_b")])),
            Reply.json(openai_chat_completion(None, tool_calls=[
                openai_tool_call("read_file", {"path": "notes.md", "start_line": 2, "end_line": 2},
                                 id="call_c")])),
            Reply.json(openai_chat_completion("Retry budget: 4 attempts (notes.md:2).")),
        )
        state, queued = ask_steward(state_for, "openai-compat", server, monkeypatch)
    assert queued is True
    bodies = [r.json for r in server.api_requests()]
    assert len(bodies) == 3
    assert bodies[0]["model"] == "gpt-4o-mini"
    tools = [m for m in bodies[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tools] == ["call_a", "call_b"]
    assert all(m["content"].startswith("out of scope:") for m in tools)
    read = [m for m in bodies[2]["messages"] if m["role"] == "tool"][-1]
    assert read["tool_call_id"] == "call_c" and "2: retry budget is 4 attempts" in read["content"]
    assert all("TOP SECRET" not in str(b) for b in bodies)
    assert os.path.realpath(tree.secret) not in opened
    under_tree = [p for p in opened if p.startswith(str(tree.root.resolve()) + os.sep)]
    assert under_tree == [str((tree.launch / "notes.md").resolve())]
    entry = steward_hooks.digest_fields(state)["steward_log"][0]
    assert entry["status"] == "ok" and entry["path"] == "notes.md"
    assert entry["method"] == "subagent:openai-compat"
    assert steward_messages(conn)[0].splitlines()[-1] == "Retry budget: 4 attempts (notes.md:2)."


def test_missing_key_is_an_error_result_not_a_crash(setting) -> None:
    _, conn, _, state_for = setting
    state = state_for("anthropic-sdk")
    steward_hooks.after_speech(state, "elena", QUESTION)
    steward_hooks.drain(state)
    entry = steward_hooks.digest_fields(state)["steward_log"][0]
    assert entry["status"] == "error" and "ANTHROPIC_API_KEY" in entry["output"]
    assert "ERROR" in steward_messages(conn)[0]


def test_transient_errors_are_retried_with_the_backend_policy(setting, monkeypatch) -> None:
    tree, conn, _, state_for = setting
    with FakeAnthropic() as server:
        server.push(Reply.error(529, headers={"retry-after-ms": "5"}),
                    Reply.json(anthropic_message("Nothing about that in the notes.")))
        state, _ = ask_steward(state_for, "anthropic-sdk", server, monkeypatch)
    assert len(server.api_requests()) == 2
    entry = steward_hooks.digest_fields(state)["steward_log"][0]
    assert entry["status"] == "ok" and entry["output"] == "Nothing about that in the notes."

"""ClaudeCLIBackend with the REAL Claude Code CLI pointed at a fake Anthropic server.

The CLI is installed by scripts/install_claude_cli.sh (pinned version, into ./.tools) or
given by AMATELIER_TEST_CLAUDE_BIN. Without it these tests skip and say why.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.backends_claude_cli import CLAUDE, needs_cli, point_claude_at
from tests.helpers.backends_config import fast_config, isolated_env
from tests.helpers.fake_llm_servers import FakeAnthropic, Reply, anthropic_message

from amatelier.backends.base import LLMCallError
from amatelier.backends.claude_cli import ClaudeCLIBackend

pytestmark = pytest.mark.wire


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    isolated_env(monkeypatch, tmp_path / "ws", keep_path=True)
    home = tmp_path / "home"
    home.mkdir()
    with FakeAnthropic() as fake:
        point_claude_at(monkeypatch, fake.url, tmp_path / "claude-config", api_key="x")
        monkeypatch.setenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        monkeypatch.setenv("HOME", str(home))
        yield fake


@needs_cli
def test_detected_through_amatelier_claude_bin(server: FakeAnthropic) -> None:
    available, how = ClaudeCLIBackend.detect(fast_config())
    assert available and str(CLAUDE) in how


@needs_cli
def test_result_text_usage_and_model_are_parsed(server: FakeAnthropic) -> None:
    backend = ClaudeCLIBackend(fast_config())
    result = backend.complete(system="You are Simon, triage and fix sequencing.",
                              prompt="Order these fixes: a, b, c", model="haiku", timeout=60)

    assert result.text == "fake reply to: Order these fixes: a, b, c"
    assert result.backend == "claude-code"
    assert result.model == "claude-haiku-5-5"  # the CLI's own alias mapping, read from modelUsage
    assert result.input_tokens > 0 and result.output_tokens > 0
    assert result.cache_write_tokens > 0  # the CLI marks system blocks cacheable; the fake counts them
    assert isinstance(result.cost_usd, float) and result.cost_usd > 0
    assert result.raw is not None and result.raw["is_error"] is False

    posts = server.api_requests()
    assert len(posts) == 1
    body = posts[0].json
    assert body["model"] == "claude-haiku-5-5"
    assert body["tools"] == []  # built-in tools are off: a plain answer
    assert any(block.get("text") == "You are Simon, triage and fix sequencing." for block in body["system"])
    assert body["messages"][0] == {"role": "user", "content": "Order these fixes: a, b, c"} or \
        "Order these fixes" in str(body["messages"][0]["content"])


@needs_cli
def test_scripted_usage_numbers_arrive(server: FakeAnthropic) -> None:
    server.push(Reply.json(anthropic_message("scripted answer", model="claude-sonnet-5-5", input_tokens=42,
                                             output_tokens=17, cache_read_input_tokens=900)))
    result = ClaudeCLIBackend(fast_config()).complete(system="s", prompt="p", model="sonnet", timeout=60)
    assert result.text == "scripted answer"
    # input_tokens counts all input (the CLI reports Anthropic's uncached 42 and 900 read)
    assert (result.input_tokens, result.output_tokens, result.cache_read_tokens) == (942, 17, 900)
    assert result.uncached_input_tokens == 42


@needs_cli
def test_server_error_becomes_clear_llm_call_error(server: FakeAnthropic,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "1")
    server.default = lambda request: (Reply.error(500) if request.path == "/v1/messages"
                                      else FakeAnthropic.default_reply(server, request))
    with pytest.raises(LLMCallError) as caught:
        ClaudeCLIBackend(fast_config()).complete(system="s", prompt="p", model="haiku", timeout=90)
    error = caught.value
    message = str(error)
    assert message.startswith("claude-code (model haiku):")
    assert "\n" not in message
    assert (error.backend, error.kind, error.status) == ("claude-code", "server", 500)
    assert "HTTP 500" in message and "API Error: 500" in message
    assert len(server.api_requests()) == 2  # CLAUDE_CODE_MAX_RETRIES=1: one retry, then it gives up


@needs_cli
def test_auth_error_is_reported_as_auth(server: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")
    server.default = lambda request: (Reply.error(401) if request.path == "/v1/messages"
                                      else FakeAnthropic.default_reply(server, request))
    with pytest.raises(LLMCallError) as caught:
        ClaudeCLIBackend(fast_config()).complete(system="s", prompt="p", model="opus", timeout=60)
    assert (caught.value.kind, caught.value.status) == ("auth", 401)
    assert str(caught.value).startswith("claude-code (model opus): HTTP 401")


@needs_cli
def test_cli_timeout_is_reported_as_timeout(server: FakeAnthropic) -> None:
    server.default = lambda request: Reply.sleep(30) if request.path == "/v1/messages" else \
        FakeAnthropic.default_reply(server, request)
    with pytest.raises(LLMCallError) as caught:
        ClaudeCLIBackend(fast_config()).complete(system="s", prompt="p", timeout=3)
    assert caught.value.kind == "timeout"
    assert "timed out after 3s" in str(caught.value)

"""AnthropicSDKBackend with the real `anthropic` SDK against a fake Messages API on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.backends_config import RecordingSleep, fast_config, serve_isolated
from tests.helpers.fake_llm_servers import (
    FakeAnthropic,
    Reply,
    anthropic_message,
    anthropic_text_block,
    anthropic_tool_use_block,
)

from amatelier.backends.anthropic_sdk import AnthropicSDKBackend
from amatelier.backends.base import LLMCallError

pytestmark = pytest.mark.wire
KEY = "sk-ant-test-secret-1234"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from serve_isolated(FakeAnthropic(), monkeypatch, tmp_path,
                              base_url_env="ANTHROPIC_BASE_URL", ANTHROPIC_API_KEY=KEY)


def test_text_usage_and_prompt_cache_reach_completion(server: FakeAnthropic) -> None:
    backend = AnthropicSDKBackend(fast_config())
    system = "You are Elena, the synthesis architect. " * 20

    first = backend.complete(system=system, prompt="Propose a plan.", model="haiku", max_tokens=77)
    second = backend.complete(system=system, prompt="Again.", model="haiku", max_tokens=77)

    assert first.text == "fake reply to: Propose a plan."
    assert first.backend == "anthropic-sdk"
    assert first.model == "claude-haiku-5-5"
    assert first.output_tokens > 0 and first.input_tokens > 0
    assert first.cache_write_tokens > 0 and first.cache_read_tokens == 0
    assert second.cache_read_tokens == first.cache_write_tokens and second.cache_write_tokens == 0
    assert first.stop_reason == "end_turn"
    assert first.latency_ms > 0

    body = server.api_requests()[0].json
    assert body["model"] == "claude-haiku-5-5"
    assert body["max_tokens"] == 77
    assert body["system"] == [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
    assert body["messages"] == [{"role": "user", "content": "Propose a plan."}]
    assert "stream" not in body or body["stream"] is False


def test_scripted_usage_numbers_are_copied_exactly(server: FakeAnthropic) -> None:
    server.push(Reply.json(anthropic_message("scripted", model="claude-sonnet-5-5-20260101",
                                             input_tokens=321, output_tokens=54,
                                             cache_creation_input_tokens=1000,
                                             cache_read_input_tokens=2000)))
    result = AnthropicSDKBackend(fast_config()).complete(system="s", prompt="p", model="sonnet")
    # input_tokens counts all input: Anthropic's uncached 321 plus the 1000 written and 2000 read
    assert (result.text, result.input_tokens, result.output_tokens) == ("scripted", 3321, 54)
    assert (result.cache_write_tokens, result.cache_read_tokens) == (1000, 2000)
    assert result.uncached_input_tokens == 321
    assert result.model == "claude-sonnet-5-5-20260101"


def test_only_text_blocks_make_the_text(server: FakeAnthropic) -> None:
    server.push(Reply.json(anthropic_message(content=[
        anthropic_text_block("Let me look. "),
        anthropic_tool_use_block("Read", {"path": "x"}),
        anthropic_text_block("Done."),
    ])))
    result = AnthropicSDKBackend(fast_config()).complete(system="s", prompt="p")
    assert result.text == "Let me look. Done."
    assert result.stop_reason == "tool_use"


def test_rate_limit_is_retried_honouring_retry_after(server: FakeAnthropic) -> None:
    server.push(Reply.error(429, headers={"retry-after-ms": "30"}))
    sleep = RecordingSleep()
    result = AnthropicSDKBackend(fast_config(), sleep=sleep).complete(system="s", prompt="hello")
    assert result.text == "fake reply to: hello"
    assert len(server.api_requests()) == 2
    assert sleep.waits == [pytest.approx(0.03)]


def test_retry_after_beyond_the_cap_fails_at_once_without_sleeping(server: FakeAnthropic) -> None:
    server.push(Reply.error(529, headers={"retry-after": "120"}))
    sleep = RecordingSleep()
    backend = AnthropicSDKBackend(fast_config(max_retry_after_s=0.05), sleep=sleep)
    with pytest.raises(LLMCallError) as caught:
        backend.complete(system="s", prompt="x")
    assert sleep.waits == [] and len(server.api_requests()) == 1
    assert caught.value.hold_s == 120.0 and "beyond the 0.05 s retry cap" in str(caught.value)


def test_unauthorized_is_not_retried_and_reads_clearly(server: FakeAnthropic) -> None:
    server.push(Reply.error(401))
    backend = AnthropicSDKBackend(fast_config())
    with pytest.raises(LLMCallError) as caught:
        backend.complete(system="s", prompt="x", model="opus")
    error = caught.value
    assert len(server.api_requests()) == 1
    assert (error.kind, error.status, error.backend, error.model) == ("auth", 401, "anthropic-sdk", "claude-opus-5-5")
    message = str(error)
    assert message.startswith("anthropic-sdk (model claude-opus-5-5): HTTP 401 authentication failed")
    assert "\n" not in message and KEY not in message


def test_bad_request_is_not_retried(server: FakeAnthropic) -> None:
    server.push(Reply.error(400), Reply.json(anthropic_message("never")))
    with pytest.raises(LLMCallError) as caught:
        AnthropicSDKBackend(fast_config()).complete(system="s", prompt="x")
    assert caught.value.kind == "bad_request"
    assert len(server.api_requests()) == 1


def test_persistent_server_error_gives_up_after_max_attempts(server: FakeAnthropic) -> None:
    server.default = lambda request: Reply.error(500)
    with pytest.raises(LLMCallError) as caught:
        AnthropicSDKBackend(fast_config(max_attempts=3)).complete(system="s", prompt="x")
    assert caught.value.kind == "server"
    assert "after 3 attempts" in str(caught.value)
    assert len(server.api_requests()) == 3


def test_timeout_is_reported_as_timeout(server: FakeAnthropic) -> None:
    server.default = lambda request: Reply.sleep(10)
    backend = AnthropicSDKBackend(fast_config(max_attempts=2))
    with pytest.raises(LLMCallError) as caught:
        backend.complete(system="s", prompt="x", timeout=0.3)
    assert caught.value.kind == "timeout"
    assert "timed out" in str(caught.value)
    assert len(server.api_requests()) == 2  # timeouts are transient: retried once, then reported


def test_client_is_public_and_shared(server: FakeAnthropic) -> None:
    backend = AnthropicSDKBackend(fast_config())
    client = backend.client()
    assert client is backend.client()
    assert client.max_retries == 0
    assert str(client.base_url).rstrip("/") == server.base_url
    message = client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "direct"}])
    assert message.content[0].text == "fake reply to: direct"

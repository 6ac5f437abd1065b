"""OpenAICompatBackend with the real `openai` SDK against a fake Chat Completions API."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.backends_config import RecordingSleep, fast_config, serve_isolated
from tests.helpers.fake_llm_servers import (
    FakeOpenAI,
    Reply,
    openai_chat_completion,
    openai_tool_call,
)

from amatelier.backends.base import LLMCallError
from amatelier.backends.openai_compat import OpenAICompatBackend

pytestmark = pytest.mark.wire
KEY = "sk-local-test-98765"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from serve_isolated(FakeOpenAI(), monkeypatch, tmp_path, AMATELIER_LLM_API_KEY=KEY)


def ollama_like(server: FakeOpenAI, **retry) -> dict:
    """The Ollama example's config shape: a base_url, a key variable and a model map."""
    return fast_config({"llm": {"openai_compat": {
        "base_url": server.base_url,
        "api_key_env": "AMATELIER_LLM_API_KEY",
        "model_map": {"sonnet": "llama3.1:70b", "haiku": "llama3.1:8b", "opus": "llama3.1:70b"},
    }}}, **retry)


def test_text_usage_and_cached_tokens_reach_completion(server: FakeOpenAI) -> None:
    backend = OpenAICompatBackend(ollama_like(server))
    system = "You are Clare, concise structural analysis. " * 10
    first = backend.complete(system=system, prompt="Review the plan.", model="haiku", max_tokens=50)
    second = backend.complete(system=system, prompt="Again.", model="haiku", max_tokens=50)

    assert first.text == "fake reply to: Review the plan."
    assert (first.backend, first.model) == ("openai-compat", "llama3.1:8b")
    assert first.input_tokens > 0 and first.output_tokens > 0
    assert first.cache_read_tokens == 0
    assert second.cache_read_tokens > 0  # the repeated system prefix was served from cache
    assert first.stop_reason == "stop"

    request = server.api_requests()[0]
    assert request.path == "/v1/chat/completions"
    assert request.header("authorization") == f"Bearer {KEY}"
    assert request.json["messages"] == [{"role": "system", "content": system},
                                        {"role": "user", "content": "Review the plan."}]
    assert request.json["model"] == "llama3.1:8b"
    assert request.json["max_tokens"] == 50  # non-OpenAI servers get the classic parameter


def test_scripted_usage_is_copied_exactly(server: FakeOpenAI) -> None:
    server.push(Reply.json(openai_chat_completion("scripted", model="gpt-4o-2026", prompt_tokens=500,
                                                  completion_tokens=40, cached_tokens=384)))
    result = OpenAICompatBackend(ollama_like(server)).complete(system="s", prompt="p", model="sonnet")
    assert (result.text, result.model) == ("scripted", "gpt-4o-2026")
    assert (result.input_tokens, result.output_tokens, result.cache_read_tokens) == (500, 40, 384)


def test_tool_call_reply_gives_empty_text_and_reason(server: FakeOpenAI) -> None:
    server.push(Reply.json(openai_chat_completion(None, tool_calls=[openai_tool_call("grep", {"q": "x"})])))
    result = OpenAICompatBackend(ollama_like(server)).complete(system="s", prompt="p")
    assert result.text == ""
    assert result.stop_reason == "tool_calls"


def test_rate_limit_retried_with_retry_after(server: FakeOpenAI) -> None:
    server.push(Reply.error(429, headers={"retry-after": "0.05"}))
    sleep = RecordingSleep()
    result = OpenAICompatBackend(ollama_like(server), sleep=sleep).complete(system="s", prompt="hi")
    assert result.text == "fake reply to: hi"
    assert len(server.api_requests()) == 2
    assert sleep.waits == [pytest.approx(0.05)]


def test_unauthorized_not_retried_and_key_not_echoed(server: FakeOpenAI) -> None:
    server.push(Reply.error(401, {"error": {"message": f"Incorrect API key provided: {KEY}",
                                            "type": "invalid_request_error", "code": "invalid_api_key"}}))
    with pytest.raises(LLMCallError) as caught:
        OpenAICompatBackend(ollama_like(server)).complete(system="s", prompt="x", model="opus")
    error = caught.value
    assert len(server.api_requests()) == 1
    assert (error.kind, error.status) == ("auth", 401)
    assert str(error).startswith("openai-compat (model llama3.1:70b): HTTP 401 authentication failed")
    assert KEY not in str(error)


def test_server_errors_exhaust_attempts(server: FakeOpenAI) -> None:
    server.default = lambda request: Reply.error(503)
    with pytest.raises(LLMCallError) as caught:
        OpenAICompatBackend(ollama_like(server, max_attempts=2)).complete(system="s", prompt="x")
    assert caught.value.kind == "server" and caught.value.status == 503
    assert len(server.api_requests()) == 2


def test_timeout_reported(server: FakeOpenAI) -> None:
    server.default = lambda request: Reply.sleep(10)
    with pytest.raises(LLMCallError) as caught:
        OpenAICompatBackend(ollama_like(server, max_attempts=1)).complete(system="s", prompt="x", timeout=0.3)
    assert caught.value.kind == "timeout"
    assert len(server.api_requests()) == 1


def test_openai_base_url_env_and_default_key(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    backend = OpenAICompatBackend(fast_config())
    assert backend.key_env == "OPENAI_API_KEY"
    result = backend.complete(system="", prompt="plain", model="haiku")
    assert result.model == "gpt-4o-mini"
    request = server.api_requests()[0]
    assert request.header("authorization") == "Bearer sk-openai-env"
    assert request.json["messages"] == [{"role": "user", "content": "plain"}]


def test_client_is_public(server: FakeOpenAI) -> None:
    backend = OpenAICompatBackend(ollama_like(server))
    client = backend.client()
    assert client is backend.client() and client.max_retries == 0
    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "direct"}])
    assert reply.choices[0].message.content == "fake reply to: direct"

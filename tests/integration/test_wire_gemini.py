"""GeminiBackend with the real `google-genai` SDK against a fake generateContent API."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.backends_config import fast_config, serve_isolated
from tests.helpers.fake_llm_servers import FakeGemini, Reply, gemini_error, gemini_response

from amatelier import paths
from amatelier.backends.base import LLMCallError
from amatelier.backends.gemini import GeminiBackend

pytestmark = pytest.mark.wire
KEY = "AIza-test-gemini-key-777"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from serve_isolated(FakeGemini(), monkeypatch, tmp_path, GEMINI_API_KEY=KEY)


def config_for(server: FakeGemini, **retry) -> dict:
    return fast_config({"llm": {"gemini": {"base_url": server.url}}}, **retry)


def test_text_and_usage_reach_completion(server: FakeGemini) -> None:
    server.push(Reply.json(gemini_response("Naomi sees a blind spot.", model="gemini-3-flash-preview-0101",
                                           prompt_tokens=120, candidates_tokens=9, cached_tokens=64,
                                           thoughts_tokens=5)))
    backend = GeminiBackend(config_for(server))
    result = backend.complete(system="You are Naomi.", prompt="What did they miss?", model="flash",
                              max_tokens=300)

    assert result.text == "Naomi sees a blind spot."
    assert (result.backend, result.model) == ("gemini", "gemini-3-flash-preview-0101")
    assert (result.input_tokens, result.output_tokens, result.cache_read_tokens) == (120, 14, 64)
    assert result.stop_reason == "STOP"

    request = server.api_requests()[0]
    assert request.path == "/v1/models/gemini-3-flash-preview:generateContent"
    assert request.header("x-goog-api-key") == KEY
    body = request.json
    assert body["contents"] == [{"parts": [{"text": "What did they miss?"}], "role": "user"}]
    assert body["systemInstruction"]["parts"] == [{"text": "You are Naomi."}]
    assert body["generationConfig"]["maxOutputTokens"] == 300


def test_every_role_token_maps_to_the_configured_model(server: FakeGemini) -> None:
    backend = GeminiBackend(config_for(server))
    for token in ("flash", "sonnet", "haiku", "opus"):
        assert backend.resolve_model(token) == "gemini-3-flash-preview"
    assert backend.resolve_model("gemini-2.5-pro") == "gemini-2.5-pro"
    backend.complete(system="s", prompt="p", model="gemini-2.5-pro")
    assert FakeGemini.model_of(server.api_requests()[0]) == "gemini-2.5-pro"


def test_env_base_url_is_honoured(server: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
    result = GeminiBackend(fast_config()).complete(system="s", prompt="via env")
    assert result.text == "fake reply to: via env"


def test_rate_limit_is_retried_then_succeeds(server: FakeGemini) -> None:
    server.push(Reply.error(429, headers={"retry-after": "0.02"}), Reply.error(503))
    waits: list[float] = []
    backend = GeminiBackend(config_for(server, max_attempts=3), sleep=waits.append)
    result = backend.complete(system="s", prompt="third time")
    assert result.text == "fake reply to: third time"
    assert len(server.api_requests()) == 3
    assert waits[0] == pytest.approx(0.02) and len(waits) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_auth_error_not_retried_logged_and_redacted(server: FakeGemini, status: int) -> None:
    server.push(Reply.error(status, gemini_error(status, f"API key {KEY} not valid")))
    with pytest.raises(LLMCallError) as caught:
        GeminiBackend(config_for(server)).complete(system="s", prompt="x", agent="naomi")
    error = caught.value
    assert len(server.api_requests()) == 1
    assert (error.kind, error.status, error.backend) == ("auth", status, "gemini")
    assert str(error).startswith(f"gemini (model gemini-3-flash-preview): HTTP {status} authentication failed")
    assert KEY not in str(error)
    log = (paths.user_logs_dir() / "gemini_errors.log").read_text(encoding="utf-8")
    assert "agent=naomi" in log and f"HTTP {status}" in log and KEY not in log


def test_timeout_reported(server: FakeGemini) -> None:
    server.default = lambda request: Reply.sleep(10)
    with pytest.raises(LLMCallError) as caught:
        GeminiBackend(config_for(server, max_attempts=2)).complete(system="s", prompt="x", timeout=0.3)
    assert caught.value.kind == "timeout"
    assert len(server.api_requests()) == 2


def test_client_is_kept_and_reused(server: FakeGemini) -> None:
    backend = GeminiBackend(config_for(server))
    assert backend.client() is backend.client()
    assert backend.complete(system="s", prompt="one").text == "fake reply to: one"
    assert backend.complete(system="s", prompt="two").text == "fake reply to: two"

"""The public facade as a user's own code uses it (EXAMPLES "programmatic LLM backend"):
`get_backend()` picks the mode from the environment, and the back-compat `call_claude()`
shim delegates to it, through the real anthropic SDK against a fake server."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.backends_config import serve_isolated
from tests.helpers.fake_llm_servers import FakeAnthropic

from amatelier import llm_backend

pytestmark = pytest.mark.wire


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    llm_backend.get_backend.cache_clear()
    yield from serve_isolated(FakeAnthropic(), monkeypatch, tmp_path, base_url_env="ANTHROPIC_BASE_URL",
                              AMATELIER_MODE="anthropic-sdk", ANTHROPIC_API_KEY="sk-ant-facade")
    llm_backend.get_backend.cache_clear()


def test_get_backend_completes_like_the_example(server: FakeAnthropic) -> None:
    backend = llm_backend.get_backend()
    result = backend.complete(system="You are a terse code reviewer.",
                              prompt="Review: def add(a, b): return a - b", model="haiku",
                              max_tokens=200, timeout=60.0)
    assert (result.backend, result.model) == ("anthropic-sdk", "claude-haiku-5-5")
    assert result.text == "fake reply to: Review: def add(a, b): return a - b"
    assert result.input_tokens > 0 and result.output_tokens > 0 and result.latency_ms > 0
    assert llm_backend.get_backend() is backend


def test_call_claude_shim_delegates_to_get_backend(server: FakeAnthropic) -> None:
    text = llm_backend.call_claude("You are Clare.", "Is this sound?", agent_name="clare", model="sonnet",
                                   max_tokens=64, timeout=30.0)
    assert text == "fake reply to: Is this sound?"
    [request] = server.api_requests()
    assert request.json["model"] == "claude-sonnet-5-5" and request.json["max_tokens"] == 64
    assert [b["text"] for b in request.json["system"]] == ["You are Clare."]
    assert request.header("authorization") == "Bearer sk-ant-facade"  # anthropic 2.x sends Bearer

"""Pure helpers of the backends: CLI result parsing, OpenAI routing and model maps, error mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers.backends_config import fast_config, isolated_env

from amatelier.backends import claude_cli
from amatelier.backends.base import LLMCallError
from amatelier.backends.claude_cli import (
    ClaudeCLIBackend,
    build_command,
    completion_from_result,
    error_from_result,
    parse_result,
)
from amatelier.backends.openai_compat import (
    OPENROUTER_BASE_URL,
    OpenAICompatBackend,
    effective_model_map,
    resolve_base_url,
)
from amatelier.backends.sdk_errors import body_message, translate_genai, translate_stainless

RESULT = {
    "type": "result", "subtype": "success", "is_error": False, "result": "The answer.",
    "stop_reason": "end_turn", "total_cost_usd": 0.0123,
    "usage": {"input_tokens": 11, "output_tokens": 7, "cache_creation_input_tokens": 1000,
              "cache_read_input_tokens": 250},
    "modelUsage": {"claude-sonnet-5-5": {"inputTokens": 11}},
}


def test_cli_command_line() -> None:
    command = build_command("/bin/claude", "sonnet", "be brief")
    assert command == ["/bin/claude", "-p", "--output-format", "json", "--model", "sonnet",
                       "--no-session-persistence", "--tools", "", "--strict-mcp-config",
                       "--system-prompt", "be brief"]
    with_file = build_command("/bin/claude", "opus", "x" * 10, system_file="/tmp/s.md", extra_args=["--bare"])
    assert with_file[-3:] == ["--system-prompt-file", "/tmp/s.md", "--bare"]
    assert "--system-prompt" not in with_file


def test_cli_result_parsing() -> None:
    assert parse_result(json.dumps(RESULT)) == RESULT
    assert parse_result("warning: something\n" + json.dumps(RESULT) + "\n") == RESULT
    assert parse_result("") is None
    assert parse_result("not json at all") is None
    completion = completion_from_result(RESULT, backend="claude-code", model="sonnet", latency_ms=5.0)
    assert (completion.text, completion.model, completion.cost_usd) == ("The answer.", "claude-sonnet-5-5", 0.0123)
    assert (completion.input_tokens, completion.output_tokens) == (11 + 1000 + 250, 7)
    assert (completion.cache_write_tokens, completion.cache_read_tokens) == (1000, 250)
    assert completion.uncached_input_tokens == 11


def test_cli_error_lines() -> None:
    failed = dict(RESULT, is_error=True, result="API Error: 529 Overloaded", api_error_status=529)
    error = error_from_result(failed, 1, "", backend="claude-code", model="sonnet")
    assert (error.kind, error.status) == ("server", 529)
    assert str(error) == "claude-code (model sonnet): HTTP 529 claude CLI error (exit 1): API Error: 529 Overloaded"
    budget = dict(RESULT, is_error=True, result="", subtype="error_max_budget_usd")
    assert "error_max_budget_usd" in str(error_from_result(budget, 1, "", backend="claude-code", model="m"))
    crashed = error_from_result(None, 2, "boot\nfatal: cannot start\n", backend="claude-code", model="m")
    assert crashed.kind == "cli" and str(crashed).endswith("(exit 2): fatal: cannot start")


def test_cli_missing_binary_is_a_cli_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws")
    with pytest.raises(LLMCallError) as caught:
        ClaudeCLIBackend(fast_config()).complete(system="s", prompt="p")
    assert caught.value.kind == "cli" and "claude CLI not found" in str(caught.value)


def test_cli_passes_long_system_prompts_through_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}

    def fake_run(command, **kwargs):
        seen["command"] = command
        path = command[command.index("--system-prompt-file") + 1]
        seen["system"] = Path(path).read_text(encoding="utf-8")
        seen["stdin"] = kwargs["input"]

        class Done:
            returncode = 0
            stdout = json.dumps(RESULT)
            stderr = ""
        return Done()

    monkeypatch.setattr(claude_cli.subprocess, "run", fake_run)
    system = "persona " * 20_000
    result = ClaudeCLIBackend(fast_config(), executable="/bin/claude").complete(system=system, prompt="go")
    assert result.text == "The answer."
    assert seen["system"] == system and seen["stdin"] == "go"
    assert not Path(seen["command"][seen["command"].index("--system-prompt-file") + 1]).exists()


def test_openai_base_url_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws")
    configured = {"llm": {"openai_compat": {"base_url": "http://localhost:11434/v1/"}}}
    assert resolve_base_url(configured, "OPENROUTER_API_KEY") == (
        "http://localhost:11434/v1", "config llm.openai_compat.base_url")
    assert resolve_base_url({}, "OPENROUTER_API_KEY")[0] == OPENROUTER_BASE_URL
    assert resolve_base_url({}, "OPENAI_API_KEY")[0] == "https://api.openai.com/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://vllm.local:8000/v1")
    assert resolve_base_url({}, "OPENAI_API_KEY") == ("http://vllm.local:8000/v1", "OPENAI_BASE_URL")


def test_openrouter_key_routes_and_maps_models(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or")
    backend = OpenAICompatBackend(fast_config())
    assert backend.base_url == OPENROUTER_BASE_URL and backend.routed_to_openrouter
    assert backend.resolve_model("sonnet") == "anthropic/claude-sonnet-4"
    assert backend.resolve_model("haiku") == "anthropic/claude-haiku-4-5"
    assert backend.resolve_model("meta-llama/llama-3-70b") == "meta-llama/llama-3-70b"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-oa")  # OpenAI wins when both are set
    plain = OpenAICompatBackend(fast_config())
    assert plain.key_env == "OPENAI_API_KEY" and plain.resolve_model("sonnet") == "gpt-4o"
    assert plain.is_openai_proper


def test_effective_model_map_keeps_user_pins_for_openrouter() -> None:
    bundled = {"model_map": {"sonnet": "gpt-4o", "haiku": "gpt-4o-mini"}}
    section = {"model_map": {"sonnet": "gpt-4o", "haiku": "my/custom-haiku"},
               "openrouter_model_map": {"sonnet": "anthropic/claude-sonnet-4", "haiku": "anthropic/h"}}
    assert effective_model_map(section, False, bundled) == section["model_map"]
    assert effective_model_map(section, True, bundled) == {"sonnet": "anthropic/claude-sonnet-4",
                                                           "haiku": "my/custom-haiku"}


def test_sdk_error_translation_with_real_exception_types() -> None:
    import anthropic
    import httpx2
    from google.genai import errors as genai_errors

    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    response = httpx2.Response(429, headers={"retry-after-ms": "250"}, request=request)
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    failure = translate_stainless(anthropic.RateLimitError("429", response=response, body=body))
    assert (failure.kind, failure.status, failure.retry_after_s, failure.detail) == ("rate_limit", 429, 0.25, "slow down")
    assert translate_stainless(anthropic.APITimeoutError(request=request)).kind == "timeout"
    assert translate_stainless(anthropic.APIConnectionError(request=request)).kind == "connection"
    assert translate_stainless(ValueError("not ours")) is None

    gresponse = httpx2.Response(503, request=request)
    gerror = genai_errors.ServerError(503, {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}},
                                      gresponse)
    failure = translate_genai(gerror)
    assert (failure.kind, failure.status) == ("server", 503) and "busy" in failure.detail
    assert translate_genai(httpx2.ReadTimeout("slow", request=request)).kind == "timeout"
    assert translate_genai(httpx2.ConnectError("refused", request=request)).kind == "connection"


def test_body_message_shapes() -> None:
    assert body_message({"error": {"message": "a"}}) == "a"
    assert body_message({"type": "error", "error": {"type": "x", "message": "b"}}) == "b"
    assert body_message({"message": "c"}) == "c"
    assert body_message({"error": "d"}) == "d"
    assert body_message(None) == ""

"""One meaning for tokens on every backend: input_tokens includes cached tokens (wire tests).

Each backend's real client talks to a fake provider that reports a call served partly from
the prompt cache, in that provider's own convention; the Completion and the llm_calls row
must both say: input_tokens = all input, with cache reads, writes and the uncached rest beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers.backends_claude_cli import needs_cli, point_claude_at
from tests.helpers.backends_config import fast_config, isolated_env
from tests.helpers.fake_llm_servers import (
    FakeAnthropic,
    FakeGemini,
    FakeOpenAI,
    Reply,
    anthropic_message,
    gemini_response,
    openai_chat_completion,
)

from amatelier.backends.anthropic_sdk import AnthropicSDKBackend
from amatelier.backends.base import Completion, LLMBackend
from amatelier.backends.claude_cli import ClaudeCLIBackend
from amatelier.backends.gemini import GeminiBackend
from amatelier.backends.offline import OfflineBackend
from amatelier.backends.openai_compat import OpenAICompatBackend
from amatelier.chat.db import open_db
from amatelier.chat.llm_calls import call_and_record

pytestmark = pytest.mark.wire


def record(backend: LLMBackend, tmp_path: Path) -> tuple[Completion, dict]:
    conn = open_db(tmp_path / "calls.db")
    completion = call_and_record(conn, backend, rt_id=None, agent="elena", role="speak",
                                 system="persona", prompt="the turn", model="sonnet", max_tokens=64)
    row = dict(conn.execute("SELECT * FROM llm_calls ORDER BY id DESC LIMIT 1").fetchone())
    conn.close()
    return completion, row


def assert_one_meaning(completion: Completion, row: dict, *, total: int, read: int, write: int) -> None:
    assert (completion.input_tokens, completion.cache_read_tokens, completion.cache_write_tokens) \
        == (total, read, write)
    assert completion.uncached_input_tokens == total - read - write
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"],
            row["uncached_input_tokens"]) == (total, read, write, total - read - write)
    assert row["prompt_chars"] == len("persona") + len("the turn")


def test_anthropic_sdk_adds_cache_reads_and_writes_to_input(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws", keep_path=True)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    with FakeAnthropic() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        # Anthropic's convention: usage.input_tokens is only the uncached part
        server.push(Reply.json(anthropic_message("ok", model="claude-sonnet-5-5", input_tokens=300,
                                                 output_tokens=20, cache_read_input_tokens=5000,
                                                 cache_creation_input_tokens=700)))
        completion, row = record(AnthropicSDKBackend(fast_config()), tmp_path)
    assert_one_meaning(completion, row, total=6000, read=5000, write=700)
    # priced from the table: 300 x $2 + 5000 x $0.10 + 700 x $2.50 + 20 x $10 (per million)
    assert row["cost_usd"] == pytest.approx((300 * 2 + 5000 * 0.1 + 700 * 2.5 + 20 * 10) / 1e6)


def test_openai_compat_prompt_tokens_already_include_cached(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws", keep_path=True)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        server.push(Reply.json(openai_chat_completion("ok", model="gpt-4o", prompt_tokens=6000,
                                                      completion_tokens=20, cached_tokens=5120)))
        completion, row = record(OpenAICompatBackend(fast_config()), tmp_path)
    assert_one_meaning(completion, row, total=6000, read=5120, write=0)
    assert row["cost_usd"] == pytest.approx((880 * 2.5 + 5120 * 1.25 + 20 * 10) / 1e6)


def test_gemini_prompt_token_count_already_includes_cached(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws", keep_path=True)
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-x")
    with FakeGemini() as server:
        server.push(Reply.json(gemini_response("ok", model="gemini-3-flash-preview", prompt_tokens=6000,
                                               candidates_tokens=20, cached_tokens=4096)))
        backend = GeminiBackend(fast_config({"llm": {"gemini": {"base_url": server.url}}}))
        completion, row = record(backend, tmp_path)
    assert_one_meaning(completion, row, total=6000, read=4096, write=0)
    assert row["cost_usd"] == pytest.approx((1904 * 0.5 + 4096 * 0.05 + 20 * 3.0) / 1e6)


def test_offline_counts_all_input_and_costs_nothing(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws", keep_path=True)
    completion, row = record(OfflineBackend(fast_config()), tmp_path)
    assert completion.input_tokens > 0 and completion.cache_read_tokens == 0
    assert row["uncached_input_tokens"] == row["input_tokens"] and row["cost_usd"] == 0.0


@needs_cli
def test_claude_code_adds_cache_and_keeps_the_cli_cost(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws", keep_path=True)
    with FakeAnthropic() as server:
        point_claude_at(monkeypatch, server.url, tmp_path / "claude", api_key="sk-ant-x")
        server.push(Reply.json(anthropic_message("ok", model="claude-sonnet-5-5", input_tokens=300,
                                                 output_tokens=20, cache_read_input_tokens=5000,
                                                 cache_creation_input_tokens=700)))
        completion, row = record(ClaudeCLIBackend(fast_config()), tmp_path)
    assert_one_meaning(completion, row, total=6000, read=5000, write=700)
    raw = completion.raw or {}
    assert row["cost_usd"] == raw.get("total_cost_usd")  # the CLI's own figure is kept
    assert json.dumps(raw)  # the CLI's result object is kept whole for diagnosis

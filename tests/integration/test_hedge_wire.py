"""A hedged call with the real anthropic SDK against a slow fake Messages API on 127.0.0.1.

The workspace has 20 earlier calls of the model at ~300 ms, so its p75 is the threshold.
The fake server holds the first request (the primary) for seconds and answers the second
(the hedge, sent once the threshold passed) at once: the hedge wins, and both requests
are rows of llm_calls. Request order is the server's arrival order; the hedge can only be
sent after the primary, so the outcome does not depend on timing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.backends_config import fast_config, serve_isolated
from tests.helpers.fake_llm_servers import FakeAnthropic, Reply, anthropic_message

from amatelier.backends.anthropic_sdk import AnthropicSDKBackend
from amatelier.chat.llm_calls import call_and_record

pytestmark = pytest.mark.wire
KEY = "sk-ant-test-hedge-5678"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from serve_isolated(FakeAnthropic(), monkeypatch, tmp_path,
                              base_url_env="ANTHROPIC_BASE_URL", ANTHROPIC_API_KEY=KEY)


def test_the_hedge_wins_against_a_slow_primary_and_both_calls_are_recorded(server: FakeAnthropic) -> None:
    from amatelier.chat.db import open_db

    config = fast_config({"llm": {"hedge": {"enabled": True, "percentile": 75, "min_samples": 20}}},
                         max_attempts=1)
    backend = AnthropicSDKBackend(config)
    backend.client()                                   # built up front: both requests go out at once
    conn = open_db()
    for _ in range(20):
        conn.execute("INSERT INTO llm_calls (backend, model, latency_ms, status, created_at)"
                     " VALUES ('anthropic-sdk', 'claude-haiku-5-5', 300, 'ok', '2026-01-01T00:00:00Z')")
    server.push(Reply.json(anthropic_message("slow primary", input_tokens=50, output_tokens=5), delay_s=5.0))
    server.push(Reply.json(anthropic_message("fast hedge", input_tokens=50, output_tokens=7)))

    result = call_and_record(conn, backend, rt_id=None, agent="elena", role="speak", system="s",
                             prompt="Propose a plan.", model="haiku")

    assert result.text == "fast hedge" and result.output_tokens == 7
    requests = server.api_requests()
    assert len(requests) == 2 and requests[0].json == requests[1].json   # the duplicate is the same request
    rows = [dict(r) for r in conn.execute("SELECT * FROM llm_calls WHERE agent = 'elena' ORDER BY id")]
    assert [(r["status"], r["backend"]) for r in rows] == [("ok", "anthropic-sdk"), ("abandoned", "anthropic-sdk")]
    assert rows[0]["output_tokens"] == 7 and rows[1]["input_tokens"] > 0
    hedged = dict(conn.execute("SELECT * FROM hedged_calls").fetchone())
    assert hedged["winner"] == "hedge" and hedged["threshold_ms"] == 300
    assert (hedged["hedge_call_id"], hedged["primary_call_id"]) == (rows[0]["id"], rows[1]["id"])
    assert hedged["model"] == "claude-haiku-5-5" and hedged["hedge_backend"] == "anthropic-sdk"
    conn.close()


def test_a_fast_primary_is_not_hedged(server: FakeAnthropic) -> None:
    from amatelier.chat.db import open_db

    config = fast_config({"llm": {"hedge": {"enabled": True, "percentile": 75, "min_samples": 20}}})
    backend = AnthropicSDKBackend(config)
    backend.client()
    conn = open_db()
    for _ in range(20):
        conn.execute("INSERT INTO llm_calls (backend, model, latency_ms, status, created_at)"
                     " VALUES ('anthropic-sdk', 'claude-haiku-5-5', 30000, 'ok', '2026-01-01T00:00:00Z')")
    result = call_and_record(conn, backend, rt_id=None, agent="elena", role="speak", system="s",
                             prompt="Propose a plan.", model="haiku")
    assert result.text == "fake reply to: Propose a plan."
    assert len(server.api_requests()) == 1
    assert conn.execute("SELECT COUNT(*) FROM hedged_calls").fetchone()[0] == 0
    conn.close()

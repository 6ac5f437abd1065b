"""Ceilings in the database: a call that could pass a limit is never made, even concurrently.

Real SQLite (WAL) and the real anthropic SDK against the fake Messages API: several threads,
each with its own connection (as separate worker processes have), race for a budget that fits
only some of their calls; the recorded total never passes the limit and the stop reason names it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from tests.helpers.backends_config import fast_config, isolated_env
from tests.helpers.fake_llm_servers import FakeAnthropic, RecordedRequest, Reply, anthropic_message

from amatelier import pricing
from amatelier.backends.anthropic_sdk import AnthropicSDKBackend
from amatelier.chat import roundtables, spend
from amatelier.chat.ceilings import Limits
from amatelier.chat.db import connect, open_db
from amatelier.chat.llm_calls import call_and_record, estimate_call

pytestmark = pytest.mark.wire
PROMPT = "Debate the monolith split. " * 200  # ~5.4k chars


@pytest.fixture
def anthropic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    isolated_env(monkeypatch, tmp_path / "ws", keep_path=True)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    with FakeAnthropic() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        server.default = short_answer
        yield server


def short_answer(request: RecordedRequest) -> Reply:
    """A real provider never answers past max_tokens: a short answer with honest usage."""
    body = request.json or {}
    prompt_tokens = len(json.dumps(body.get("messages", []))) // 4 + len(json.dumps(body.get("system", ""))) // 4
    return Reply.json(anthropic_message("A short position.", model=body.get("model", "x"),
                                        input_tokens=prompt_tokens,
                                        output_tokens=min(60, int(body.get("max_tokens", 60)))))


def open_rt(db: Path, limits: Limits) -> str:
    conn = open_db(db)
    rt_id = roundtables.open_roundtable(conn, "t", ["elena"], runner_pid=1)
    spend.set_limits(conn, rt_id, limits)
    conn.close()
    return rt_id


def one_call(db: Path, rt_id: str, agent: str, outcomes: list[str], role: str = "speak") -> None:
    conn = connect(db)
    backend = AnthropicSDKBackend(fast_config())
    try:
        call_and_record(conn, backend, rt_id=rt_id, agent=agent, role=role, system="persona",
                        prompt=PROMPT, model="sonnet", max_tokens=256)
        outcomes.append("ok")
    except spend.CeilingReached as exc:
        outcomes.append(exc.kind)
    finally:
        conn.close()


def test_concurrent_calls_never_pass_the_cost_ceiling(anthropic: FakeAnthropic, tmp_path: Path) -> None:
    db = tmp_path / "rt.db"
    worst = estimate_call(AnthropicSDKBackend(fast_config()), system="persona", prompt=PROMPT,
                          model="sonnet", max_tokens=256).cost_usd
    assert worst is not None and worst > 0
    limit = round(worst * 3.5 / 0.9, 6)  # room for three worst cases after the 10 % reserve
    rt_id = open_rt(db, Limits(max_cost_usd=limit))
    outcomes: list[str] = []
    threads = [threading.Thread(target=one_call, args=(db, rt_id, f"a{i}", outcomes)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    conn = connect(db)
    rows = [dict(r) for r in conn.execute("SELECT * FROM llm_calls WHERE rt_id = ?", (rt_id,))]
    total = sum(r["cost_usd"] for r in rows)
    # at least the three worst cases fit; calls that waited for others to be recorded may fit
    # too (their real cost is below the worst case), but never all eight
    assert 3 <= outcomes.count("ok") == len(rows) < 8
    assert outcomes.count("ceiling") == 8 - len(rows)
    assert total <= limit * 0.9
    assert conn.execute("SELECT COUNT(*) FROM llm_reservations").fetchone()[0] == 0  # holds released
    ceiling, reason = spend.stop_reason(conn, rt_id) or ("", "")
    assert ceiling == "max_cost_usd" and f"of the ${limit:.4f} limit" in reason
    assert len(anthropic.api_requests()) == len(rows)  # refused calls never reached the provider
    summary = spend.summary(conn, rt_id)
    assert summary is not None and summary["spent"]["cost_usd"] == pytest.approx(total, abs=1e-6)


def test_after_a_stop_only_the_decision_may_call_and_only_within_the_limit(
        anthropic: FakeAnthropic, tmp_path: Path) -> None:
    db = tmp_path / "rt.db"
    backend = AnthropicSDKBackend(fast_config())
    worst = estimate_call(backend, system="persona", prompt=PROMPT, model="sonnet", max_tokens=256)
    tokens_limit = int(worst.tokens * 1.5 / 0.9)
    rt_id = open_rt(db, Limits(max_tokens=tokens_limit))
    outcomes: list[str] = []
    one_call(db, rt_id, "elena", outcomes)
    one_call(db, rt_id, "marcus", outcomes)
    one_call(db, rt_id, "clare", outcomes)
    assert outcomes == ["ok", "ceiling", "ceiling"]
    conn = connect(db)
    assert (spend.stop_reason(conn, rt_id) or ("",))[0] == "max_tokens"
    # the closing decision may use the reserved share: a small call fits, a large one does not
    small = call_and_record(conn, backend, rt_id=rt_id, agent="judge", role="decision",
                            system="s", prompt="decide", model="sonnet", max_tokens=32)
    assert small.text
    with pytest.raises(spend.CeilingReached):
        call_and_record(conn, backend, rt_id=rt_id, agent="judge", role="decision", system="s",
                        prompt=PROMPT * 3, model="sonnet", max_tokens=256)
    used = conn.execute("SELECT SUM(input_tokens + output_tokens) FROM llm_calls WHERE rt_id = ?",
                        (rt_id,)).fetchone()[0]
    assert used <= tokens_limit


def test_an_unpriced_model_cannot_run_under_a_cost_ceiling(anthropic: FakeAnthropic, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "rt.db"
    rt_id = open_rt(db, Limits(max_cost_usd=1.0))
    conn = connect(db)
    backend = AnthropicSDKBackend(fast_config({"llm": {"model_map": {"anthropic-sdk": {
        "sonnet": "claude-unpriced-test-model"}}}}))
    with pytest.raises(spend.CeilingReached, match="no price"):
        call_and_record(conn, backend, rt_id=rt_id, agent="elena", role="speak", system="s",
                        prompt="p", model="sonnet", max_tokens=16)
    # without a ceiling the call is made, recorded with cost null, and warned about once
    free_rt = roundtables.open_roundtable(conn, "t2", ["elena"], runner_pid=1)
    for _ in range(2):
        call_and_record(conn, backend, rt_id=free_rt, agent="elena", role="speak", system="s",
                        prompt="p", model="sonnet", max_tokens=16)
    costs = [r[0] for r in conn.execute("SELECT cost_usd FROM llm_calls WHERE rt_id = ?", (free_rt,))]
    assert costs == [None, None]
    err = capsys.readouterr().err
    assert err.count("no price for model 'claude-unpriced-test-model'") == 1
    assert pricing.config_key_for("claude-unpriced-test-model") in err

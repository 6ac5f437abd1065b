"""Whole roundtables through real provider clients pointed at fake servers on 127.0.0.1.

* anthropic-sdk: the real anthropic SDK in every worker; the persona goes out as a
  cacheable system block and cache tokens add up in the digest.
* claude-code: the REAL Claude Code CLI (scripts/install_claude_cli.sh) in every worker.
* Naomi on Gemini (real google-genai) next to a Claude-side worker on the anthropic SDK.
* A provider that keeps failing for one agent: that agent "did not respond", the
  roundtable still completes, and the digest counts the errors.

Small on purpose: two workers, one round, budget 1, --skip-post (judge scoring and skill
distillation still run, through the same fake servers).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers.backends_claude_cli import CLAUDE, needs_cli
from tests.helpers.backends_config import FAST_RETRY
from tests.helpers.fake_llm_servers import FakeAnthropic, FakeGemini
from tests.helpers.roundtable_run import (
    messages,
    roundtable_args,
    rows,
    rt_env,
    run_cli,
    write_config,
)
from tests.helpers.ux_scripted_replies import anthropic_reply, gemini_reply, turn_agent

pytestmark = [pytest.mark.e2e, pytest.mark.wire]

SMALL = ("--max-rounds", "1", "--budget", "1", "--skip-post")
DEBATE_ROLES = ("speak", "rebuttal", "floor", "gate")
def _anthropic_env(tmp_path: Path, server: FakeAnthropic, **extra: str) -> dict[str, str]:
    write_config(tmp_path, {"llm": {"retry": FAST_RETRY}})
    return rt_env(tmp_path, AMATELIER_MODE="anthropic-sdk", ANTHROPIC_API_KEY="sk-ant-fake",
                  ANTHROPIC_BASE_URL=server.url, **extra)


def _run(tmp_path: Path, env: dict[str, str], workers: str, timeout: float = 240) -> dict:
    result = run_cli(roundtable_args("split the monolith?", "--workers", workers, *SMALL), env,
                     timeout=timeout)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def _debate_calls(workspace: Path) -> list[dict]:
    return [c for c in rows(workspace, "SELECT * FROM llm_calls ORDER BY id") if c["role"] in DEBATE_ROLES]


def _turn_requests(server: FakeAnthropic) -> list:
    return [r for r in server.api_requests() if r.path == "/v1/messages" and turn_agent(r)]


def _assert_post_steps_succeeded(digest: dict, workers: list[str]) -> None:
    for worker in workers:
        score = digest["scores"][worker]
        assert "unscored" not in score, score
        assert score["total"] == 5  # 1 + 2 + 1 + 1 from the scripted Judge answer
    assert digest["skills_distilled"] == 2 and "distill_error" not in digest
    assert "hook_errors" not in digest
    # The chair ran on the same provider and its record cites the debate; every turn declared a position.
    assert digest["decision"]["synthesized"] is True and digest["decision"]["chair"]["repaired"] is False
    assert digest["positions_missing"] == 0 and digest["positions"]["declared"] > 0


def test_anthropic_sdk_roundtable_caches_the_persona_and_sums_cache_tokens(tmp_path):
    with FakeAnthropic() as server:
        server.default = anthropic_reply(server)
        digest = _run(tmp_path, _anthropic_env(tmp_path, server), "elena,marcus")
        turn_requests = _turn_requests(server)

    assert digest["mode"] == "anthropic-sdk" and not digest["offline"] and digest["status"] == "closed"
    # Round 1: SPEAK x2, REBUTTAL x2, the gate (CONTINUE + a GATE award), one floor contribution each.
    assert [i["signal"] for i in digest["judge_interventions"]] == ["CONTINUE", "GATE"]
    assert digest["budget_usage"] == {"elena": {"spent": 1, "budget": 1}, "marcus": {"spent": 1, "budget": 1}}
    assert len(turn_requests) == 7

    for request in turn_requests:
        body = request.json
        agent = turn_agent(request)
        assert body["model"] == "claude-sonnet-5-5"
        [block] = body["system"]
        assert block["type"] == "text" and agent.capitalize() in block["text"]
        content = body["messages"][-1]["content"]  # text blocks split at the cached prefixes
        prompt = content if isinstance(content, str) else "".join(b["text"] for b in content)
        # the persona is cached on its own when it reaches Sonnet's 1,024-token minimum, else
        # together with the briefing (the first prompt block); never more than 4 breakpoints
        marks = [b for b in [block, *([] if isinstance(content, str) else content)] if b.get("cache_control")]
        assert 1 <= len(marks) <= 4
        assert block.get("cache_control") == ({"type": "ephemeral"} if len(block["text"]) >= 4096 else None)
        assert f"AGENT: {agent}" in prompt and "=== YOUR TASK ===" in prompt
        assert "Reply with the text of your message only" in prompt

    calls = _debate_calls(tmp_path)
    assert len(calls) == digest["llm_usage"]["debate"]["calls"] == 7
    assert all(c["status"] == "ok" and c["backend"] == "anthropic-sdk" for c in calls)
    # The fake reports a cache write the first time it sees a persona and reads afterwards.
    # (the Judge's short persona rides with the briefing; this fake caches system blocks only)
    for agent in ("elena", "marcus"):
        mine = [c for c in calls if c["agent"] == agent]
        assert mine[0]["cache_write_tokens"] > 0
        assert all(c["cache_read_tokens"] > 0 for c in mine[1:])
    usage = digest["llm_usage"]["debate"]
    assert usage["cache_read_tokens"] == sum(c["cache_read_tokens"] for c in calls) > 0
    assert usage["cache_write_tokens"] == sum(c["cache_write_tokens"] for c in calls) > 0
    _assert_post_steps_succeeded(digest, ["elena", "marcus"])


@needs_cli
def test_claude_code_roundtable_with_the_real_cli(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with FakeAnthropic() as server:
        server.default = anthropic_reply(server)
        write_config(tmp_path / "ws", {"llm": {"retry": FAST_RETRY}})
        env = rt_env(tmp_path / "ws", AMATELIER_MODE="claude-code", AMATELIER_CLAUDE_BIN=str(CLAUDE),
                     ANTHROPIC_API_KEY="sk-ant-fake", ANTHROPIC_BASE_URL=server.url,
                     CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
                     CLAUDE_CONFIG_DIR=str(tmp_path / "claude-config"), HOME=str(home))
        digest = _run(tmp_path / "ws", env, "elena,clare", timeout=600)
        turn_requests = _turn_requests(server)

    assert digest["mode"] == "claude-code" and digest["status"] == "closed"
    assert digest["worker_models"]["elena"]["model"] == "sonnet"  # the CLI's own alias is passed
    assert digest["worker_models"]["clare"]["model"] == "haiku"
    assert [i["signal"] for i in digest["judge_interventions"]] == ["CONTINUE", "GATE"]
    assert len(turn_requests) == 7
    models = {turn_agent(r): r.json["model"] for r in turn_requests}
    assert models == {"elena": "claude-sonnet-5-5", "clare": "claude-haiku-5-5", "judge": "claude-sonnet-5-5"}
    for request in turn_requests:
        system = "".join(b.get("text", "") for b in request.json["system"])
        assert turn_agent(request).capitalize() in system  # our persona reached the model
    calls = _debate_calls(tmp_path / "ws")
    assert len(calls) == 7 and all(c["status"] == "ok" and c["backend"] == "claude-code" for c in calls)
    assert {c["model"] for c in calls} == {"claude-sonnet-5-5", "claude-haiku-5-5"}  # read from the CLI result
    assert digest["llm_usage"]["input_tokens"] > 0 and digest["llm_usage"]["cost_usd"] > 0
    _assert_post_steps_succeeded(digest, ["elena", "clare"])


def test_naomi_on_gemini_next_to_a_claude_worker(tmp_path):
    with FakeAnthropic() as claude_side, FakeGemini() as gemini:
        claude_side.default = anthropic_reply(claude_side)
        gemini.default = gemini_reply(gemini)
        write_config(tmp_path, {"llm": {"retry": FAST_RETRY, "gemini": {"base_url": gemini.url}}})
        env = rt_env(tmp_path, AMATELIER_MODE="anthropic-sdk", ANTHROPIC_API_KEY="sk-ant-fake",
                     ANTHROPIC_BASE_URL=claude_side.url, GEMINI_API_KEY="gm-fake")
        digest = _run(tmp_path, env, "elena,naomi")
        gemini_requests = gemini.api_requests()
        claude_turns = _turn_requests(claude_side)

    assert digest["worker_models"]["naomi"] == {"role": "cross-model blind-spot catcher", "backend": "gemini",
                                                "model": "gemini-3-flash-preview"}
    assert digest["worker_models"]["elena"]["backend"] == "anthropic-sdk"
    assert "naomi skipped" not in json.dumps(digest.get("warnings", []))
    # Naomi's three turns (speak, rebuttal, floor) went to Gemini with her persona; none to Anthropic.
    assert len(gemini_requests) == 3
    for request in gemini_requests:
        assert request.path.endswith("/models/gemini-3-flash-preview:generateContent")
        assert request.header("x-goog-api-key") == "gm-fake"
        system = "".join(p["text"] for p in request.json["systemInstruction"]["parts"])
        assert "Naomi" in system and "AGENT: naomi" in request.user_text()
    assert {turn_agent(r) for r in claude_turns} == {"elena", "judge"}
    calls = _debate_calls(tmp_path)
    assert {c["backend"] for c in calls if c["agent"] == "naomi"} == {"gemini"}
    assert {c["backend"] for c in calls if c["agent"] != "naomi"} == {"anthropic-sdk"}
    spoken = {m["agent"] for m in messages(tmp_path, digest["rt_id"]) if m["kind"] == "speech"}
    assert spoken == {"elena", "naomi"}
    assert digest["llm_usage"]["debate"]["by_agent"]["naomi"]["calls"] == 3
    _assert_post_steps_succeeded(digest, ["elena", "naomi"])


def test_a_provider_failing_for_one_agent_does_not_stop_the_roundtable(tmp_path):
    with FakeAnthropic() as server:
        server.default = anthropic_reply(server, fail_agent="marcus")
        digest = _run(tmp_path, _anthropic_env(tmp_path, server), "elena,marcus")
        marcus_requests = [r for r in server.api_requests() if turn_agent(r) == "marcus"]

    assert digest["status"] == "closed" and "cut_reason" not in digest
    transcript = messages(tmp_path, digest["rt_id"])
    silent = [m["content"] for m in transcript if m["agent"] == "runner" and "marcus did not respond" in m["content"]]
    assert len(silent) == 2  # SPEAK, REBUTTAL (no answer asked for the floor, so no FLOOR call)
    assert all("500" in line for line in silent)
    assert not [m for m in transcript if m["agent"] == "marcus"]
    # Every failed call was retried (FAST_RETRY: 3 attempts) before it was given up.
    assert len(marcus_requests) == 2 * FAST_RETRY["max_attempts"]
    usage = digest["llm_usage"]["debate"]
    assert usage["errors"] == 2 and usage["by_agent"]["marcus"]["errors"] == 2
    assert usage["by_agent"]["marcus"]["retries"] == 2 * (FAST_RETRY["max_attempts"] - 1)
    # two calls failed for good with 5xx: the breaker holds marcus's model (breaker_failures = 2)
    assert [e["agent"] for e in digest["engine"]["events"] if e["event"] == "breaker"] == ["marcus"]
    assert usage["by_agent"]["elena"]["errors"] == 0
    assert digest["engine"]["turn_status"].get("failed") == 2
    assert digest["final_positions"].get("elena") and not digest["final_positions"].get("marcus")
    assert digest["budget_usage"]["marcus"]["spent"] == 0


def test_unusable_model_answers_degrade_cleanly(tmp_path):
    """A model that only echoes: no gate decision, no scores, no skills; the run still succeeds."""
    with FakeAnthropic() as server:  # the fake's default reply: "fake reply to: <prompt>"
        digest = _run(tmp_path, _anthropic_env(tmp_path, server), "elena,marcus")
        roles = [r["role"] for r in rows(tmp_path, "SELECT role FROM llm_calls ORDER BY id")]

    assert digest["status"] == "closed" and not digest["converged"]
    assert digest["judge_interventions"] == []
    assert roles.count("score") == 1 and roles.count("score-repair") == 1  # one repair, then give up
    for worker in ("elena", "marcus"):
        assert "judge output invalid after one repair" in digest["scores"][worker]["unscored"]
    assert digest["skills_distilled"] == 0 and digest["distill_error"] == "non-json"
    assert "hook_errors" not in digest

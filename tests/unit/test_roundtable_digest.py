"""Digest building, the human summary, and runner planning (bad input writes nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amatelier.commands.errors import UserError
from amatelier.config import ConfigError
from amatelier.debate.digest import build_digest, format_digest_summary, llm_usage, percentile
from amatelier.debate.runner import RunOptions, budget_status, parse_workers, plan_roundtable
from amatelier.debate.worker import parse_fault


def _msg(i, agent, content, kind="speech", round_no=1, phase="SPEAK"):
    return {"id": i, "agent": agent, "kind": kind, "round": round_no, "phase": phase, "content": content}


def _digest(**kw):
    messages = [
        _msg(1, "runner", "BRIEFING:\n\nb", kind="briefing", phase=None),
        _msg(2, "elena", "first position"),
        _msg(3, "marcus", "objection"),
        _msg(4, "judge", "CONTINUE: not yet\nGATE: marcus — sharp", kind="judge", phase="GATE"),
        _msg(5, "elena", "refined position", round_no=2),
        _msg(6, "marcus", "PASS", phase="FLOOR"),
        _msg(7, "judge", "CONVERGED: stable", kind="judge", round_no=2, phase="GATE"),
    ]
    calls = [
        {"agent": "elena", "role": "speak", "status": "ok", "input_tokens": 100, "output_tokens": 10, "cache_read_tokens": 40,
         "cache_write_tokens": 5, "latency_ms": 10.0, "cost_usd": 0.01},
        {"agent": "marcus", "role": "speak", "status": "ok", "input_tokens": 50, "output_tokens": 5, "cache_read_tokens": 0,
         "cache_write_tokens": 0, "latency_ms": 30.0, "cost_usd": None},
        {"agent": "marcus", "role": "rebuttal", "status": "error", "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0,
         "cache_write_tokens": 0, "latency_ms": 500.0, "cost_usd": None},
    ]
    base = dict(rt={"id": "abc", "topic": "T", "status": "closed", "created_at": "2026-01-01T00:00:00Z",
                    "closed_at": "2026-01-01T00:01:30Z"},
                messages=messages, calls=calls, workers=["elena", "marcus"], judge="judge", mode="offline",
                rounds=2, converged=True, convergence_reason="stable", budget_start={"elena": 3, "marcus": 3},
                budgets={"elena": 2, "marcus": 3}, stability_scores={2: {"elena": 0.5}},
                worker_models={"elena": {"role": "r", "backend": "offline", "model": "offline-sonnet"}})
    base.update(kw)
    return build_digest(**base)


def test_digest_fields():
    d = _digest()
    assert d["rt_id"] == "abc" and d["duration_s"] == 90.0 and d["total_messages"] == 7
    assert d["contributions"] == {"elena": 2, "marcus": 1, "judge": 2}  # PASS is not a contribution
    assert d["final_positions"] == {"elena": "refined position", "marcus": "objection"}  # PASS is no position
    assert d["budget_usage"] == {"elena": {"spent": 1, "budget": 3}, "marcus": {"spent": 0, "budget": 3}}
    assert [i["signal"] for i in d["judge_interventions"]] == ["CONTINUE", "GATE", "CONVERGED"]
    assert d["stability_scores"] == {"2": {"elena": 0.5}}
    usage = d["llm_usage"]
    assert (usage["calls"], usage["errors"], usage["input_tokens"], usage["cache_read_tokens"]) == (3, 1, 150, 40)
    assert usage["by_agent"]["marcus"]["errors"] == 1 and usage["cost_usd"] == 0.01
    assert "cut_reason" not in d


def test_usage_counts_every_call_and_splits_out_the_debate():
    calls = [
        {"agent": "elena", "role": "speak", "status": "ok", "input_tokens": 100, "output_tokens": 10,
         "latency_ms": 10.0},
        {"agent": "judge", "role": "gate", "status": "ok", "input_tokens": 40, "output_tokens": 4,
         "latency_ms": 20.0},
        {"agent": "judge", "role": "score", "status": "ok", "input_tokens": 900, "output_tokens": 90,
         "latency_ms": 300.0, "cost_usd": 0.02},
        {"agent": "distiller", "role": "distill", "status": "error", "input_tokens": 0, "output_tokens": 0,
         "latency_ms": 5.0},
    ]
    usage = llm_usage(calls)
    assert (usage["calls"], usage["errors"], usage["input_tokens"]) == (4, 1, 1040)
    assert usage["cost_usd"] == 0.02
    assert set(usage["by_role"]) == {"speak", "gate", "score", "distill"}
    assert usage["by_role"]["score"]["input_tokens"] == 900
    debate = usage["debate"]
    assert (debate["calls"], debate["errors"], debate["input_tokens"]) == (2, 0, 140)
    assert set(debate["by_agent"]) == {"elena", "judge"} and debate["by_agent"]["judge"]["calls"] == 1
    assert debate["cost_usd"] is None
    line = next(x for x in format_digest_summary(_digest(calls=calls)).splitlines()
                if x.startswith("LLM USAGE:"))
    assert line.startswith("LLM USAGE: 4 calls (2 in the debate), 1 errors, 1040 in / 104 out tokens")
    cost = next(x for x in format_digest_summary(_digest(calls=calls)).splitlines() if x.startswith("COST:"))
    # the cost line: total and per agent; the two debate calls without a price are named
    assert cost == ("COST: $0.0200 (judge $0.0200); 2 call(s) to models without a price "
                    "(see docs/reference/pricing.md)")
    assert usage["by_agent"]["judge"]["cost_usd"] == 0.02 and usage["unpriced_calls"] == 2


def test_cut_digest_has_reason():
    d = _digest(rt={"id": "x", "topic": "T", "status": "cut", "cut_reason": "terminated",
                    "created_at": "2026-01-01T00:00:00Z", "closed_at": None})
    assert d["cut_reason"] == "terminated" and d["duration_s"] is None


def test_percentile_and_usage_of_nothing():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile(list(range(1, 101)), 50) == 50 and percentile(list(range(1, 101)), 95) == 95
    assert llm_usage([])["calls"] == 0 and llm_usage([])["latency_p50_ms"] is None


def test_summary_lines():
    text = format_digest_summary(_digest(), "/x/digest-abc.json")
    lines = text.splitlines()
    assert lines[0] == "TOPIC: T"
    assert "(offline backend — no model was called)" in lines
    assert "CONVERGED: yes — stable" in lines and "JUDGE INTERVENTIONS: 3" in lines
    assert "  elena: spent 1/3" in lines and "  [elena]: refined position" in lines
    assert any(line.startswith("LLM USAGE: 3 calls, 1 errors, 150 in / 15 out tokens (40 cached)")
               for line in lines)
    assert lines[-1] == "DIGEST: /x/digest-abc.json"
    assert "offline backend" not in format_digest_summary(_digest(mode="anthropic-sdk"))


def test_fault_spec_parsing():
    assert parse_fault("elena:2:crash,marcus:1:hang,elena:x:crash,bad", "elena") == {2: "crash"}
    assert parse_fault(None, "elena") == {}


def test_worker_list_and_budget_line():
    assert parse_workers(" Elena, marcus,elena ,") == ["elena", "marcus"]
    assert parse_workers(None) is None
    assert budget_status({"elena": 1}, {"elena": 3}) == "BUDGET STATUS: elena 1/3"


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("AMATELIER_MODE", "offline")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    return tmp_path


BRIEF = str(Path(__file__).resolve().parents[2] / "examples" / "briefings" / "hello-world.md")


def test_plan_defaults_include_naomi_offline(offline):
    plan = plan_roundtable(RunOptions(topic="t", briefing=BRIEF))
    assert plan.workers == ["elena", "marcus", "clare", "simon", "naomi"]
    assert (plan.max_rounds, plan.budget, plan.speaker_timeout) == (3, 3, 200.0)
    assert plan_roundtable(RunOptions(topic="t", briefing=BRIEF, skip_naomi=True)).workers[-1] == "simon"
    assert not (offline / "ws").exists()  # planning writes nothing


def test_plan_drops_naomi_without_gemini_key(offline, monkeypatch):
    monkeypatch.setenv("AMATELIER_MODE", "openai-compat")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    plan = plan_roundtable(RunOptions(topic="t", briefing=BRIEF))
    assert "naomi" not in plan.workers
    assert plan.warnings and plan.warnings[0].startswith("naomi skipped: GEMINI_API_KEY is not set")


@pytest.mark.parametrize(("opts", "message"), [
    (dict(briefing="missing.md"), "briefing not found: missing.md"),
    (dict(briefing=str(Path(BRIEF).parent)), "is a directory; give the briefing's markdown file"),
    (dict(workers=["elena", "zed"]), "unknown worker 'zed' (known agents: clare, elena, marcus, naomi, simon)"),
    (dict(max_rounds=21), "--max-rounds must be between 1 and 20"),
    (dict(budget=-1), "--budget must be between 0 and 50"),
    (dict(speaker_timeout=3601), "--speaker-timeout must be between 1 and 3600"),
    (dict(topic="  "), "--topic must not be empty"),
])
def test_plan_rejects_bad_input(offline, opts, message):
    base = dict(topic="t", briefing=BRIEF)
    base.update(opts)
    with pytest.raises(UserError) as err:
        plan_roundtable(RunOptions(**base))
    assert message in str(err.value)
    assert not (offline / "ws").exists()


@pytest.mark.parametrize(("override", "key", "text"), [
    ({"max_rounds": 0}, "roundtable.max_rounds", "must be between 1 and 20 (got 0; --max-rounds overrides it)"),
    ({"budget_per_agent": 2.5}, "roundtable.budget_per_agent", "expected a whole number, got 2.5"),
    ({"speaker_timeout_s": 0.5}, "roundtable.speaker_timeout_s",
     "must be between 1 and 3600 (got 0.5; --speaker-timeout overrides it)"),
])
def test_a_bad_config_default_names_the_file_and_key_not_a_flag(offline, override, key, text):
    workspace = offline / "ws"
    workspace.mkdir()
    (workspace / "config.json").write_text(json.dumps({"roundtable": override}), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        plan_roundtable(RunOptions(topic="t", briefing=BRIEF))
    assert (err.value.file, err.value.key) == (str((workspace / "config.json").resolve()), key)
    assert text in str(err.value) and "--" not in str(err.value).split(":")[0]
    # a flag given on the command line replaces the bad default
    plan = plan_roundtable(RunOptions(topic="t", briefing=BRIEF, max_rounds=2, budget=1, speaker_timeout=5))
    assert (plan.max_rounds, plan.budget, plan.speaker_timeout) == (2, 1, 5)
    assert [p.name for p in workspace.iterdir()] == ["config.json"]


def test_briefing_is_looked_up_in_the_user_dir_first(offline):
    user_dir = offline / "ws" / "roundtable-server"
    user_dir.mkdir(parents=True)
    (user_dir / "briefing-mine.md").write_text("# mine\n- a fact")
    plan = plan_roundtable(RunOptions(topic="t", briefing="briefing-mine.md"))
    assert plan.briefing_path == (user_dir / "briefing-mine.md").resolve()


def test_summary_shows_fields_other_areas_merge():
    digest = _digest()
    digest.update({"scores": {"elena": {"total": 7}, "marcus": {"unscored": "no backend"}},
                   "sparks_earned": {"elena": 4, "marcus": -8}, "skills_distilled": 11})
    lines = format_digest_summary(digest).splitlines()
    assert "SCORES: elena: 7, marcus: unscored" in lines
    assert "SPARKS: elena: +4, marcus: -8" in lines
    assert "SKILLS DISTILLED: 11" in lines

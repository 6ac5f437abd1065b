"""Judge scoring end to end against a scripted model: repair once, then unscored; never invented."""

from __future__ import annotations

import json

from tests.helpers.economy_support import ScriptedBackend, make_rt, valid_score_json

from amatelier.backends.base import LLMCallError
from amatelier.chat import messages
from amatelier.judging import scoring as judge

pytest_plugins = ["tests.helpers.economy_fixtures"]

W = ["elena", "marcus"]


def _rt(conn) -> str:
    rt = make_rt(conn, "rt1", W)
    messages.post(conn, rt, "runner", "BRIEFING: choose a queue", kind="briefing")
    messages.post(conn, rt, "elena", "Use a log-structured queue.", kind="speech", round=1, phase="speak")
    messages.post(conn, rt, "marcus", "That loses ordering.", kind="speech", round=1, phase="speak")
    return rt


def _calls(conn) -> list[tuple[str, str]]:
    return [(r["role"], r["status"]) for r in conn.execute("SELECT role, status FROM llm_calls ORDER BY id")]


def test_valid_first_answer(econ_db, econ_config) -> None:
    rt = _rt(econ_db)
    backend = ScriptedBackend([valid_score_json(W)])
    outcome = judge.judge_score(econ_db, rt, W, backend=backend, config=econ_config, topic="q")
    assert not outcome.repaired and all(s.scored for s in outcome.scores.values())
    call = backend.calls[0]
    assert call["task"] == "score" and call["agent"] == "judge" and call["model"] == "sonnet"
    assert "WORKERS: elena, marcus" in call["prompt"] and "Use a log-structured queue." in call["prompt"]
    assert _calls(econ_db) == [("score", "ok")]


def test_repair_fixes_the_answer(econ_db, econ_config) -> None:
    rt = _rt(econ_db)
    bad = json.dumps({"scores": {"elena": {"novelty": 5, "accuracy": 1, "impact": 1, "challenge": 1},
                                 "marcus": {"novelty": 1, "accuracy": 1, "impact": 1, "challenge": 1}}})
    backend = ScriptedBackend([bad, valid_score_json(["elena"], (2, 2, 1, 1))])
    outcome = judge.judge_score(econ_db, rt, W, backend=backend, config=econ_config)
    assert outcome.repaired
    assert outcome.scores["elena"].axes == {"novelty": 2, "accuracy": 2, "impact": 1, "challenge": 1}
    assert outcome.scores["marcus"].total == 4              # valid first time, kept
    repair = backend.calls[1]
    assert repair["task"] == "score-repair"
    assert "elena.novelty = 5 is outside the scale {0, 1, 2, 3, 10}" in repair["prompt"]
    assert "WORKERS: elena\n" in repair["prompt"]
    assert _calls(econ_db) == [("score", "ok"), ("score-repair", "ok")]


def test_still_invalid_after_repair_is_unscored_with_the_reason(econ_db, econ_config) -> None:
    rt = _rt(econ_db)
    backend = ScriptedBackend(["not json at all", '{"scores": {"elena": {"novelty": 7}}}', "never asked"])
    outcome = judge.judge_score(econ_db, rt, W, backend=backend, config=econ_config)
    assert len(backend.calls) == 2                          # exactly one repair
    assert not outcome.scores["elena"].scored and not outcome.scores["marcus"].scored
    assert "elena.novelty = 7 is outside the scale" in outcome.scores["elena"].unscored_reason
    assert "no score for marcus" in outcome.scores["marcus"].unscored_reason
    judge.persist_scores(econ_db, rt, outcome.scores)
    rows = econ_db.execute("SELECT agent, novelty, total, unscored_reason FROM scores ORDER BY agent").fetchall()
    assert [(r["agent"], r["novelty"], r["total"]) for r in rows] == [("elena", None, None), ("marcus", None, None)]
    assert all(r["unscored_reason"].startswith("judge output invalid after one repair") for r in rows)


def test_a_failed_call_leaves_everyone_unscored(econ_db, econ_config) -> None:
    rt = _rt(econ_db)
    backend = ScriptedBackend([LLMCallError("overloaded", kind="server")])
    outcome = judge.judge_score(econ_db, rt, W, backend=backend, config=econ_config)
    assert {a: s.unscored_reason for a, s in outcome.scores.items()} == {
        "elena": "judge call failed: overloaded", "marcus": "judge call failed: overloaded"}
    assert _calls(econ_db) == [("score", "error")]


def test_a_failed_repair_call(econ_db, econ_config) -> None:
    rt = _rt(econ_db)
    bad = valid_score_json(W).replace('"impact"', '"net_impact"')
    backend = ScriptedBackend([bad, LLMCallError("timeout", kind="timeout")])
    outcome = judge.judge_score(econ_db, rt, W, backend=backend, config=econ_config)
    reason = outcome.scores["elena"].unscored_reason
    assert "named 'impact'" in reason and "repair call failed: timeout" in reason


def test_persist_is_once_per_worker_and_load_round_trips(econ_db, econ_config) -> None:
    rt = _rt(econ_db)
    insight = {"axis": "novelty", "quote": "Use a log-structured queue.", "before": "b", "after": "a"}
    text = json.dumps({"scores": {
        "elena": {"novelty": 10, "accuracy": 1, "impact": 2, "challenge": 1, "reason": "reframed",
                  "penalties": [], "grand_insight": insight},
        "marcus": {"novelty": 1, "accuracy": 1, "impact": 1, "challenge": 2, "reason": "pushed",
                   "penalties": [{"type": "redundancy", "quote": "That loses ordering."}]}}})
    outcome = judge.judge_score(econ_db, rt, W, backend=ScriptedBackend([text]), config=econ_config)
    assert judge.persist_scores(econ_db, rt, outcome.scores) == W
    assert judge.persist_scores(econ_db, rt, outcome.scores) == []
    stored = judge.load_scores(econ_db, rt)
    assert stored["elena"]["total"] == 14 and stored["elena"]["grand_insight"]["quote"] == insight["quote"]
    assert stored["marcus"]["penalties"] == [{"type": "redundancy", "quote": "That loses ordering."}]
    assert judge.score_history(econ_db, "elena") == [{"novelty": 10, "accuracy": 1, "impact": 2, "challenge": 1}]


def test_judge_persona_comes_from_the_workspace(econ_ws, econ_db) -> None:
    from amatelier import paths

    persona = paths.user_agent_dir("judge") / "CLAUDE.md"
    persona.parent.mkdir(parents=True, exist_ok=True)
    persona.write_text("You are Judge Rowan, exacting and fair.", encoding="utf-8")
    system = judge.judge_system_prompt("judge")
    assert system.startswith("You are Judge Rowan") and "scoring a finished roundtable" in system

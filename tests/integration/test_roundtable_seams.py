"""The runner's seams as other areas use them: called in order, failures contained,
Steward deferral and waiting, and `state.notes['run_turn']` for seams that need a turn.

The runner runs in-process here (its workers are still real subprocesses) so the seams
can be replaced with recording fakes.
"""

from __future__ import annotations

import pytest
from tests.helpers.roundtable_run import BRIEFING, messages, rows

from amatelier.debate import runner as runner_mod
from amatelier.debate.runner import RunOptions, run_roundtable

pytestmark = pytest.mark.e2e


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path))
    monkeypatch.setenv("AMATELIER_MODE", "offline")
    monkeypatch.delenv("AMATELIER_TEST_FAULT", raising=False)
    return tmp_path


def _opts(**kw):
    base = dict(topic="seams", briefing=str(BRIEFING), workers=["elena", "marcus"], max_rounds=2,
                budget=1, skip_post=False)
    base.update(kw)
    return RunOptions(**base)


def test_seams_are_called_in_workflow_order(offline, monkeypatch):
    calls = []

    def rec(name, result=None):
        def seam(*args):
            calls.append(name)
            return result
        return seam

    for module, name, result in [
        (runner_mod.steward_hooks, "setup", None), (runner_mod.economy_hooks, "before_open", None),
        (runner_mod.learning_hooks, "before_open", None), (runner_mod.economy_hooks, "on_open", None),
        (runner_mod.steward_hooks, "research_window", None),
        (runner_mod.economy_hooks, "after_close", {"scores": {"elena": 1}}),
        (runner_mod.learning_hooks, "after_close", {"skills": []}),
        (runner_mod.steward_hooks, "digest_fields", {"steward_log": []}),
        (runner_mod.learning_hooks, "post", None), (runner_mod.economy_hooks, "after_post", None),
    ]:
        label = {runner_mod.steward_hooks: "steward_hooks", runner_mod.economy_hooks: "economy_hooks",
                 runner_mod.learning_hooks: "learning_hooks"}[module]
        monkeypatch.setattr(module, name, rec(f"{label}.{name}", result))

    def order_speakers(state, order):
        calls.append("economy_hooks.order_speakers")
        return sorted(order, reverse=True)

    monkeypatch.setattr(runner_mod.economy_hooks, "order_speakers", order_speakers)
    result = run_roundtable(_opts())
    assert result.exit_code == 0
    assert calls == ["steward_hooks.setup", "economy_hooks.before_open", "learning_hooks.before_open",
                     "economy_hooks.on_open", "steward_hooks.research_window",
                     "economy_hooks.order_speakers", "economy_hooks.after_close",
                     "learning_hooks.after_close", "steward_hooks.digest_fields", "learning_hooks.post",
                     "economy_hooks.after_post"]
    digest = result.digest
    assert digest["scores"] == {"elena": 1} and digest["skills"] == [] and digest["steward_log"] == []
    order_line = [m for m in messages(offline, digest["rt_id"]) if m["content"].startswith("SPEAKING ORDER")]
    assert order_line[0]["content"] == "SPEAKING ORDER: marcus, elena"


def test_skip_post_skips_post_seams_only(offline, monkeypatch):
    called = []
    monkeypatch.setattr(runner_mod.learning_hooks, "post", lambda *a: called.append("post"))
    monkeypatch.setattr(runner_mod.economy_hooks, "after_close", lambda *a: called.append("close") or {})
    assert run_roundtable(_opts(skip_post=True)).exit_code == 0
    assert called == ["close"]


def test_a_failing_seam_is_recorded_and_the_roundtable_completes(offline, monkeypatch):
    def boom(*args):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(runner_mod.economy_hooks, "on_open", boom)
    monkeypatch.setattr(runner_mod.steward_hooks, "after_speech", boom)
    warnings = []
    result = run_roundtable(_opts(), warn=warnings.append)
    assert result.exit_code == 0 and result.digest["status"] == "closed"
    seams = {e["seam"] for e in result.digest["hook_errors"]}
    assert seams == {"economy_hooks.on_open", "steward_hooks.after_speech"}
    assert any("ledger unavailable" in w for w in warnings)
    on_disk = result.digest_path.read_text()
    assert "ledger unavailable" in on_disk
    assert result.digest["contributions"]["elena"] > 0


def _speak_order(workspace, rt_id, round_no):
    found = messages(workspace, rt_id)
    order = [m for m in found if m["content"].startswith("SPEAKING ORDER")][0]["content"]
    speak = [m["agent"] for m in found if m["round"] == round_no and m["phase"] == "SPEAK"
             and m["kind"] == "speech"]
    return order.split(": ", 1)[1].split(", "), speak


def test_a_deferred_speaker_speaks_again_at_the_back(offline, monkeypatch):
    deferred = []

    def after_speech(state, agent, text):
        if state.current_round == 1 and agent == state.speaking_order[0] and agent not in deferred:
            deferred.append(agent)
            return True
        return False

    drained = []
    monkeypatch.setattr(runner_mod.steward_hooks, "after_speech", after_speech)
    monkeypatch.setattr(runner_mod.steward_hooks, "drain", lambda state: drained.append(state.current_round))
    result = run_roundtable(_opts(budget=0))
    (first, second), speak = _speak_order(offline, result.digest["rt_id"], 1)
    # independent openings are written at once (posted as each finishes); the deferred one again last
    assert sorted(speak[:2]) == sorted([first, second]) and speak[2:] == [first]
    assert _speak_order(offline, result.digest["rt_id"], 2)[1] == [first, second]
    # Before each round's REBUTTAL, and once more after the last round (a late FLOOR request).
    assert drained == [1, 2, 2]


def test_waiting_speakers_are_skipped_and_intermission_when_all_wait(offline, monkeypatch):
    events = []

    def waiting(state, agent):
        if state.current_round == 1:  # the first speaker waits until one poll has passed
            return agent == state.speaking_order[0] and events.count("poll-1") < 2
        return "intermission" not in events  # round 2: everybody waits until the intermission

    monkeypatch.setattr(runner_mod.steward_hooks, "waiting", waiting)
    monkeypatch.setattr(runner_mod.steward_hooks, "poll",
                        lambda state: events.append(f"poll-{state.current_round}"))
    monkeypatch.setattr(runner_mod.steward_hooks, "intermission", lambda state: events.append("intermission"))
    result = run_roundtable(_opts(budget=0))
    (first, second), speak1 = _speak_order(offline, result.digest["rt_id"], 1)
    assert speak1 == [second, first]
    assert _speak_order(offline, result.digest["rt_id"], 2)[1] == [first, second]
    assert events.count("intermission") == 1


def test_run_turn_is_offered_to_seams(offline, monkeypatch):
    outcomes = {}

    def research_window(state):
        for agent in state.workers:
            outcomes[agent] = state.notes["run_turn"](agent, "research")

    monkeypatch.setattr(runner_mod.steward_hooks, "research_window", research_window)
    result = run_roundtable(_opts(max_rounds=1))
    assert set(outcomes) == {"elena", "marcus"}
    assert all(o.answered and o.text.startswith("[offline]") for o in outcomes.values())
    research = [m for m in messages(offline, result.digest["rt_id"]) if m["phase"] == "RESEARCH"
                and m["kind"] == "speech"]
    assert {m["agent"] for m in research} == {"elena", "marcus"}


def test_a_runner_bug_cuts_the_roundtable_and_keeps_the_transcript(offline, monkeypatch):
    def broken_floor(self, round_no, wants=None):
        raise ValueError("floor bug")

    monkeypatch.setattr(runner_mod.Runner, "floor_phase", broken_floor)
    warnings = []
    result = run_roundtable(_opts(), warn=warnings.append)
    assert result.exit_code == 1
    assert result.digest["cut_reason"] == "runner error: ValueError: floor bug"
    assert result.digest["contributions"]["elena"] > 0 and result.digest_path.is_file()
    log = offline / "roundtable-server" / "logs" / f"{result.digest['rt_id']}-runner.log"
    assert "ValueError: floor bug" in log.read_text()
    assert any("runner error" in w for w in warnings)


def test_steward_turn_instructions_reach_speak_and_floor_turns(offline, monkeypatch):
    monkeypatch.setattr(runner_mod.steward_hooks, "turn_instructions",
                        lambda state, agent: f"STEWARD NOTE for {agent}", raising=False)
    result = run_roundtable(_opts(max_rounds=3, budget=1))
    turns = rows(offline, "SELECT agent, phase, instructions FROM turns WHERE rt_id = ?", result.digest["rt_id"])
    assert {"SPEAK", "REBUTTAL", "FLOOR"} <= {turn["phase"] for turn in turns}
    for turn in turns:
        has_note = f"STEWARD NOTE for {turn['agent']}" in turn["instructions"]
        assert has_note == (turn["phase"] in ("SPEAK", "FLOOR")), turn

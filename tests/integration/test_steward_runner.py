"""The real runner with the real Steward: a mid-debate request defers its speaker, the result
is injected before that speaker's next turn and before REBUTTAL, and a FLOOR request is
answered too (spec: a request may come in a speak, rebuttal or floor turn).

The runner runs in-process (workers are real offline subprocesses). The offline agents do
not ask the Steward mid-debate, so one agent's turn outcome gets a `[[request:]]` tag added
on its way back to the runner, which is where the runner reads tags from.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tests.helpers.roundtable_run import messages
from tests.helpers.steward_tree import make_tree

from amatelier.debate import runner as runner_mod
from amatelier.debate.runner import RunOptions, run_roundtable

pytestmark = pytest.mark.e2e

ASKER = "elena"
SPEAK_ASK = "[[request: lines 2-2 of notes.md]]"
FLOOR_ASK = "[[request: key llm.mode in config.json]]"


@pytest.fixture
def grounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("AMATELIER_TEST_FAULT", "AMATELIER_TEST_AUDIT_OPENS", "AMATELIER_OFFLINE_DELAY_MS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("AMATELIER_MODE", "offline")
    # openings one at a time, so each goes through Runner.run_turn (patched below)
    (tmp_path / "ws").mkdir(parents=True, exist_ok=True)
    (tmp_path / "ws" / "config.json").write_text('{"roundtable": {"opening": "sequential"}}', encoding="utf-8")
    tree = make_tree(tmp_path)
    briefing = tmp_path / "briefing.md"
    briefing.write_text("# Briefing: retries\n\n## Objective\nShould the retry budget change?\n\n"
                        "## Steward-Registered Files\n- notes.md\n- config.json\n", encoding="utf-8")
    asked: list[tuple[str, int]] = []
    real_run_turn = runner_mod.Runner.run_turn

    def run_turn(self, agent, phase, instructions_text=None):
        outcome = real_run_turn(self, agent, phase, instructions_text)
        key = (phase.upper(), self.state.current_round)
        if agent != ASKER or not outcome.answered or key in asked:
            return outcome
        if key == ("SPEAK", 1):
            asked.append(key)
            return dataclasses.replace(outcome, text=f"{outcome.text}\n{SPEAK_ASK}")
        if key == ("FLOOR", 1):
            asked.append(key)
            return dataclasses.replace(outcome, text=f"{ASKER} on the floor: the config decides. {FLOOR_ASK}")
        return outcome

    monkeypatch.setattr(runner_mod.Runner, "run_turn", run_turn)
    result = run_roundtable(RunOptions(topic="retry budget?", briefing=str(briefing),
                                       workers=[ASKER, "marcus"], max_rounds=2, budget=1,
                                       skip_post=True, launch_dir=tree.launch))
    assert result.exit_code == 0
    assert asked == [("SPEAK", 1), ("FLOOR", 1)], "the roundtable reached round 1's FLOOR"
    return result.digest, messages(tmp_path / "ws", result.digest["rt_id"])


def _index(msgs: list[dict], predicate) -> int:
    return next(i for i, m in enumerate(msgs) if predicate(m))


def test_a_speak_request_defers_the_speaker_and_is_answered_before_its_next_turn(grounded) -> None:
    digest, msgs = grounded
    speeches = [m["agent"] for m in msgs if m["round"] == 1 and m["phase"] == "SPEAK"
                and m["kind"] == "speech"]
    assert sorted(speeches) == sorted([ASKER, ASKER, "marcus"])
    assert speeches[-1] == ASKER, "the requesting speaker went to the back of the queue"
    first = _index(msgs, lambda m: m["agent"] == ASKER and m["phase"] == "SPEAK" and m["round"] == 1)
    answer = _index(msgs, lambda m: m["kind"] == "steward" and m["phase"] == "SPEAK")
    second = max(i for i, m in enumerate(msgs) if m["agent"] == ASKER and m["phase"] == "SPEAK"
                 and m["round"] == 1 and m["kind"] == "speech")
    rebuttal = _index(msgs, lambda m: m["content"].startswith("--- REBUTTAL PHASE") and m["round"] == 1)
    assert first < answer < second < rebuttal
    assert msgs[answer]["content"].startswith(f"[Research result for {ASKER}] request: lines 2-2 of notes.md")
    assert "2: retry budget is 4 attempts" in msgs[answer]["content"]
    log = [e for e in digest["steward_log"] if e["phase"] == "SPEAK"]
    assert [(e["agent"], e["status"], e["round"], e["path"], e["free"]) for e in log] == [
        (ASKER, "ok", 1, "notes.md", False)]


def test_a_floor_request_is_answered_and_costs_debate_budget(grounded) -> None:
    digest, msgs = grounded
    log = [e for e in digest["steward_log"] if e["phase"] == "FLOOR"]
    assert [(e["agent"], e["status"], e["round"], e["path"]) for e in log] == [
        (ASKER, "ok", 1, "config.json")]
    assert log[0]["output"].endswith('= "auto"')
    # Answered in the chat no later than the next drain (before round 2's REBUTTAL).
    answer = _index(msgs, lambda m: m["kind"] == "steward" and m["phase"] == "FLOOR")
    rebuttal_2 = _index(msgs, lambda m: m["content"].startswith("--- REBUTTAL PHASE") and m["round"] == 2)
    assert answer < rebuttal_2
    assert digest["steward_budget"][ASKER] == 1 and digest["steward_budget"]["marcus"] == 3


def test_a_request_in_the_last_floor_is_posted_before_the_roundtable_closes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("AMATELIER_MODE", "offline")
    tree = make_tree(tmp_path)
    briefing = tmp_path / "briefing.md"
    briefing.write_text("# Briefing\n\n## Objective\nRetry budget?\n\n"
                        "## Steward-Registered Files\n- config.json\n", encoding="utf-8")
    real_run_turn = runner_mod.Runner.run_turn

    def run_turn(self, agent, phase, instructions_text=None):
        outcome = real_run_turn(self, agent, phase, instructions_text)
        if agent == ASKER and phase.upper() == "FLOOR" and outcome.answered:
            return dataclasses.replace(outcome, text=f"One more fact. {FLOOR_ASK}")
        return outcome

    # The Judge never converges, so round 1 (the last) reaches its FLOOR.
    monkeypatch.setattr(runner_mod.Runner, "judge_gate", lambda self, round_no: False)
    monkeypatch.setattr(runner_mod.Runner, "run_turn", run_turn)
    # One worker, so the asking FLOOR turn is the very last turn of the debate.
    result = run_roundtable(RunOptions(topic="retry budget?", briefing=str(briefing),
                                       workers=[ASKER], max_rounds=1, budget=1,
                                       skip_post=True, launch_dir=tree.launch))
    assert result.exit_code == 0
    msgs = messages(tmp_path / "ws", result.digest["rt_id"])
    floor_log = [e for e in result.digest["steward_log"] if e["phase"] == "FLOOR"]
    assert [(e["agent"], e["status"]) for e in floor_log] == [(ASKER, "ok")]
    posted = [m for m in msgs if m["kind"] == "steward" and m["phase"] == "FLOOR"]
    assert len(posted) == 1 and posted[0]["content"].startswith(f"[Research result for {ASKER}]")

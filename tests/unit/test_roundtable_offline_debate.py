"""The offline debate responder: deterministic, in voice, exercising every phase."""

from __future__ import annotations

from amatelier.backends.offline import OfflineBackend
from amatelier.debate.context import TurnContext, build_prompt
from amatelier.debate.runner import instructions
from amatelier.debate.signals import is_pass, parse_gate_answer
from amatelier.offline import debate
from amatelier.offline.request import OfflineRequest

PEOPLE = ["elena", "marcus", "clare", "simon"]


def _prompt(agent: str, phase: str, round_no: int = 1, *, said=(), **extra) -> str:
    msgs = [{"id": i + 1, "agent": who, "kind": "speech", "round": round_no, "phase": "SPEAK",
             "content": text} for i, (who, text) in enumerate(said)]
    return build_prompt(TurnContext(
        agent=agent, round=round_no, phase=phase, topic="split the monolith?", participants=PEOPLE,
        briefing="## Context\n- Team size: 8 engineers\n- Shared DB", messages=msgs,
        instructions=instructions(phase.upper(), round=round_no, max_rounds=3, **extra)))


def _ask(agent, task, prompt):
    return OfflineBackend({}).complete(system="", prompt=prompt, task=task, agent=agent).text


def test_same_request_same_answer_and_different_agents_differ():
    prompt = _prompt("elena", "SPEAK")
    assert _ask("elena", "speak", prompt) == _ask("elena", "speak", prompt)
    assert _ask("elena", "speak", prompt) != _ask("marcus", "speak", _prompt("marcus", "SPEAK"))


def test_speeches_are_tagged_and_cite_earlier_speakers():
    said = [("marcus", "[offline] I'm not convinced. The shared database couples deploys.")]
    text = _ask("elena", "speak", _prompt("elena", "SPEAK", said=said))
    assert text.startswith("[offline]")
    assert "marcus's point" in text


def test_rebuttal_names_specific_agents():
    said = [("marcus", "[offline] Risky."), ("clare", "[offline] Three points."),
            ("simon", "[offline] Sequencing.")]
    text = _ask("elena", "rebuttal", _prompt("elena", "REBUTTAL", said=said))
    assert sum(name in text for name in ("marcus", "clare", "simon")) >= 1
    assert "elena," not in text


def test_floor_passes_on_second_turn_or_without_budget():
    agent = next(a for a in PEOPLE if debate.stable_int("floor", a, 1) % 3 != 0)
    first = _ask(agent, "floor", _prompt(agent, "FLOOR", budget_left=2, floor_turn=1))
    assert not is_pass(first) and first.startswith("[offline]")
    assert _ask(agent, "floor", _prompt(agent, "FLOOR", budget_left=1, floor_turn=2)) == "PASS"
    assert _ask(agent, "floor", _prompt(agent, "FLOOR", budget_left=0, floor_turn=1)) == "PASS"


def test_gate_continues_early_then_converges():
    def gate(round_no, max_rounds):
        prompt = build_prompt(TurnContext(
            agent="judge", round=round_no, phase="GATE", topic="t", participants=[*PEOPLE, "judge"],
            briefing="b", messages=[],
            instructions=instructions("GATE", round=round_no, max_rounds=max_rounds)))
        return parse_gate_answer(debate.respond(OfflineRequest("", prompt, "sonnet", "gate", "judge")))

    assert gate(1, 3).decision == "CONTINUE"
    assert gate(2, 3).decision == "CONVERGED"
    assert gate(1, 1).decision == "CONVERGED"
    assert [gate(r, 5).decision for r in range(1, 6)] == ["CONTINUE"] * 3 + ["CONVERGED"] * 2
    first = gate(1, 3)
    assert len(first.gates) == 1 and first.gates[0].agent in PEOPLE


def test_research_answers_plainly():
    text = _ask("simon", "research", _prompt("simon", "RESEARCH"))
    assert text.startswith("[offline]") and "simon" not in text.split()[0]

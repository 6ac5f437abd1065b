"""The Judge's persona says who it is; each task prompt carries its own output contract (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from amatelier.judging import prompts

OLD_PERSONA = (Path(__file__).resolve().parents[1] / "data" / "judge_persona_v1.md").read_text(encoding="utf-8")
MESSAGES = [
    {"id": 1, "agent": "runner", "kind": "briefing", "content": "BRIEFING: pick a database"},
    {"id": 2, "agent": "elena", "kind": "speech", "round": 1, "phase": "SPEAK", "content": "Use Postgres."},
    {"id": 3, "agent": "marcus", "kind": "speech", "round": 1, "phase": "SPEAK", "content": "SQLite is enough."},
]


def test_an_old_persona_loses_its_output_contracts_but_keeps_its_principles() -> None:
    stripped = prompts.strip_output_contracts(OLD_PERSONA)
    for contract in ("Reply with one JSON object", '{"scores"', "CONVERGED: <reason>", "GATE: <agent>",
                     "0/1/2/3/10", "**novelty**"):
        assert contract in OLD_PERSONA
        assert contract not in stripped
    assert "## Principles" in stripped and "Never invent a quote" in stripped
    assert stripped.startswith("# Judge")


def test_paragraphs_outside_sections_are_dropped_one_by_one() -> None:
    text = "You are Rowan, exacting and fair.\n\nAnswer with one JSON object only.\n\nYou never take sides."
    assert prompts.strip_output_contracts(text) == "You are Rowan, exacting and fair.\n\nYou never take sides."


@pytest.mark.parametrize("persona", [OLD_PERSONA, "You are Judge Rowan.\n\nReply with one JSON object and nothing else."])
def test_the_system_prompt_never_dictates_an_output_form(persona: str) -> None:
    from amatelier import paths

    target = paths.user_agent_dir("judge") / "CLAUDE.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(persona, encoding="utf-8")
    system = prompts.judge_system("judge")
    assert "JSON" not in system and "CONVERGED:" not in system and "novelty" not in system
    assert prompts.TASK_ROLE in system


def test_the_gate_task_asks_for_a_verdict_and_never_for_scores() -> None:
    text = prompts.gate_instructions(round=2, max_rounds=3, agents=["elena", "marcus"])
    assert text.startswith("MAX ROUNDS: 3\n")
    assert '"verdict"' in text and "Workers: elena, marcus." in text
    for forbidden in ("scores", "novelty", "SCORING RUBRIC"):
        assert forbidden not in text
    assert "last round" in prompts.gate_instructions(round=3, max_rounds=3)


def test_the_scoring_prompt_carries_the_rubric_once_and_the_workers_in_the_given_order() -> None:
    prompt = prompts.scoring_prompt("ab12", "pick a DB", ["marcus", "elena"], MESSAGES)
    assert prompt.count("SCORING RUBRIC") == 1 and prompt.count('{"scores"') == 1
    assert "WORKERS: marcus, elena\n" in prompt
    assert "[#2 R1 SPEAK] elena: Use Postgres." in prompt
    repair = prompts.repair_prompt("ab12", "pick a DB", ["elena"], "{bad", ["elena.novelty = 5 is outside"],
                                   MESSAGES)
    assert repair.count("SCORING RUBRIC") == 1 and "elena.novelty = 5 is outside" in repair

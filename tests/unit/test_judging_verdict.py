"""The gate verdict parser: JSON (fenced, prosy, sloppy), the old line form, and garbage."""

from __future__ import annotations

import json

import pytest

from amatelier.judging import prompts
from amatelier.judging.verdict import GateAward, GateVerdict, parse_verdict, render_verdict

PLAIN = json.dumps({"verdict": "CONTINUE", "reason": "cost is unsettled",
                    "gates": [{"agent": "Elena", "reason": "named the hidden constraint"}]})


@pytest.mark.parametrize("text", [
    PLAIN,
    f"```json\n{PLAIN}\n```",
    f"Here is my verdict for this round.\n\n{PLAIN}\n\nThanks.",
    f"```\n{PLAIN}```",
])
def test_json_in_any_wrapping(text: str) -> None:
    verdict = parse_verdict(text)
    assert verdict.verdict == "CONTINUE" and verdict.form == "json"
    assert verdict.reason == "cost is unsettled"
    assert verdict.gates == [GateAward(agent="elena", reason="named the hidden constraint")]


def test_sloppy_keys_and_values_are_read() -> None:
    verdict = parse_verdict('{"Decision": "converged.", "Reason": "done", "gates": ["marcus — the exploit"]}')
    assert verdict.converged and verdict.gates == [GateAward("marcus", "the exploit")]
    assert parse_verdict('{"verdict": "continue", "gates": {"clare": "sharp"}}').gates == [GateAward("clare", "sharp")]


def test_the_old_line_form_is_still_accepted() -> None:
    verdict = parse_verdict("CONVERGED: positions settled\nGATE: simon — the rollback plan")
    assert verdict.converged and verdict.form == "lines" and verdict.reason == "positions settled"
    assert verdict.gates == [GateAward("simon", "the rollback plan")]


def test_prose_naming_the_verdict() -> None:
    verdict = parse_verdict("After reading the round, my verdict: continue, because nobody answered Marcus.")
    assert verdict.verdict == "CONTINUE" and verdict.form == "prose"


@pytest.mark.parametrize("text", ["", "   ", "I think it went well.", '{"scores": {"elena": {}}}',
                                  '{"verdict": "maybe"}', "{not json"])
def test_no_verdict(text: str) -> None:
    verdict = parse_verdict(text)
    assert verdict.verdict is None and not verdict.converged


def test_quoting_the_instructions_back_decides_nothing() -> None:
    assert parse_verdict(prompts.GATE_FORMAT).verdict is None


def test_hostile_gate_entries_are_dropped() -> None:
    text = json.dumps({"verdict": "CONTINUE", "reason": "x" * 5000,
                       "gates": [{"agent": "../../etc/passwd", "reason": "r"}, {"agent": "elena; DROP", "reason": 1},
                                 42, {"agent": "naomi", "reason": "ok"}] + [{"agent": "clare"}] * 50})
    verdict = parse_verdict(text)
    assert len(verdict.reason) <= 500
    assert [g.agent for g in verdict.gates][:1] == ["naomi"] and len(verdict.gates) <= 10


def test_render_gives_the_readable_lines_and_they_parse_back() -> None:
    verdict = GateVerdict(verdict="CONVERGED", reason="settled", gates=[GateAward("elena", "the reframing")])
    text = render_verdict(verdict)
    assert text == "CONVERGED: settled\nGATE: elena — the reframing"
    again = parse_verdict(text)
    assert again.verdict == "CONVERGED" and again.gates == verdict.gates
    assert render_verdict(GateVerdict()) == ""

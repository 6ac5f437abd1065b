"""PASS detection, Judge gate parsing and Jaccard stability."""

from __future__ import annotations

import pytest

from amatelier.debate.signals import is_pass, jaccard, judge_signal_lines, parse_gate_answer


@pytest.mark.parametrize("text", ["PASS", "pass", " PASS.", "**PASS**", "PASS — nothing to add",
                                  "Pass: the point was made", "", None])
def test_pass_variants(text):
    assert is_pass(text)


@pytest.mark.parametrize("text", ["Passing thought: the rollback plan is missing.",
                                  "I would not pass on this: the schema is shared.",
                                  "PASS " + "but actually here is a long contribution " * 5,
                                  "[offline] One addition from the floor: we need an owner."])
def test_contributions_are_not_passes(text):
    assert not is_pass(text)


def test_jaccard_over_word_sets():
    assert jaccard("the cat sat", "the cat sat") == 1.0
    assert jaccard("a b", "c d") == 0.0
    assert jaccard("A b, c!", "a B d") == pytest.approx(2 / 4)
    assert jaccard("", "") == 1.0
    assert jaccard("word", "") == 0.0


def test_gate_answer_converged_with_gates():
    answer = parse_gate_answer("CONVERGED: positions stable\nGATE: marcus — found the flaw\n"
                               "gate: Clare - tightened the proposal")
    assert answer.converged and answer.decision == "CONVERGED"
    assert answer.reason == "positions stable"
    assert [(g.agent, g.reason) for g in answer.gates] == [("marcus", "found the flaw"),
                                                            ("clare", "tightened the proposal")]


def test_gate_answer_continue_and_first_signal_wins():
    answer = parse_gate_answer("Some preamble\n**CONTINUE:** cost unresolved\nCONVERGED: later line")
    assert answer.decision == "CONTINUE" and not answer.converged
    assert parse_gate_answer("I think we converged: maybe").decision is None
    assert parse_gate_answer(None).decision is None


def test_judge_signal_lines_in_order():
    text = "CONTINUE: more to do\nnoise\nGATE: elena — breakthrough"
    assert judge_signal_lines(text) == [("CONTINUE", "CONTINUE: more to do"),
                                        ("GATE", "GATE: elena — breakthrough")]

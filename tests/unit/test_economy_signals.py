"""Parsing the Judge's GATE/CONVERGED/CONTINUE lines and workers' venture tags."""

from __future__ import annotations

from amatelier.economy.tags import parse_gates, parse_ventures, parse_verdict


def test_gate_lines_with_each_dash() -> None:
    text = ("Round 2 notes.\nGATE: elena \u2014 found the real constraint\n"
            "GATE: Marcus - broke the caching argument\n**GATE:** clare \u2013 sharp\nGATE: simon")
    gates = parse_gates(text)
    assert [(g.agent, g.reason) for g in gates] == [
        ("elena", "found the real constraint"), ("marcus", "broke the caching argument"),
        ("clare", "sharp"), ("simon", "")]
    assert [g.index for g in gates] == [0, 1, 2, 3]


def test_gate_must_start_a_line() -> None:
    assert parse_gates("I would not say GATE: elena - yet") == []
    assert parse_gates("") == []


def test_hyphenated_agent_names() -> None:
    assert parse_gates("GATE: opus-admin - ok")[0].agent == "opus-admin"


def test_verdicts() -> None:
    assert parse_verdict("CONVERGED: everyone agrees on B") == ("CONVERGED", "everyone agrees on B")
    assert parse_verdict("Thoughts first.\nCONTINUE: cost is unresolved") == ("CONTINUE", "cost is unresolved")
    assert parse_verdict("no verdict here") == (None, "")


def test_venture_tags_are_lenient_about_separators() -> None:
    text = ("Claim one [[venture:scout: the cache hit rate is above 90%]] and "
            "[[ Venture | moonshot | rewriting in Rust halves p99 ]] and "
            "[[venture:venture \u2014 the migration finishes in a week]] and [[venture:lottery: nope]] "
            "and [[venture:scout:   ]]")
    tags = parse_ventures(text)
    assert [(t.tier, t.claim) for t in tags] == [
        ("scout", "the cache hit rate is above 90%"),
        ("moonshot", "rewriting in Rust halves p99"),
        ("venture", "the migration finishes in a week")]
    assert [t.index for t in tags] == [0, 1, 2]


def test_multiline_claims_are_flattened() -> None:
    tags = parse_ventures("[[venture:scout: spans\n two lines]]")
    assert tags[0].claim == "spans two lines"

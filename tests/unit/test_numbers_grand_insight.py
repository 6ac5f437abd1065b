"""A 10 keeps its place only when its quote is the agent's own words in that roundtable."""

from __future__ import annotations

from amatelier.judging.grand_insight import (
    check_grand_insight,
    find_quoted_message,
    normalise,
    quote_matches,
)

MESSAGES = [
    {"id": 3, "agent": "runner", "kind": "turn", "content": "YOUR TURN: elena — SPEAK. The cut-over is the real risk."},
    {"id": 7, "agent": "elena", "kind": "speech",
     "content": "The  cut-over is the real risk:\nwe have never moved billing without an incident, "
                "so a strangler pattern with a shadow period is the only sane route."},
    {"id": 9, "agent": "marcus", "kind": "speech", "content": "Kafka would let us replay every billing event."},
]
INSIGHT = {"axis": "impact", "before": "a choice of brokers", "after": "a question of cut-over risk"}


def test_normalise_folds_case_whitespace_and_typographic_marks() -> None:
    assert normalise("  The “Cut-over”\n\tIS — risky ") == 'the "cut-over" is - risky'


def test_an_excerpt_matches_after_normalising() -> None:
    assert quote_matches("the cut-over is the REAL risk", MESSAGES[1]["content"])
    assert quote_matches("“we have never moved billing without an incident”", MESSAGES[1]["content"])


def test_an_elided_excerpt_must_keep_its_order() -> None:
    text = MESSAGES[1]["content"]
    assert quote_matches("the cut-over is the real risk ... a shadow period", text)
    assert not quote_matches("a shadow period … the cut-over is the real risk", text)


def test_too_short_or_invented_quotes_match_nothing() -> None:
    assert not quote_matches("risk", MESSAGES[1]["content"])
    assert not quote_matches("we should rewrite everything in Rust", MESSAGES[1]["content"])


def test_only_the_agents_own_messages_count() -> None:
    assert find_quoted_message("the cut-over is the real risk", MESSAGES, "elena") == 7
    # marcus did not say it; the turn prompt posted by the runner never counts either
    assert find_quoted_message("the cut-over is the real risk", MESSAGES, "marcus") is None
    assert find_quoted_message("let us replay every billing event", MESSAGES, "elena") is None


def test_an_invented_quote_is_capped_at_three_with_the_reason() -> None:
    axes = {"novelty": 2, "accuracy": 3, "impact": 10, "challenge": 1}
    capped, kept, rejected = check_grand_insight("elena", axes, {**INSIGHT, "quote": "we must buy a bigger broker"},
                                                 MESSAGES)
    assert capped == {"novelty": 2, "accuracy": 3, "impact": 3, "challenge": 1}
    assert kept is None
    assert rejected["reason"] == "grand_insight_rejected" and rejected["axis"] == "impact"
    assert "matches no message of elena" in rejected["detail"]


def test_a_real_excerpt_keeps_the_ten_and_names_the_message() -> None:
    axes = {"novelty": 2, "accuracy": 3, "impact": 10, "challenge": 1}
    same, kept, rejected = check_grand_insight("elena", axes, {**INSIGHT, "quote": "a strangler pattern with a shadow period"},
                                               MESSAGES)
    assert same == axes and rejected is None
    assert kept["message_id"] == 7 and kept["axis"] == "impact"


def test_scores_without_a_ten_pass_untouched() -> None:
    axes = {"novelty": 2, "accuracy": 3, "impact": 1, "challenge": 1}
    assert check_grand_insight("elena", axes, None, MESSAGES) == (axes, None, None)

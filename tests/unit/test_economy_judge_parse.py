"""Parsing and validating the Judge's score JSON (pure functions, no model)."""

from __future__ import annotations

import json

from amatelier.judging import scoring as judge

W = ["elena", "marcus"]


def entry(**over):
    base = {"novelty": 1, "accuracy": 2, "impact": 1, "challenge": 0, "reason": "ok", "penalties": [],
            "grand_insight": None}
    base.update(over)
    return base


def answer(**entries) -> str:
    return json.dumps({"scores": entries})


def test_valid_answer() -> None:
    result = judge.parse_judge_output(answer(elena=entry(), marcus=entry(novelty=3)), W)
    assert result.ok
    assert result.valid["elena"].axes == {"novelty": 1, "accuracy": 2, "impact": 1, "challenge": 0}
    assert result.valid["elena"].total == 4 and result.valid["marcus"].total == 6


def test_code_fences_and_prose_are_tolerated() -> None:
    body = answer(elena=entry(), marcus=entry())
    for text in (f"```json\n{body}\n```", f"Here you go:\n{body}\nThanks.", f"Sure.\n```\n{body}\n```\nDone"):
        assert judge.parse_judge_output(text, W).ok, text


def test_a_brace_in_prose_before_the_json_is_skipped() -> None:
    text = "I weighed {a few things}. " + answer(elena=entry(), marcus=entry())
    assert judge.parse_judge_output(text, W).ok


def test_a_list_of_entries_with_agent_names_is_accepted() -> None:
    text = json.dumps({"scores": [{"agent": "elena", **entry()}, {"name": "marcus", **entry(impact=3)}]})
    result = judge.parse_judge_output(text, W)
    assert result.ok and result.valid["marcus"].axes["impact"] == 3
    assert not judge.parse_judge_output(json.dumps({"scores": "all good"}), W).ok


def test_names_match_case_insensitively_and_extras_are_ignored() -> None:
    result = judge.parse_judge_output(answer(Elena=entry(), MARCUS=entry(), judge=entry()), W)
    assert result.ok and set(result.valid) == set(W)


def test_values_outside_the_scale_are_rejected_with_the_exact_problem() -> None:
    result = judge.parse_judge_output(answer(elena=entry(novelty=5), marcus=entry(challenge=4)), W)
    assert not result.valid
    assert result.problems["elena"] == ["elena.novelty = 5 is outside the scale {0, 1, 2, 3, 10}"]
    assert "marcus.challenge = 4" in result.problems["marcus"][0]


def test_non_integers_are_rejected() -> None:
    result = judge.parse_judge_output(answer(elena=entry(impact="2"), marcus=entry(accuracy=1.5)), W)
    assert set(result.problems) == {"elena", "marcus"}
    assert "not an integer" in result.problems["elena"][0]
    ok = judge.parse_judge_output(answer(elena=entry(impact=2.0), marcus=entry()), W)
    assert ok.ok and ok.valid["elena"].axes["impact"] == 2


def test_the_axis_is_impact() -> None:
    bad = entry()
    bad["net_impact"] = bad.pop("impact")
    result = judge.parse_judge_output(answer(elena=bad, marcus=entry()), W)
    assert result.problems["elena"] == ["elena: the axis is named 'impact', not 'net_impact'"]
    assert "marcus" in result.valid


def test_missing_worker_and_missing_axis() -> None:
    no_accuracy = entry()
    del no_accuracy["accuracy"]
    result = judge.parse_judge_output(answer(elena=no_accuracy), W)
    assert result.problems == {"elena": ["elena.accuracy is missing"], "marcus": ["no score for marcus"]}


def test_malformed_or_absent_json() -> None:
    cut = answer(elena=entry(), marcus=entry())[:40]
    result = judge.parse_judge_output(cut, W)
    assert set(result.problems) == set(W) and "did not parse" in result.problems["elena"][0]
    assert "no JSON object" in judge.parse_judge_output("I refuse to score.", W).problems["elena"][0]
    assert "empty" in judge.parse_judge_output("", W).problems["elena"][0]


def test_penalties_need_a_known_type_and_a_quote() -> None:
    good = entry(penalties=[{"type": "Off-Directive", "quote": "let's talk about lunch"}])
    result = judge.parse_judge_output(answer(elena=good, marcus=entry(penalties=[{"type": "rudeness", "quote": "x"}])), W)
    assert result.valid["elena"].penalties == [{"type": "off_directive", "quote": "let's talk about lunch"}]
    assert "is not one of redundancy, hallucination, off_directive" in result.problems["marcus"][0]
    result = judge.parse_judge_output(answer(elena=entry(penalties=[{"type": "redundancy"}]), marcus=entry()), W)
    assert "needs the offending message quoted" in result.problems["elena"][0]


def test_grand_insight_rule_applies_during_validation() -> None:
    insight = {"axis": "impact", "quote": "the queue is the bottleneck", "before": "scale the DB",
               "after": "fix the queue"}
    result = judge.parse_judge_output(answer(elena=entry(impact=10, grand_insight=insight),
                                             marcus=entry(novelty=10)), W)
    assert result.ok
    assert result.valid["elena"].axes["impact"] == 10 and result.valid["elena"].grand_insight["axis"] == "impact"
    assert result.valid["elena"].total == 13
    assert result.valid["marcus"].axes["novelty"] == 3 and result.valid["marcus"].grand_insight is None
    assert result.valid["marcus"].notes


def test_to_dict_for_the_digest() -> None:
    score = judge.parse_judge_output(answer(elena=entry(), marcus=entry()), W).valid["elena"]
    assert score.to_dict()["total"] == 4
    assert judge.WorkerScore(agent="x", unscored_reason="why").to_dict() == {"unscored": "why"}


def test_prompts_name_the_workers_and_carry_the_transcript() -> None:
    messages = [
        {"id": 1, "agent": "runner", "kind": "briefing", "round": None, "phase": None, "content": "BRIEFING: pick a DB"},
        {"id": 2, "agent": "runner", "kind": "turn", "round": 1, "phase": "speak", "content": "YOUR TURN: elena"},
        {"id": 3, "agent": "elena", "kind": "speech", "round": 1, "phase": "speak", "content": "Use Postgres."},
    ]
    prompt = judge.build_scoring_prompt("ab12", "pick a DB", W, messages)
    assert "WORKERS: elena, marcus" in prompt and "RT: ab12" in prompt
    assert "[#3 R1 speak] elena: Use Postgres." in prompt
    assert "YOUR TURN" not in prompt
    repair = judge.build_repair_prompt("ab12", "pick a DB", ["elena"], "{bad", ["elena.novelty = 5 is outside"],
                                       messages)
    assert "WORKERS: elena\n" in repair and "elena.novelty = 5 is outside" in repair and "{bad" in repair


def test_transcript_cap_keeps_the_briefing_and_the_latest_messages() -> None:
    messages = [{"id": 1, "agent": "runner", "kind": "briefing", "content": "BRIEFING"}]
    messages += [{"id": i, "agent": "elena", "kind": "speech", "content": f"message {i} " + "x" * 100}
                 for i in range(2, 50)]
    text = judge.format_transcript(messages, cap_chars=1000)
    assert len(text) <= 1100
    assert text.startswith("[#1] runner: BRIEFING")
    assert "message 49" in text and "message 2 " not in text and "earlier messages omitted" in text

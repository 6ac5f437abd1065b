"""Jury seats, combining seats' scores, recusal, and Krippendorff's alpha."""

from __future__ import annotations

import pytest

from amatelier.config import ConfigError
from amatelier.judging import jury
from amatelier.judging.jury import Seat, SeatResult
from amatelier.judging.scoring import WorkerScore

GI = {"axis": "impact", "quote": "drop the queue", "before": "a queue", "after": "no queue"}


def score(agent: str, n: int, a: int, i: int, c: int, *, penalties=None, insight=None) -> WorkerScore:
    return WorkerScore(agent=agent, axes={"novelty": n, "accuracy": a, "impact": i, "challenge": c},
                       reason=f"{agent} reason", penalties=penalties or [], grand_insight=insight)


def seat_result(number: int, family: str | None, **scores: WorkerScore) -> SeatResult:
    return SeatResult(seat=Seat(index=number - 1, model=f"m{number}"), order=list(scores), scores=dict(scores),
                      family=family)


def test_default_jury_is_one_seat_on_the_judges_model() -> None:
    assert jury.seats_from_config({"team": {"judge": {"model": "opus"}}}) == [Seat(index=0, model="opus")]
    assert jury.seats_from_config({"judging": {"jury": []}}) == [Seat(index=0, model="sonnet")]


def test_seats_from_config() -> None:
    seats = jury.seats_from_config({"judging": {"jury": [{"model": "sonnet"}, {"model": "gpt-4o",
                                                                                "backend": "openai-compat"}]}})
    assert seats == [Seat(0, "sonnet"), Seat(1, "gpt-4o", "openai-compat")]
    assert [s.number for s in seats] == [1, 2]


@pytest.mark.parametrize(("jury_value", "key"), [
    ({"model": "sonnet"}, "judging.jury"),
    ([{"model": ""}], "judging.jury[0].model"),
    ([{"model": "sonnet"}, {"model": "x; rm -rf /"}], "judging.jury[1].model"),
    ([{"model": "sonnet", "backend": "carrier-pigeon"}], "judging.jury[0].backend"),
    ([{"model": "sonnet", "temperature": 2}], "judging.jury[0].temperature"),
    ([42], "judging.jury[0]"),
    ([{"model": "sonnet"}] * 8, "judging.jury"),
])
def test_bad_seats_name_the_key(jury_value, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        jury.seats_from_config({"judging": {"jury": jury_value}}, source="config.json")
    assert caught.value.key == key and "config.json" in str(caught.value)


@pytest.mark.parametrize(("model", "family"), [
    ("claude-sonnet-5-5", "anthropic"), ("sonnet", "anthropic"), ("offline-opus", "anthropic"),
    ("anthropic/claude-opus-4", "anthropic"), ("gpt-4o", "openai"), ("openai/o3-mini", "openai"),
    ("gemini-3-flash-preview", "google"), ("flash", "google"), ("meta-llama/llama-3.1-70b", "meta"),
    ("mistral-large", "mistral"), ("deepseek-chat", "deepseek"), ("my-local-model", None), ("", None),
])
def test_model_family(model: str, family: str | None) -> None:
    assert jury.model_family(model) == family


@pytest.mark.parametrize(("values", "expected"), [
    ([2], 2), ([1, 2], 1), ([1, 3], 2), ([0, 1, 3], 1), ([2, 3, 3], 3),
    ([10, 1], 2), ([10, 10, 1], 10), ([10, 1, 1], 1), ([10, 10], 10), ([10, 3, 3, 10], 3),
])
def test_combine_axis_median_snapped_and_ten_needs_a_majority(values: list[int], expected: int) -> None:
    assert jury.combine_axis(values) == expected
    assert jury.combine_axis(values) in {0, 1, 2, 3, 10}


def test_one_seat_is_passed_through_unchanged() -> None:
    only = score("elena", 1, 2, 10, 1, insight=GI)
    final, recusals = jury.combine([seat_result(1, "anthropic", elena=only)], ["elena"])
    assert final["elena"] is only and recusals == []


def test_two_seats_median_grand_insight_and_penalties() -> None:
    redundancy = [{"type": "redundancy", "quote": "as I said"}]
    one = seat_result(1, "anthropic", elena=score("elena", 1, 2, 10, 1, insight=GI, penalties=redundancy))
    two = seat_result(2, "openai", elena=score("elena", 2, 2, 10, 0, insight=GI, penalties=redundancy))
    three = seat_result(3, "google", elena=score("elena", 1, 3, 1, 1))
    final, _ = jury.combine([one, two, three], ["elena"])
    elena = final["elena"]
    assert elena.axes == {"novelty": 1, "accuracy": 2, "impact": 10, "challenge": 1}
    assert elena.grand_insight == GI and elena.penalties == redundancy and elena.total == 14
    assert "median of 3 seats" in elena.notes
    final, _ = jury.combine([one, three], ["elena"])   # one 10 of two seats: no majority
    assert final["elena"].axes["impact"] == 2 and final["elena"].grand_insight is None


def test_self_family_seat_is_recused_only_when_another_family_scored() -> None:
    claude = seat_result(1, "anthropic", elena=score("elena", 3, 3, 3, 3), naomi=score("naomi", 1, 1, 1, 1))
    gpt = seat_result(2, "openai", elena=score("elena", 1, 1, 1, 1), naomi=score("naomi", 1, 1, 1, 1))
    families = {"elena": "anthropic", "naomi": "google"}
    final, recusals = jury.combine([claude, gpt], ["elena", "naomi"], families)
    assert recusals == [{"seat": 1, "agent": "elena", "family": "anthropic"}]
    assert final["elena"].axes == {"novelty": 1, "accuracy": 1, "impact": 1, "challenge": 1}
    assert jury.self_family_marks([claude, gpt], families) == {"elena": [1]}
    both_claude = [claude, seat_result(2, "anthropic", elena=score("elena", 1, 1, 1, 1))]
    final, recusals = jury.combine(both_claude, ["elena"], families)
    assert recusals == [] and final["elena"].axes["novelty"] == 2   # nobody else to judge: marked, not recused


def test_a_worker_no_seat_scored_stays_unscored_with_every_reason() -> None:
    one = seat_result(1, None, elena=WorkerScore(agent="elena", unscored_reason="no score for elena"))
    two = seat_result(2, None, elena=WorkerScore(agent="elena", unscored_reason="judge call failed: 500"))
    final, _ = jury.combine([one, two], ["elena"])
    assert not final["elena"].scored
    assert "seat 1: no score for elena" in final["elena"].unscored_reason
    assert "seat 2: judge call failed: 500" in final["elena"].unscored_reason


def test_alpha_is_a_number_when_seats_disagree_a_little() -> None:
    one = seat_result(1, None, elena=score("elena", 1, 2, 1, 0), marcus=score("marcus", 2, 1, 3, 1))
    two = seat_result(2, None, elena=score("elena", 1, 2, 2, 0), marcus=score("marcus", 2, 1, 3, 1))
    alpha = jury.krippendorff_alpha([one, two], ["elena", "marcus"])
    assert isinstance(alpha, float) and 0 < alpha < 1
    assert jury.krippendorff_alpha([one, one], ["elena", "marcus"]) == 1.0
    opposite = seat_result(2, None, elena=score("elena", 3, 0, 3, 3), marcus=score("marcus", 0, 3, 0, 2))
    assert jury.krippendorff_alpha([one, opposite], ["elena", "marcus"]) < 0


def test_alpha_is_none_when_undefined() -> None:
    one = seat_result(1, None, elena=score("elena", 1, 1, 1, 1))
    assert jury.krippendorff_alpha([one], ["elena"]) is None                 # one seat
    assert jury.krippendorff_alpha([one, one], ["elena"]) is None            # no variation at all
    missing = seat_result(2, None, elena=WorkerScore(agent="elena", unscored_reason="x"))
    assert jury.krippendorff_alpha([one, missing], ["elena"]) is None        # nothing pairable

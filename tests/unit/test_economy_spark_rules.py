"""The arithmetic of the spark economy: fees, the penalty floor, the gate cap, grand insights."""

from __future__ import annotations

import pytest

from amatelier.economy import rules as r


@pytest.mark.parametrize(("model", "tier", "fee"), [
    ("haiku", "haiku", 5), ("flash", "flash", 5), ("sonnet", "sonnet", 8), ("opus", "opus", 15),
    ("claude-opus-5-5", "opus", 15), ("claude-haiku-5-5", "haiku", 5), ("gemini-3-flash-preview", "flash", 5),
    ("gpt-4o", "sonnet", 8),
])
def test_entry_fee_by_tier(model: str, tier: str, fee: int) -> None:
    assert r.fee_tier(model) == tier
    assert r.entry_fee({}, model) == fee


def test_entry_fee_follows_config() -> None:
    config = {"competition": {"entry_fees": {"sonnet": 11}}}
    assert r.entry_fee(config, "sonnet") == 11
    assert r.entry_fee(config, "opus") == 15   # missing keys keep their defaults


def test_penalties_reduce_gross_but_never_below_zero() -> None:
    s = r.settle_score(6, ["redundancy"])
    assert (s.gross, s.penalty_nominal, s.penalty_applied, s.credited) == (6, -3, -3, 3)
    s = r.settle_score(4, ["hallucination", "redundancy"])
    assert (s.penalty_nominal, s.penalty_applied, s.credited) == (-8, -4, 0)
    s = r.settle_score(0, ["off_directive"])
    assert (s.penalty_applied, s.credited) == (0, 0)
    assert r.settle_score(5, []).credited == 5


def test_fee_still_applies_after_the_floor() -> None:
    s = r.settle_score(2, ["hallucination"])
    assert s.credited == 0
    assert r.rt_net(s.credited, 8) == -8
    assert r.rt_net(r.settle_score(9, []).credited, 8) == 1


def test_the_documented_example_clare() -> None:
    # Clare (haiku, fee 5) scores 5, one redundancy, one gate: gross 2 + 3 = 5, net 0.
    settled = r.settle_score(5, ["redundancy"])
    assert settled.credited == 2
    assert r.rt_net(settled.credited, r.entry_fee({}, "haiku"), gates=r.gate_sparks()) == 0


def test_negative_gross_is_a_bug() -> None:
    with pytest.raises(ValueError):
        r.settle_score(-1, [])


def test_gate_cap_is_per_roundtable() -> None:
    assert r.gate_awards(0, 1) == 1
    assert r.gate_awards(0, 5) == 3
    assert r.gate_awards(2, 5) == 1
    assert r.gate_awards(3, 1) == 0
    assert r.gate_awards(0, 4, {"competition": {"gate_bonus": {"max_per_rt": 1}}}) == 1
    assert r.gate_sparks() == 3


def test_a_ten_without_quote_and_shift_is_capped_at_three() -> None:
    axes = {"novelty": 10, "accuracy": 1, "impact": 2, "challenge": 0}
    adjusted, notes = r.apply_grand_insight_rule(axes, None)
    assert adjusted["novelty"] == 3 and len(notes) == 1
    adjusted, _ = r.apply_grand_insight_rule(axes, {"axis": "novelty", "quote": "q", "before": "b", "after": ""})
    assert adjusted["novelty"] == 3
    full = {"axis": "novelty", "quote": "the cache is the bug", "before": "tune the DB", "after": "drop the cache"}
    adjusted, notes = r.apply_grand_insight_rule(axes, full)
    assert adjusted["novelty"] == 10 and notes == []


def test_only_the_named_axis_keeps_its_ten() -> None:
    axes = {"novelty": 10, "accuracy": 10, "impact": 1, "challenge": 1}
    insight = {"axis": "accuracy", "quote": "q", "before": "b", "after": "a"}
    adjusted, notes = r.apply_grand_insight_rule(axes, insight)
    assert adjusted == {"novelty": 3, "accuracy": 10, "impact": 1, "challenge": 1}
    assert notes and "novelty" in notes[0]
    # An unnamed axis is accepted only when exactly one axis is 10.
    adjusted, _ = r.apply_grand_insight_rule({"novelty": 10, "accuracy": 1, "impact": 1, "challenge": 1},
                                             {"quote": "q", "before": "b", "after": "a"})
    assert adjusted["novelty"] == 10
    adjusted, _ = r.apply_grand_insight_rule(axes, {"quote": "q", "before": "b", "after": "a"})
    assert adjusted["novelty"] == 3 and adjusted["accuracy"] == 3


def test_axis_validity() -> None:
    assert all(r.is_valid_axis(v) for v in (0, 1, 2, 3, 10))
    assert not any(r.is_valid_axis(v) for v in (4, 5, 9, 11, -1, 2.0, "2", True, None))


def test_relegation_needs_three_negative_rts_in_a_row() -> None:
    assert not r.relegation_at_risk([-1, -2])
    assert r.relegation_at_risk([-1, -2, -3])
    assert not r.relegation_at_risk([-1, -2, 0])
    assert r.relegation_at_risk([5, -1, -1, -1])
    assert not r.relegation_at_risk([-1, -1, 2, -1, -1])
    assert r.negative_streak([-1, 3, -2, -4]) == 2


def test_venture_terms_and_payouts() -> None:
    assert r.venture_terms({}, "scout") == (5, 3.0)
    assert r.venture_terms({}, "venture") == (12, 3.5)
    assert r.venture_terms({}, "moonshot") == (30, 4.0)
    assert r.venture_payout(5, 3.0) == 15
    assert r.venture_payout(12, 3.5) == 42
    assert r.venture_payout(30, 4.0) == 120
    assert r.venture_payout(3, 2.5) == 8          # half rounds up
    with pytest.raises(KeyError):
        r.venture_terms({}, "lottery")


def test_bench_and_outcome_defaults() -> None:
    assert r.bench_income({}) == 2
    assert r.outcome_bonus({}) == 5

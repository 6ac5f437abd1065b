"""Ceiling rules (pure): fits or not, the decision's reserve, stop reasons, time left."""

from __future__ import annotations

import pytest

from amatelier.chat.ceilings import Estimate, Limits, Spent, check_call, limits_from, seconds_left


def test_a_call_fits_only_within_the_limit_less_the_reserve() -> None:
    limits = Limits(max_cost_usd=0.02, reserve_share=0.1)
    assert check_call(limits, Spent(cost_usd=0.010), Estimate(0.008, 10)).fits          # 0.018 == room
    verdict = check_call(limits, Spent(cost_usd=0.010), Estimate(0.0081, 10))
    assert not verdict.fits and verdict.ceiling == "max_cost_usd"
    assert verdict.stop_reason == ("ceiling max_cost_usd reached: spent $0.0100 of the $0.0200 limit; "
                                   "the next call could need up to $0.0081")


def test_the_decision_may_use_the_reserved_share_but_not_more() -> None:
    limits = Limits(max_cost_usd=0.02, reserve_share=0.1)
    spent = Spent(cost_usd=0.018)
    assert not check_call(limits, spent, Estimate(0.001, 10), role="speak").fits
    assert check_call(limits, spent, Estimate(0.002, 10), role="decision").fits
    assert not check_call(limits, spent, Estimate(0.0021, 10), role="decision").fits


def test_an_unpriced_call_never_fits_under_a_cost_limit() -> None:
    verdict = check_call(Limits(max_cost_usd=5.0), Spent(), Estimate(None, 10))
    assert not verdict.fits
    assert "no price" in (verdict.stop_reason or "")
    assert check_call(Limits(max_tokens=100), Spent(), Estimate(None, 10)).fits


def test_token_and_time_limits() -> None:
    limits = Limits(max_tokens=10_000, max_minutes=10, reserve_share=0.2)
    assert check_call(limits, Spent(tokens=7000), Estimate(0.0, 1000)).fits
    verdict = check_call(limits, Spent(tokens=7000), Estimate(0.0, 1001))
    assert (verdict.fits, verdict.ceiling) == (False, "max_tokens")
    assert "spent 7000 tokens of the 10000 tokens limit" in (verdict.stop_reason or "")
    late = check_call(limits, Spent(minutes=8.0), Estimate(0.0, 1))
    assert (late.fits, late.ceiling) == (False, "max_minutes")
    assert seconds_left(limits, Spent(minutes=7.5)) == pytest.approx(30.0)
    assert seconds_left(limits, Spent(minutes=7.5), role="decision") == pytest.approx(150.0)
    assert seconds_left(Limits(), Spent()) is None


def test_limits_from_flags_treats_zero_as_no_limit() -> None:
    limits = limits_from({"max_cost_usd": 0, "max_tokens": 5000.0, "max_minutes": None})
    assert (limits.max_cost_usd, limits.max_tokens, limits.max_minutes) == (None, 5000, None)
    assert limits.any and not limits_from({}).any
    assert limits_from({}, 0.25).reserve_share == 0.25


def test_time_stop_reason_shows_minutes_readably() -> None:
    verdict = check_call(Limits(max_minutes=0.05), Spent(minutes=0.046), Estimate(0.0, 1))
    assert verdict.stop_reason == "ceiling max_minutes reached: spent 2.8 s of the 3.0 s limit"
    later = check_call(Limits(max_minutes=30), Spent(minutes=29.0), Estimate(0.0, 1))
    assert later.stop_reason == "ceiling max_minutes reached: spent 29.0 min of the 30.0 min limit"

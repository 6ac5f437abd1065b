"""Byzantine variance flags on Judge scores."""

from __future__ import annotations

from amatelier.economy.variance import capped_total, compute_variance_flags


def s(n: int, a: int, i: int, c: int) -> dict[str, int]:
    return {"novelty": n, "accuracy": a, "impact": i, "challenge": c}


def test_ordinary_scores_are_not_flagged() -> None:
    current = {"elena": s(1, 2, 1, 1), "marcus": s(2, 1, 1, 2), "clare": s(1, 1, 1, 2), "simon": s(1, 1, 2, 1)}
    history = {agent: [s(1, 1, 1, 1), score] for agent, score in current.items()}
    assert compute_variance_flags(current, history) == {}


def test_flat_low_three_rts_in_a_row() -> None:
    current = {"clare": s(1, 1, 1, 1)}
    assert "flat-low" in compute_variance_flags(current, {"clare": [s(0, 0, 0, 0), s(1, 1, 1, 1), s(1, 1, 1, 1)]})["clare"]
    assert compute_variance_flags(current, {"clare": [s(1, 2, 1, 1), s(1, 1, 1, 1), s(1, 1, 1, 1)]}) == {}
    assert compute_variance_flags(current, {"clare": [s(1, 1, 1, 1)]}) == {}


def test_erratic_across_axes() -> None:
    flags = compute_variance_flags({"marcus": s(10, 0, 1, 1)}, {"marcus": [s(10, 0, 1, 1)]})
    assert "a 10 next to a 0" in flags["marcus"]


def test_erratic_totals_across_rts() -> None:
    flags = compute_variance_flags({"simon": s(3, 3, 2, 2)}, {"simon": [s(0, 0, 0, 0), s(3, 3, 2, 2)]})
    assert "erratic totals" in flags["simon"]


def test_outlier_against_peer_consensus() -> None:
    current = {"elena": s(3, 3, 3, 3), "marcus": s(1, 1, 1, 1), "clare": s(1, 1, 1, 2), "simon": s(1, 1, 1, 1)}
    history = {agent: [score] for agent, score in current.items()}
    flags = compute_variance_flags(current, history)
    assert set(flags) == {"elena"} and "peer median" in flags["elena"]


def test_a_grand_insight_counts_as_three_for_consensus() -> None:
    assert capped_total(s(10, 1, 1, 1)) == 6
    current = {"elena": s(10, 1, 1, 1), "marcus": s(1, 1, 1, 1), "clare": s(1, 1, 1, 2), "simon": s(1, 1, 1, 1)}
    flags = compute_variance_flags(current, {a: [x] for a, x in current.items()})
    assert "elena" not in flags


def test_too_few_peers_for_consensus() -> None:
    current = {"elena": s(3, 3, 3, 3), "marcus": s(0, 1, 0, 1)}
    assert compute_variance_flags(current, {a: [x] for a, x in current.items()}) == {}

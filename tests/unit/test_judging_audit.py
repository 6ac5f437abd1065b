"""The order-swap and length audits: which roundtables, what flipped, how length relates to score."""

from __future__ import annotations

from amatelier.judging import audit
from amatelier.judging.scoring import WorkerScore


def score(agent: str, *axes: int) -> WorkerScore:
    return WorkerScore(agent=agent, axes=dict(zip(("novelty", "accuracy", "impact", "challenge"), axes, strict=True)))


def test_swap_share_reads_config_and_clamps() -> None:
    assert audit.swap_share({}) == 0.2
    assert audit.swap_share({"judging": {"swap_audit_share": 0.5}}) == 0.5
    assert audit.swap_share({"judging": {"swap_audit_share": 7}}) == 1.0
    assert audit.swap_share({"judging": {"swap_audit_share": -1}}) == 0.0
    assert audit.swap_share({"judging": {"swap_audit_share": "lots"}}) == 0.2


def test_should_audit_samples_a_stable_share() -> None:
    ids = [f"{i:08x}" for i in range(2000)]
    picked = [rt for rt in ids if audit.should_audit(rt, 0.2)]
    assert 300 < len(picked) < 500
    assert picked == [rt for rt in ids if audit.should_audit(rt, 0.2)]
    assert not any(audit.should_audit(rt, 0.0) for rt in ids[:50])
    assert all(audit.should_audit(rt, 0.0, forced=True) for rt in ids[:50])


def test_each_seat_has_its_own_reproducible_order() -> None:
    workers = ["elena", "marcus", "clare", "simon", "naomi"]
    first = audit.seat_order("rt1", 1, workers)
    assert sorted(first) == sorted(workers) and first == audit.seat_order("rt1", 1, workers)
    orders = {tuple(audit.seat_order("rt1", n, workers)) for n in range(1, 6)}
    assert len(orders) > 1


def test_flips_counts_changed_axis_scores() -> None:
    before = {"elena": score("elena", 1, 2, 1, 0), "marcus": score("marcus", 2, 2, 2, 2),
              "clare": WorkerScore(agent="clare", unscored_reason="x")}
    after = {"elena": score("elena", 2, 2, 1, 0), "marcus": score("marcus", 2, 2, 2, 1),
             "clare": score("clare", 1, 1, 1, 1)}
    rate, changed, compared = audit.flips(before, after)
    assert compared == 8 and rate == 0.25
    assert changed == [{"agent": "elena", "axis": "novelty", "before": 1, "after": 2},
                       {"agent": "marcus", "axis": "challenge", "before": 2, "after": 1}]
    assert audit.flips(before, before)[0] == 0.0
    assert audit.flips({}, after) == (None, [], 0)


def test_word_counts_and_pearson() -> None:
    messages = [{"agent": "elena", "kind": "speech", "content": "one two three"},
                {"agent": "elena", "kind": "speech", "content": "four"},
                {"agent": "marcus", "kind": "speech", "content": "a b"},
                {"agent": "judge", "kind": "judge", "content": "CONTINUE: more"},
                {"agent": "marcus", "kind": "turn", "content": "YOUR TURN marcus lots of words here"}]
    assert audit.word_counts(messages, ["elena", "marcus", "clare"]) == {"elena": 4, "marcus": 2, "clare": 0}
    assert audit.pearson([1, 2, 3], [2, 4, 6]) == 1.0
    assert audit.pearson([1, 2, 3], [3, 2, 1]) == -1.0
    assert audit.pearson([1, 2], [1, 2]) is None and audit.pearson([1, 1, 1], [1, 2, 3]) is None


def test_length_score_uses_scored_workers_only() -> None:
    scores = {"elena": score("elena", 3, 3, 3, 3), "marcus": score("marcus", 1, 1, 1, 1),
              "clare": score("clare", 2, 2, 2, 2), "simon": WorkerScore(agent="simon", unscored_reason="x")}
    result = audit.length_score({"elena": 300, "marcus": 100, "clare": 200, "simon": 50}, scores)
    assert result["totals"] == {"elena": 12, "marcus": 4, "clare": 8} and result["r"] == 1.0
    assert "simon" not in result["words"]


def test_judging_trend_from_digests() -> None:
    from amatelier.judging.history import judging_trend

    digests = [
        {"rt_id": "a", "judging": {"seats": [{}], "alpha": None, "flip_rate": None, "audit": {"audited": False}}},
        {"rt_id": "b", "judging": {"seats": [{}, {}], "alpha": 0.5, "flip_rate": 0.2, "audit": {"audited": True}}},
        {"rt_id": "c"},                                          # before juries existed
        {"rt_id": "d", "judging": {"seats": [{}, {}], "alpha": 0.7, "flip_rate": 0.0, "audit": {"audited": True},
                                   "length_score": {"r": 0.3}}},
    ]
    trend = judging_trend(digests)
    assert [r["rt_id"] for r in trend["roundtables"]] == ["a", "b", "d"]
    assert trend["flip_rate"] == {"audited": 2, "mean": 0.1} and trend["alpha"] == {"juried": 2, "mean": 0.6}
    assert trend["roundtables"][-1]["length_score_r"] == 0.3
    assert judging_trend([]) == {"roundtables": [], "flip_rate": {"audited": 0, "mean": None},
                                 "alpha": {"juried": 0, "mean": None}}

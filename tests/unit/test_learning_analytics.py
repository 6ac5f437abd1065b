"""Analytics over digests, the scores table and the spark ledger."""

from __future__ import annotations

import json
import sqlite3

from freezegun import freeze_time
from tests.helpers.learning_fixtures import (
    db,
    make_digest,
    make_roundtable,
    write_digest,
)

from amatelier import paths
from amatelier.learning import analytics

pytest_plugins = ["tests.helpers.learning_plugin"]


def scored(total_by_rt: list[dict[str, float]], agent: str = "elena") -> list[dict]:
    digests = []
    for i, axes in enumerate(total_by_rt):
        scores = {agent: dict(axes, total=sum(axes.values()), reason="r")}
        digests.append(make_digest(f"rt{i}", [agent, "marcus"], scores=scores,
                                   ended_at=f"2026-01-{i + 1:02d}T00:10:00Z"))
    return digests


def axes(n, a, i, c):
    return {"novelty": n, "accuracy": a, "impact": i, "challenge": c}


def test_trends_streaks_phase_and_strengths() -> None:
    digests = scored([axes(1, 1, 0, 1), axes(1, 1, 1, 1), axes(2, 1, 1, 1), axes(2, 2, 2, 1), axes(3, 2, 2, 1)])
    total = analytics.total_score_trend("elena", digests)
    assert total["values"] == [3, 4, 5, 7, 8]
    assert total["moving_average"] == [3, 3.5, 4, 5.33, 6.67]
    assert total["trend"] == "up" and total["rts"] == ["rt0", "rt1", "rt2", "rt3", "rt4"]
    dims = analytics.dimension_trends("elena", digests)
    assert dims["challenge"]["trend"] == "flat" and dims["novelty"]["latest"] == 3
    streaks = analytics.compute_streaks("elena", digests)
    assert streaks["personal_best"] == {"total": 8, "rt_id": "rt4"}
    assert streaks["current_streak"] == {"direction": "up", "length": 4}
    assert streaks["new_record_last_rt"] is True
    assert streaks["above_average_streak"] == 2
    assert analytics.detect_phase("elena", digests)["phase"] == "growing"
    sw = analytics.identify_strengths_weaknesses("elena", digests, window=3)
    assert sw["strongest"] == "novelty" and sw["weakest"] == "challenge"
    assert sw["averages"]["novelty"] == round(7 / 3, 2)


def test_phases() -> None:
    assert analytics.detect_phase("elena", [])["phase"] == "unscored"
    assert analytics.detect_phase("elena", scored([axes(1, 1, 1, 1)]))["phase"] == "onboarding"
    flat_low = scored([axes(1, 1, 1, 1)] * 4)
    assert analytics.detect_phase("elena", flat_low)["phase"] == "plateau"
    flat_high = scored([axes(2, 2, 2, 1)] * 4)
    assert analytics.detect_phase("elena", flat_high)["phase"] == "established"
    down = scored([axes(3, 2, 2, 2), axes(3, 2, 2, 2), axes(1, 1, 1, 0), axes(1, 0, 1, 0)])
    assert analytics.detect_phase("elena", down)["phase"] == "declining"


def test_unscored_entries_are_skipped() -> None:
    digests = scored([axes(1, 1, 1, 1), axes(2, 2, 2, 2)])
    digests[1]["scores"]["elena"] = {"unscored": "judge output invalid"}
    assert analytics.total_score_trend("elena", digests)["values"] == [4]
    assert analytics.compute_streaks("nobody", digests)["personal_best"] is None


def test_budget_and_judge_redirects() -> None:
    digests = [make_digest("a"), make_digest("b")]
    digests[1]["budget_usage"]["elena"] = {"spent": 3, "budget": 3}
    digests[1]["judge_interventions"] = [
        "Elena: stay on topic", {"text": "marcus too"}, "general note",
        {"round": 1, "signal": "CONTINUE", "text": "CONTINUE: elena and marcus disagree on cost"},
        {"round": 1, "signal": "GATE", "text": "GATE: marcus — sharpest challenge, better than elena's"},
        {"round": 2, "signal": "CONVERGED", "text": "CONVERGED: settled"}]
    budget = analytics.budget_analytics("elena", digests)
    assert budget["rts"] == 2 and budget["total_spent"] == 3 and budget["total_budget"] == 6
    assert budget["utilization"] == 0.5 and budget["exhausted_rts"] == 1 and budget["unused_rts"] == 1
    redirects = analytics.judge_redirect_analytics(digests, "elena")
    assert redirects["per_rt"] == {"a": 1, "b": 4} and redirects["total"] == 5
    assert redirects["gates_per_rt"] == {"a": 0, "b": 1}
    assert redirects["mentions"] == 3 and redirects["gates_awarded"] == 0
    marcus = analytics.judge_redirect_analytics(digests, "marcus")
    assert marcus["mentions"] == 4 and marcus["gates_awarded"] == 1
    missing = {"rt_id": "c"}
    assert analytics.budget_analytics("elena", [missing])["rts"] == 0


def test_economy_from_ledger_and_from_digests() -> None:
    digests = [make_digest("a"), make_digest("b")]
    econ = analytics.economy_analytics("elena", None, digests)
    assert econ["source"] == "digests" and econ["earned"] == 10 and econ["balance"] is None
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE spark_ledger (id INTEGER PRIMARY KEY, agent TEXT, rt_id TEXT, amount INTEGER, category TEXT)")
    conn.executemany("INSERT INTO spark_ledger (agent, rt_id, amount, category) VALUES (?,?,?,?)", [
        ("elena", "a", -8, "fee"), ("elena", "a", 12, "score"), ("elena", None, -10, "purchase"),
        ("elena", "b", 3, "gate"), ("marcus", "a", 20, "score")])
    econ = analytics.economy_analytics("elena", conn, digests)
    assert econ["source"] == "ledger"
    assert (econ["earned"], econ["spent"], econ["balance"]) == (15, 18, -3)
    assert econ["purchases"] == 1 and econ["purchase_spend"] == 10 and econ["roi"] == round(15 / 18, 2)
    assert econ["by_category"] == {"fee": -8, "score": 12, "purchase": -10, "gate": 3}
    overview = analytics.economy_overview(conn, digests, ["elena", "marcus"])
    assert overview["richest"] == "marcus" and overview["circulating"] == 17


def test_sparkline() -> None:
    assert analytics.sparkline([]) == ""
    assert analytics.sparkline([2, 2]) == "▄▄"
    assert analytics.sparkline([0, 5, 10]) == "▁▅█"


def test_update_all_analytics_caches_into_metrics_and_snapshots(learning_ws) -> None:
    conn = db()
    metrics = paths.user_agent_dir("elena") / "metrics.json"
    metrics.write_text(json.dumps({"sparks": 42}))
    for i in range(2):
        d = make_digest(f"rt{i}", ended_at=f"2026-01-0{i + 1}T00:10:00Z")
        write_digest(d)
    extra = make_digest("rt9", ended_at="2026-01-09T00:10:00Z")     # not on disk yet
    with freeze_time("2026-01-09T01:00:00Z"):
        out = analytics.update_all_analytics(conn, [extra])
    assert set(out) == {"elena", "marcus", "clare", "simon"}
    cached = json.loads(metrics.read_text())
    assert cached["sparks"] == 42
    assert cached["analytics"]["scored_rts"] == 3 and cached["analytics"]["last_rt"] == "rt9"
    assert cached["analytics"]["updated_at"] == "2026-01-09T01:00:00+00:00"
    trajectory = analytics.rank_trajectory("elena")
    assert [t["rt_id"] for t in trajectory] == ["rt9"] and trajectory[0]["of"] == 4
    analytics.update_all_analytics(conn, [extra])            # same RT: snapshot replaced
    assert len(analytics.rank_trajectory("elena")) == 1


def test_a_broken_leaderboard_history_does_not_stop_the_snapshots(learning_ws) -> None:
    write_digest(make_digest("rtH1"))
    analytics.leaderboard_history_path().write_text('{"snapshots": [')
    analytics.update_all_analytics(None)
    history = json.loads(analytics.leaderboard_history_path().read_text())
    assert [s["rt_id"] for s in history["snapshots"]] == ["rtH1"]
    kept = list(paths.user_benchmarks_dir().glob("leaderboard-history.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == '{"snapshots": ['
    assert analytics.rank_trajectory("elena")[0]["rt_id"] == "rtH1"


def test_engagement_matrix_and_agent_report(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rtA")
    d = make_digest("rtA")
    write_digest(d)
    matrix = analytics.engagement_matrix([d], conn)
    # every speech says "building on <next worker>"; marcus's text also names marcus (self: ignored)
    assert matrix["elena"]["marcus"] == 4 and matrix["simon"]["elena"] == 4
    assert matrix["marcus"].get("marcus") is None
    report = analytics.agent_report("elena", conn)
    assert report["roundtables"] == ["rtA"]
    assert report["engagement"]["builds_on"]["marcus"] == 4
    assert report["engagement"]["built_on_by"]["simon"] == 4
    text = analytics.format_report_text(report)
    assert text.startswith("Growth report — elena") and "Builds on: marcus (4)" in text
    # People read this: the axis averages are words and numbers, not a Python dict.
    assert "(averages: novelty 1, accuracy 2, impact 0, challenge 1)" in text and "{" not in text
    assert "Economy (digests): earned 5, spent -, balance -, ROI -" in text and "None" not in text
    overview = analytics.overview(conn)
    assert [rt["rt_id"] for rt in overview["roundtables"]] == ["rtA"]


def test_load_all_digests_sorts_and_skips_garbage(learning_ws) -> None:
    write_digest(make_digest("late", ended_at="2026-02-01T00:00:00Z"))
    write_digest(make_digest("early", ended_at="2026-01-01T00:00:00Z"))
    (paths.user_digest_dir() / "digest-bad.json").write_text("{oops")
    (paths.user_digest_dir() / "digest-list.json").write_text("[]")
    assert [d["rt_id"] for d in analytics.load_all_digests()] == ["early", "late"]
    # Two roundtables ending in the same second keep the order their digests were written in.
    import os

    second = write_digest(make_digest("zz-first", ended_at="2026-03-01T00:00:00Z"))
    first = write_digest(make_digest("aa-second", ended_at="2026-03-01T00:00:00Z"))
    os.utime(second, (1_000_000, 1_000_000))
    os.utime(first, (2_000_000, 2_000_000))
    assert [d["rt_id"] for d in analytics.load_all_digests()][-2:] == ["zz-first", "aa-second"]

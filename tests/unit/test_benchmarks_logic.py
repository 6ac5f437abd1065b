"""Pure benchmark logic: batch ids, run plans, score normalisation, the comparison and its interval."""

from __future__ import annotations

import re

import pytest

from amatelier.benchmarks import stats
from amatelier.benchmarks.batch_store import BatchError, batch_dir, batch_status, counts, plan_runs
from amatelier.benchmarks.batches import parse_persona_sets
from amatelier.benchmarks.ids import is_batch_id, new_batch_id
from amatelier.benchmarks.jobs import outcome_from, parse_stdout
from amatelier.benchmarks.progress import describe
from amatelier.benchmarks.results import agent_evaluation, normalise_axis, run_result


def test_batch_ids_have_the_documented_shape() -> None:
    ids = {new_batch_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"batch-\d{13}-[0-9a-z]{9}", i) for i in ids)
    assert new_batch_id(1_764_000_000_123).startswith("batch-1764000000123-")


@pytest.mark.parametrize("text", ["batch-1764000000123-abc", "batch-1764000000123-ABCDEFGHI",
                                  "../batch-1764000000123-abcdefghi", "batch-1764000000123-abcdefghi/..", ""])
def test_malformed_batch_ids_never_become_paths(text: str) -> None:
    assert not is_batch_id(text)
    with pytest.raises(BatchError, match="not a batch id"):
        batch_dir(text)


def test_run_plan_interleaves_persona_sets_with_unique_keys() -> None:
    specs = plan_runs(["a", "b"], 2, ["seed", "current"])
    assert [s.key for s in specs[:4]] == ["a.seed.1", "a.current.1", "b.seed.1", "b.current.1"]
    assert len({s.key for s in specs}) == len(specs) == 8


def test_persona_set_options() -> None:
    assert parse_persona_sets(None, None) == ("current",)
    assert parse_persona_sets("seed", None) == ("seed",)
    assert parse_persona_sets(None, "seed, current") == ("seed", "current")
    for bad_set, bad_compare, words in (("seed", "seed,current", "not both"), (None, "seed,seed", "two different"),
                                        ("evolved", None, "unknown persona set")):
        with pytest.raises(ValueError, match=words):
            parse_persona_sets(bad_set, bad_compare)


def test_axis_normalisation_and_unscored_workers() -> None:
    assert [normalise_axis(v) for v in (0, 1, 2, 3, 10)] == [0.0, 0.333333, 0.666667, 1.0, 1.0]
    assert normalise_axis(7) is None and normalise_axis(True) is None and normalise_axis("2") is None
    scored = agent_evaluation({"novelty": 3, "accuracy": 0, "impact": 10, "challenge": 2, "total": 15,
                               "penalties": [{"type": "redundancy", "quote": "x"}]})
    assert scored["overall_score"] == pytest.approx((1 + 0 + 1 + 2 / 3) / 4, abs=1e-6)
    assert scored["penalties"] == 1 and scored["raw"]["total"] == 15
    assert agent_evaluation({"unscored": "bad JSON"}) is None
    assert agent_evaluation({"novelty": 1}) is None


def digest(**over) -> dict:
    base = {"rt_id": "rt1", "status": "closed", "mode": "offline", "rounds": 2, "converged": True,
            "workers": ["elena", "marcus"],
            "worker_models": {"elena": {"model": "m1"}, "marcus": {"model": "m2"}},
            "scores": {"elena": {"novelty": 3, "accuracy": 3, "impact": 3, "challenge": 3, "total": 12},
                       "marcus": {"unscored": "no valid score"}},
            "llm_usage": {"input_tokens": 100, "output_tokens": 50, "calls": 7, "cost_usd": 0.25}}
    return base | over


def test_run_result_keeps_scores_models_and_usage() -> None:
    result = run_result(digest(), duration_ms=1234)
    assert result["agents"]["elena"] == result["agents"]["elena"] | {"model": "m1", "scored": True,
                                                                      "overall_score": 1.0}
    assert result["agents"]["marcus"]["scored"] is False and "no valid score" in result["agents"]["marcus"]["unscored"]
    assert result["team_score"] == 1.0
    assert result["telemetry"] == {"duration_ms": 1234, "input_tokens": 100, "output_tokens": 50, "calls": 7,
                                   "cost_usd": 0.25}


def test_runner_output_becomes_done_or_failed() -> None:
    import json

    ok = outcome_from("k", 0, json.dumps(digest()), "", 10)
    assert ok.ok and ok.result["rt_id"] == "rt1"
    cut = outcome_from("k", 1, json.dumps(digest(status="cut", cut_reason="health audit")),
                       "amatelier: roundtable rt1 was cut (health audit)\n", 10)
    assert not cut.ok and "was cut" in cut.error
    killed = outcome_from("k", -9, "", "", 10)
    assert not killed.ok and "signal 9" in killed.error
    assert parse_stdout("warning line\n" + json.dumps({"a": 1})) == {"a": 1}
    assert parse_stdout("not json") is None


def test_counts_and_status() -> None:
    specs = plan_runs(["a", "b"], 1, ["current"])
    runs = {"a.current.1": {"status": "done"}}
    tally = counts(specs, runs)
    assert tally == {"total": 2, "done": 1, "failed": 0, "running": 0, "pending": 1}
    assert batch_status(tally, driven=False) == "interrupted"
    assert batch_status(tally, driven=True) == "running"
    assert batch_status(counts(specs, {s.key: {"status": "done"} for s in specs}), driven=False) == "complete"
    assert describe(3, 12, 1, 0.5) == "3/12 done · 1 failed · $0.5000 so far"


def test_bootstrap_is_reproducible_and_needs_two_runs_each() -> None:
    base, spec = [0.40, 0.45, 0.50, 0.42], [0.60, 0.65, 0.58, 0.62]
    first = stats.bootstrap_interval(base, spec)
    assert first == stats.bootstrap_interval(base, spec)
    low, high = first
    assert 0 < low <= 0.1825 <= high  # the observed difference lies inside; clearly above 0
    assert stats.bootstrap_interval([0.5], spec) is None


def test_comparison_numbers_and_statement() -> None:
    runs = ([{"persona_set": "seed", "overall_score": v, "model": "a"} for v in (0.4, 0.5)]
            + [{"persona_set": "current", "overall_score": v, "model": "a"} for v in (0.6, 0.7)]
            + [{"persona_set": "current", "overall_score": 0.9, "model": "b"}])
    result = stats.compare(runs)
    assert result["baseline_avg_score"] == 0.45
    assert result["specialist_avg_score"] == pytest.approx(0.733333, abs=1e-6)
    assert result["improvement"] == pytest.approx(0.283333, abs=1e-6)
    assert result["improvement_pct"] == pytest.approx(62.963, abs=1e-3)
    assert (result["baseline_runs"], result["specialist_runs"]) == (2, 3)
    by_model = {m["model"]: m for m in result["models_compared"]}
    assert by_model["a"]["improvement"] == pytest.approx(0.2) and by_model["b"]["baseline_avg_score"] is None
    assert "personas score higher" in stats.statement(result)


def test_statement_says_when_the_difference_may_be_noise() -> None:
    noisy = stats.compare([{"persona_set": "seed", "overall_score": v} for v in (0.2, 0.8, 0.5)]
                          + [{"persona_set": "current", "overall_score": v} for v in (0.3, 0.9, 0.5)])
    assert "includes 0" in stats.statement(noisy)
    lonely = stats.compare([{"persona_set": "seed", "overall_score": 0.2},
                            {"persona_set": "current", "overall_score": 0.9}])
    assert "too few runs" in stats.statement(lonely)
    assert "No comparison" in stats.statement(stats.compare([{"persona_set": "current", "overall_score": 0.9}]))


@pytest.mark.parametrize("live", [True, False])
def test_progress_shows_done_total_failures_and_cost(live: bool) -> None:
    import io

    from amatelier.benchmarks.progress import BatchProgress

    stream = io.StringIO()
    display = BatchProgress("batch-1764000000000-abcdefghi", live=live, stream=stream)
    display.begin(3, 1, 0.25)
    display.finished("a.seed.1", True, 0.5, None)
    display.finished("b.seed.1", False, 0.75, "runner killed by signal 9")
    display.end()
    text = stream.getvalue()
    assert "1 of 3 runs already finished" in text
    assert "3/3" in text and "1 failed" in text and "0.7500" in text
    assert "b.seed.1" in text and "runner killed by signal 9" in text

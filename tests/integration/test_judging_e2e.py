"""Whole offline roundtables with a jury and the Judge audits, then `amatelier reliability`.

Real `amatelier roundtable` subprocesses, real workers, real SQLite, the offline backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers.roundtable_run import roundtable_args, rows, rt_env, run_cli, write_config

pytestmark = pytest.mark.e2e

JURY = {"judging": {"jury": [{"model": "sonnet"}, {"model": "opus"}], "swap_audit_share": 0.0}}
WORKERS = ["elena", "marcus", "clare", "naomi"]
SCALE = {0, 1, 2, 3, 10}


def roundtable(workspace: Path, *extra: str, topic: str = "split the monolith?", **env: str) -> dict:
    args = roundtable_args(topic, "--workers", ",".join(WORKERS), "--max-rounds", "2", "--skip-post", *extra)
    result = run_cli(args, rt_env(workspace, **env))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_two_seat_jury_reports_seats_orders_alpha_and_scores_on_the_scale(tmp_path: Path) -> None:
    write_config(tmp_path, JURY)
    digest = roundtable(tmp_path)
    judging = digest["judging"]
    seats = judging["seats"]
    assert [(s["seat"], s["model"]) for s in seats] == [(1, "sonnet"), (2, "opus")]
    for seat in seats:
        assert sorted(seat["order"]) == sorted(WORKERS)
        assert set(seat["scores"]) == set(WORKERS)
        for entry in seat["scores"].values():
            assert {entry[a] for a in ("novelty", "accuracy", "impact", "challenge")} <= SCALE
    assert isinstance(judging["alpha"], float) and judging["method"] == "median"
    for worker in WORKERS:
        final = digest["scores"][worker]
        assert {final[a] for a in ("novelty", "accuracy", "impact", "challenge")} <= SCALE
    assert judging["swap"] is None and judging["flip_rate"] is None
    score_calls = rows(tmp_path, "SELECT model FROM llm_calls WHERE role = 'score' ORDER BY model")
    assert [c["model"] for c in score_calls] == ["offline-opus", "offline-sonnet"]
    stored = rows(tmp_path, "SELECT seats, alpha FROM judging_results WHERE rt_id = ?", digest["rt_id"])
    assert stored == [{"seats": 2, "alpha": judging["alpha"]}]


def test_audit_judge_reports_a_swap_and_its_flip_rate(tmp_path: Path) -> None:
    unbiased = roundtable(tmp_path / "plain", "--audit-judge")
    judging = unbiased["judging"]
    assert judging["audit"]["audited"] and judging["audit"]["reason"] == "--audit-judge"
    assert judging["swap"]["order"] == list(reversed(judging["seats"][0]["order"]))
    assert judging["flip_rate"] == 0.0 and judging["swap"]["compared"] == 4 * len(WORKERS)

    biased = roundtable(tmp_path / "biased", "--audit-judge", AMATELIER_OFFLINE_ORDER_BIAS="1")
    assert biased["judging"]["flip_rate"] > 0
    assert biased["judging"]["swap"]["changed"]


def test_the_gate_speaks_json_and_the_transcript_shows_readable_lines(tmp_path: Path) -> None:
    digest = roundtable(tmp_path)
    judge_lines = rows(tmp_path, "SELECT content FROM messages WHERE kind = 'judge' ORDER BY id")
    assert judge_lines and all(not line["content"].lstrip().startswith(("{", "```")) for line in judge_lines)
    assert judge_lines[0]["content"].startswith(("CONTINUE: ", "CONVERGED: "))
    assert digest["converged"] is True
    assert {i["signal"] for i in digest["judge_interventions"]} <= {"CONTINUE", "CONVERGED", "GATE"}


def test_reliability_after_a_few_roundtables(tmp_path: Path) -> None:
    write_config(tmp_path, JURY)
    for n in range(3):
        roundtable(tmp_path, *(["--audit-judge"] if n else []), topic=f"question {n}")
    result = run_cli(["reliability", "--json"], rt_env(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["roundtables"] == 3
    models = {(c["backend"], c["model"]) for c in report["calls"]}
    assert {("offline", "offline-sonnet"), ("offline", "offline-opus")} <= models
    for entry in report["calls"]:
        assert set(entry["latency_ms"]) == {"p50", "p95", "p99"} and entry["latency_ms"]["p50"] is not None
        assert entry["error_rate"] == 0.0 and "retry_rate" in entry and "breaker_events" in entry
    history = report["judging"]["roundtables"]
    assert len(history) == 3 and all(isinstance(h["alpha"], float) for h in history)
    assert [h["audited"] for h in history] == [False, True, True]
    assert report["judging"]["flip_rate"] == {"mean": 0.0, "audited": 2}
    assert report["judging"]["alpha"]["juried"] == 3
    assert report["judging"]["length_score"]["pairs"] == 3 * len(WORKERS)
    assert "r" in report["judging"]["length_score"] and "recusals" in report["judging"]
    assert report["hedges"]["hedged"] == 0 and "win_rate" in report["hedges"]

    analytics = json.loads(run_cli(["analytics", "--json"], rt_env(tmp_path)).stdout)["judging"]
    assert analytics["flip_rate"] == {"audited": 2, "mean": 0.0}
    assert [r["audited"] for r in analytics["roundtables"]] == [False, True, True]
    assert analytics["alpha"]["juried"] == 3


def test_a_bad_jury_stops_before_the_debate_with_one_line(tmp_path: Path) -> None:
    write_config(tmp_path, {"judging": {"jury": [{"model": "sonnet", "backend": "carrier-pigeon"}]}})
    result = run_cli(roundtable_args("x", "--skip-post"), rt_env(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "judging.jury[0].backend" in result.stderr
    assert not (tmp_path / "roundtable-server" / "roundtable.db").exists() or not rows(
        tmp_path, "SELECT id FROM roundtables")

"""The jury on the offline judge and a real database: seats, orders, alpha, swap audit, recusal."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from amatelier.backends.offline import OfflineBackend
from amatelier.judging import panel, prompts, store

WORKERS = ["elena", "marcus", "clare", "simon", "naomi"]
SAID = {
    "elena": ["Split along the billing boundary first. It has the cleanest seams.",
              "Marcus is right that the auth coupling is real, but it is read-only."],
    "marcus": ["The monolith's auth module is imported by forty files; splitting leaks it everywhere."],
    "clare": ["Measure deploy coupling for two weeks. Decide with data.", "One owner per boundary."],
    "simon": ["Sequence: extract billing behind a flag, then auth, then nothing else this quarter."],
    "naomi": ["Nobody has priced the on-call load of two services. It doubles the pager rotation."],
}


class Recording(OfflineBackend):
    """The offline backend, keeping every (task, model, system, prompt) it was asked."""

    seen: list[dict[str, Any]] = []

    def complete(self, system, prompt, model="sonnet", max_tokens=1024, timeout=120.0, *, task=None, agent=None):
        Recording.seen.append({"task": task, "model": model, "system": system, "prompt": prompt})
        return super().complete(system, prompt, model, max_tokens, timeout, task=task, agent=agent)


@pytest.fixture
def rt(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[sqlite3.Connection, str, list[dict[str, Any]]]]:
    from amatelier.chat import messages, roundtables
    from amatelier.chat.db import open_db

    monkeypatch.setenv("AMATELIER_MODE", "offline")
    Recording.seen = []
    conn = open_db()
    rt_id = roundtables.open_roundtable(conn, "split the monolith?", [*WORKERS, "judge"])
    messages.post(conn, rt_id, "runner", "BRIEFING:\n\nShould we split the monolith?", kind="briefing")
    for round_no in (1, 2):
        for agent in WORKERS:
            said = SAID[agent]
            if round_no <= len(said):
                messages.post(conn, rt_id, agent, said[round_no - 1], kind="speech", round=round_no, phase="SPEAK")
    yield conn, rt_id, messages.transcript(conn, rt_id)
    conn.close()


def config(**judging: Any) -> dict[str, Any]:
    from amatelier.config import deep_merge, load_config

    return deep_merge(load_config(), {"judging": judging})


def run(rt, cfg, **kwargs):
    conn, rt_id, transcript = rt
    return panel.run_jury(conn, rt_id, WORKERS, config=cfg, topic="split the monolith?", messages=transcript,
                          backend_for=lambda seat: Recording(cfg), **kwargs)


def test_default_is_one_seat_and_the_same_calls_as_a_lone_judge(rt) -> None:
    outcome = run(rt, config(swap_audit_share=0.0))
    judging = outcome.judging
    assert [s["model"] for s in judging["seats"]] == ["sonnet"] and judging["method"] == "single"
    assert judging["alpha"] is None and judging["swap"] is None and judging["flip_rate"] is None
    assert [c["task"] for c in Recording.seen if c["task"] == "score"] == ["score"]
    assert all(s.scored for s in outcome.scores.values())


def test_two_seats_score_independently_in_their_own_orders(rt) -> None:
    outcome = run(rt, config(jury=[{"model": "sonnet"}, {"model": "opus"}], swap_audit_share=0.0))
    judging = outcome.judging
    seats = judging["seats"]
    assert [s["seat"] for s in seats] == [1, 2] and [s["model"] for s in seats] == ["sonnet", "opus"]
    for seat in seats:
        assert sorted(seat["order"]) == sorted(WORKERS)
        assert set(seat["scores"]) == set(WORKERS)
    scoring_calls = {c["model"]: c for c in Recording.seen if c["task"] == "score"}   # seats run at once
    assert sorted(scoring_calls) == ["opus", "sonnet"]
    for seat in seats:
        assert f"WORKERS: {', '.join(seat['order'])}\n" in scoring_calls[seat["model"]]["prompt"]
    assert isinstance(judging["alpha"], float) and -1 <= judging["alpha"] < 1   # they disagree a little
    for score in outcome.scores.values():
        assert set(score.axes.values()) <= {0, 1, 2, 3, 10}
    assert judging["method"] == "median"
    # Offline seats are all 'anthropic' (sonnet, opus): the Claude workers are marked, Naomi (flash) is not.
    assert judging["self_family"] == {w: [1, 2] for w in ("elena", "marcus", "clare", "simon")}
    assert judging["recusals"] == []


def test_the_scoring_call_has_the_rubric_once_and_no_contradicting_system_prompt(rt) -> None:
    run(rt, config(swap_audit_share=0.0))
    call = next(c for c in Recording.seen if c["task"] == "score")
    both = call["system"] + call["prompt"]
    assert both.count("SCORING RUBRIC") == 1 and both.count("novelty:") == 1
    assert "JSON" not in call["system"] and "CONVERGED" not in call["system"]
    assert call["system"] == prompts.judge_system("judge")


def test_a_seat_of_another_family_recuses_the_same_family_seat(rt) -> None:
    outcome = run(rt, config(jury=[{"model": "sonnet"}, {"model": "gpt-4o"}], swap_audit_share=0.0))
    judging = outcome.judging
    assert judging["seats"][1]["family"] == "openai"
    recused = {(r["seat"], r["agent"]) for r in judging["recusals"]}
    assert recused == {(1, w) for w in ("elena", "marcus", "clare", "simon")}
    gpt = judging["seats"][1]["scores"]
    for worker in ("elena", "marcus", "clare", "simon"):
        expected = {a: min(3, gpt[worker][a]) if gpt[worker][a] != 10 else 10
                    for a in ("novelty", "accuracy", "impact", "challenge")}
        assert outcome.scores[worker].axes == expected


def test_swap_audit_unbiased_judge_flips_nothing(rt) -> None:
    outcome = run(rt, config(swap_audit_share=0.0), audit_forced=True)
    judging = outcome.judging
    assert judging["audit"] == {"audited": True, "share": 0.0, "reason": "--audit-judge"}
    swap = judging["swap"]
    assert swap["order"] == list(reversed(judging["seats"][0]["order"]))
    assert swap["compared"] == 20 and judging["flip_rate"] == 0.0 and swap["changed"] == []
    assert [c["task"] for c in Recording.seen].count("score-swap") == 1


def test_swap_audit_catches_the_order_biased_judge(rt, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMATELIER_OFFLINE_ORDER_BIAS", "1")
    outcome = run(rt, config(swap_audit_share=0.0), audit_forced=True)
    judging = outcome.judging
    assert judging["flip_rate"] > 0
    first, last = judging["seats"][0]["order"][0], judging["seats"][0]["order"][-1]
    assert {c["agent"] for c in judging["swap"]["changed"]} <= {first, last}


def test_results_are_stored_once_for_the_report(rt) -> None:
    conn, rt_id, _ = rt
    outcome = run(rt, config(jury=[{"model": "sonnet"}, {"model": "opus"}]), audit_forced=True)
    assert store.save_judging(conn, rt_id, outcome.judging) is True
    assert store.save_judging(conn, rt_id, outcome.judging) is False
    assert store.load_judging(conn, rt_id)["alpha"] == outcome.judging["alpha"]
    (row,) = store.judging_history(conn)
    assert row["seats"] == 2 and row["audited"] and row["flip_rate"] == 0.0 and row["self_family"] == 8
    assert store.flip_rate_trend(conn)["audited"] == 1


def test_a_seat_whose_backend_cannot_run_is_refused_before_the_roundtable(monkeypatch) -> None:
    from amatelier.backends.base import BackendUnavailable

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    cfg = config(jury=[{"model": "sonnet"}, {"model": "claude-opus-5-5", "backend": "anthropic-sdk"}])
    with pytest.raises(BackendUnavailable, match=r"judging.jury\[1\] uses anthropic-sdk"):
        panel.validate_jury(cfg, "openai-compat")
    assert [s.model for s in panel.validate_jury(cfg, "offline")] == ["sonnet", "claude-opus-5-5"]


def test_offline_mode_keeps_every_seat_offline(rt) -> None:
    cfg = config(jury=[{"model": "sonnet"}, {"model": "gpt-4o", "backend": "openai-compat"}], swap_audit_share=0.0)
    conn, rt_id, transcript = rt
    outcome = panel.run_jury(conn, rt_id, WORKERS, config=cfg, messages=transcript)
    assert [s["backend"] for s in outcome.judging["seats"]] == ["offline", "offline"]
    assert outcome.judging["seats"][1]["model_id"] == "offline-gpt-4o"

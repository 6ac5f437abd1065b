"""The runner seams on a real database with the offline Judge: fees, scores, gates, flags, digest."""

from __future__ import annotations

import json

import pytest
from tests.helpers.economy_support import (
    WORKERS,
    grant,
    ledger_rows,
    make_rt,
    make_state,
)

from amatelier import paths
from amatelier.chat import messages
from amatelier.economy import ledger, store
from amatelier.economy import settle as hooks
from amatelier.offline import scoring

pytest_plugins = ["tests.helpers.economy_fixtures"]


def rt_id_with(variant) -> str:
    for i in range(10_000):
        rt = f"e{i:05x}"
        if scoring.malformed_variant(rt) == variant:
            return rt
    raise AssertionError


def play(conn, rt: str, gates: str = "GATE: marcus \u2014 found the exploit\nCONTINUE: cost open") -> None:
    messages.post(conn, rt, "runner", "BRIEFING: should we split the billing service?", kind="briefing")
    for agent in WORKERS:
        messages.post(conn, rt, agent, f"{agent.title()} argues a distinct point. With detail.", kind="speech",
                      round=1, phase="speak")
    messages.post(conn, rt, "judge", gates, kind="judge", round=1, phase="gate")
    conn.execute("UPDATE roundtables SET status = 'closed' WHERE id = ?", (rt,))


def test_a_full_roundtable_leaves_fee_score_and_gate_rows(econ_db, econ_config) -> None:
    rt = make_rt(econ_db, rt_id_with(None))
    state = make_state(econ_db, rt, econ_config)
    hooks.before_open(state)
    assert state.budgets == dict.fromkeys(WORKERS, 3) and state.budget_start == state.budgets
    hooks.on_open(state)
    assert hooks.order_speakers(state, list(WORKERS)) == WORKERS
    play(econ_db, rt)
    fields = hooks.after_close(state, {})
    assert "economy_errors" not in fields, fields.get("economy_errors")

    categories = {r["category"] for r in ledger_rows(econ_db, rt_id=rt)}
    assert {"fee", "score", "gate"} <= categories
    assert set(fields["scores"]) == set(WORKERS)
    for agent, score in fields["scores"].items():
        assert all(score[axis] in (0, 1, 2, 3, 10) for axis in ("novelty", "accuracy", "impact", "challenge")), agent
    assert fields["gates"] == [{"agent": "marcus", "reason": "found the exploit", "message_id": fields["gates"][0]["message_id"],
                                "round": 1, "sparks": 3, "status": "awarded"}]
    for agent in WORKERS:
        rows = ledger_rows(econ_db, rt_id=rt, agent=agent)
        assert fields["sparks_earned"][agent] == sum(r["amount"] for r in rows)
        assert ledger.balance(econ_db, agent) == sum(r["amount"] for r in ledger_rows(econ_db, agent=agent))
    snapshot = json.loads((paths.user_benchmarks_dir() / "leaderboard.json").read_text())
    assert snapshot["rt_id"] == rt and {r["agent"] for r in snapshot["leaderboard"]} >= set(WORKERS)
    metrics = json.loads((paths.user_agent_dir("elena") / "metrics.json").read_text())
    assert metrics["sparks"] == ledger.balance(econ_db, "elena")

    # Running the close seam again pays nothing twice and asks the Judge nothing new.
    calls = econ_db.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0]
    before = ledger_rows(econ_db)
    again = hooks.after_close(state, {})
    assert ledger_rows(econ_db) == before and again["sparks_earned"] == fields["sparks_earned"]
    assert econ_db.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == calls


def test_the_repair_path_runs_offline(econ_db, econ_config) -> None:
    rt = make_rt(econ_db, rt_id_with(0))
    state = make_state(econ_db, rt, econ_config)
    hooks.on_open(state)
    play(econ_db, rt)
    fields = hooks.after_close(state, {})
    roles = [r[0] for r in econ_db.execute("SELECT role FROM llm_calls WHERE rt_id = ? ORDER BY id", (rt,))]
    assert roles == ["score", "score-repair"]
    assert all("unscored" not in s for s in fields["scores"].values())
    assert state.notes["economy"]["score_repaired"] is True


def test_an_unreachable_judge_leaves_workers_unscored_not_crashed(econ_db, econ_config, monkeypatch) -> None:
    def no_backend(state):
        raise RuntimeError("no model available")

    monkeypatch.setattr(hooks, "judge_backend", no_backend)
    rt = make_rt(econ_db, "e1")
    state = make_state(econ_db, rt, econ_config)
    hooks.on_open(state)
    play(econ_db, rt)
    fields = hooks.after_close(state, {})
    assert all(s["unscored"] == "no judge backend: no model available" for s in fields["scores"].values())
    assert not ledger_rows(econ_db, rt_id=rt, category="score")
    assert fields["sparks_earned"]["elena"] == -8          # the fee still applies
    assert fields["gates"][0]["status"] == "awarded"


def test_seam_failures_are_logged_not_raised(econ_db, econ_config, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "apply_boosts_for_rt", broken)
    monkeypatch.setattr(ledger, "award_gates_from_transcript", broken)
    rt = make_rt(econ_db, "e2")
    state = make_state(econ_db, rt, econ_config)
    hooks.before_open(state)
    hooks.on_open(state)
    play(econ_db, rt)
    fields = hooks.after_close(state, {})
    assert any("boosts: OSError: disk full" in e for e in state.notes["economy"]["errors"])
    assert any(e.startswith("gate bonuses") for e in fields["economy_errors"])
    assert set(fields["scores"]) == set(WORKERS)               # the other steps still ran


def test_boosts_first_speaker_and_after_post(econ_db, econ_config) -> None:
    grant(econ_db, "clare", 10)
    grant(econ_db, "simon", 30)
    store.purchase(econ_db, "clare", "extra-floor-turns", econ_config)
    store.purchase(econ_db, "clare", "first-speaker", econ_config)
    store.purchase(econ_db, "simon", "first-speaker", econ_config)
    request = store.submit_request(econ_db, "clare", "anything on queueing theory")
    ledger.bench_agent(econ_db, "naomi", "chose the bench")

    rt = make_rt(econ_db, "e3")
    state = make_state(econ_db, rt, econ_config)
    state.budgets["elena"] = 5                                   # the runner's own value is kept
    hooks.before_open(state)
    assert state.budgets["clare"] == 5 and state.budget_start["clare"] == 5 and state.budgets["elena"] == 5
    hooks.on_open(state)
    order = hooks.order_speakers(state, ["elena", "clare", "marcus", "simon"])
    assert order == ["simon", "elena", "clare", "marcus"]        # simon has more sparks: better rank
    assert ledger.balance(econ_db, "clare") == 10 - 6 - 5        # bid refunded, fee paid
    play(econ_db, rt)
    hooks.after_close(state, {})
    hooks.after_post(state, {})
    assert store.get_pending_boosts(econ_db, "clare") == []
    assert {e["status"] for e in store.load_ledger(econ_db)["purchases"].values()} == {"consumed", "refunded"}
    assert store.list_requests(econ_db)[0]["rt_count"] == 1 and store.list_requests(econ_db)[0]["id"] == request["id"]
    assert [r["amount"] for r in ledger_rows(econ_db, agent="naomi", category="bench")] == [2]
    hooks.after_post(state, {})                                  # idempotent
    assert store.list_requests(econ_db)[0]["rt_count"] == 1
    assert len(ledger_rows(econ_db, agent="naomi", category="bench")) == 1


@pytest.mark.parametrize("tag", ["[[venture:scout: the p99 halves]]", "[[ venture | scout | the p99 halves ]]"])
def test_ventures_from_the_transcript(econ_db, econ_config, tag) -> None:
    grant(econ_db, "elena", 20)
    rt = make_rt(econ_db, "e4")
    state = make_state(econ_db, rt, econ_config)
    hooks.on_open(state)
    play(econ_db, rt)
    messages.post(econ_db, rt, "elena", f"I stake on it. {tag}", kind="speech", round=1, phase="floor")
    fields = hooks.after_close(state, {})
    assert [(v["agent"], v["tier"], v["status"], v["claim"]) for v in fields["ventures"]] == [
        ("elena", "scout", "open", "the p99 halves")]
    assert ledger_rows(econ_db, category="venture_stake")[0]["amount"] == -5


def test_the_next_roundtable_gives_back_the_fees_of_a_cut_one(econ_db, econ_config) -> None:
    from amatelier.chat import roundtables

    cut = make_rt(econ_db, "cut0001")
    hooks.on_open(make_state(econ_db, cut, econ_config))
    roundtables.cut_roundtable(econ_db, cut, "runner died")           # what cut_orphans does
    nxt = make_rt(econ_db, "next0001")
    state = make_state(econ_db, nxt, econ_config)
    hooks.on_open(state)
    assert state.notes["economy"]["cut_refunds"] == {cut: {"elena": 8, "marcus": 8, "clare": 5, "simon": 5}}
    assert state.notes["economy"]["fees"] == {"elena": 8, "marcus": 8, "clare": 5, "simon": 5}
    assert {a: ledger.balance(econ_db, a) for a in WORKERS} == {"elena": -8, "marcus": -8, "clare": -5, "simon": -5}
    assert state.notes["economy"]["errors"] == []

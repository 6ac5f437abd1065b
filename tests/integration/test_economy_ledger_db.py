"""The spark ledger in a real SQLite database: append-only, balances are sums, events happen once."""

from __future__ import annotations

import json
import random
import sqlite3

import pytest
from tests.helpers.economy_support import (
    WORKERS,
    grant,
    ledger_rows,
    make_rt,
)

from amatelier import paths
from amatelier.economy import ledger

pytest_plugins = ["tests.helpers.economy_fixtures"]


def test_balance_is_the_sum_of_the_rows(econ_db, econ_config) -> None:
    rng = random.Random(7)
    expected = dict.fromkeys(WORKERS, 0)
    for i in range(60):
        rt = make_rt(econ_db, f"rt{i:03d}")
        for agent in WORKERS:
            fee = ledger.deduct_entry_fee(econ_db, agent, rt, econ_config)
            gross = rng.choice([0, 1, 2, 3, 4, 5, 6, 13])
            penalties = [{"type": rng.choice(["redundancy", "hallucination"])}] if rng.random() < 0.3 else []
            settled = ledger.score_agent(econ_db, rt, agent, gross, penalties, econ_config)
            expected[agent] += settled.credited - fee
    sums = {a: econ_db.execute("SELECT SUM(amount) FROM spark_ledger WHERE agent = ?", (a,)).fetchone()[0]
            for a in WORKERS}
    assert ledger.balances(econ_db, WORKERS) == expected == sums
    assert all(ledger.balance(econ_db, a) == expected[a] for a in WORKERS)


def test_update_and_delete_are_refused_through_any_connection(econ_db, econ_ws) -> None:
    grant(econ_db, "elena", 10)
    raw = sqlite3.connect(paths.user_db_path())     # a plain sqlite3 connection, no amatelier code
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("UPDATE spark_ledger SET amount = 99")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("DELETE FROM spark_ledger")
        row_id = raw.execute("SELECT id FROM spark_ledger").fetchone()[0]
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("INSERT OR REPLACE INTO spark_ledger (id, agent, amount, category, created_at)"
                        " VALUES (?, 'elena', 99, 'bench', 'x')", (row_id,))
        raw.rollback()
    finally:
        raw.close()
    assert ledger.balance(econ_db, "elena") == 10


def test_replace_on_the_ref_index_is_refused(econ_db, econ_config) -> None:
    make_rt(econ_db, "rt1")
    ledger.deduct_entry_fee(econ_db, "elena", "rt1", econ_config)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        econ_db.execute("INSERT OR REPLACE INTO spark_ledger (agent, rt_id, amount, category, ref, created_at)"
                        " VALUES ('elena', 'rt1', 0, 'fee', 'rt1', 'x')")
    assert ledger.balance(econ_db, "elena") == -8


def test_categories_and_amounts_are_checked(econ_db) -> None:
    with pytest.raises(ValueError):
        ledger.append(econ_db, "elena", 1, "gift")
    with pytest.raises(TypeError):
        ledger.append(econ_db, "elena", 1.5, "bench")  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        econ_db.execute("INSERT INTO spark_ledger (agent, amount, category, created_at) VALUES ('x', 1, 'gift', 'x')")


def test_fees_by_tier_once_per_roundtable(econ_db, econ_config) -> None:
    make_rt(econ_db, "rt1", WORKERS + ["naomi"])
    fees = ledger.charge_entry_fees(econ_db, "rt1", WORKERS + ["naomi"], econ_config)
    assert fees == {"elena": 8, "marcus": 8, "clare": 5, "simon": 5, "naomi": 5}
    assert ledger.charge_entry_fees(econ_db, "rt1", WORKERS, econ_config) == dict.fromkeys(WORKERS, 0)
    assert [r["amount"] for r in ledger_rows(econ_db, agent="elena")] == [-8]
    assert ledger_rows(econ_db, agent="clare")[0]["reason"] == "entry fee (haiku)"


def test_a_cut_roundtable_gives_the_entry_fees_back_once(econ_db, econ_config) -> None:
    from amatelier.chat import roundtables
    from amatelier.judging import scoring as judge

    make_rt(econ_db, "rtcut")
    make_rt(econ_db, "rtdone")
    ledger.charge_entry_fees(econ_db, "rtcut", WORKERS, econ_config)
    ledger.charge_entry_fees(econ_db, "rtdone", WORKERS, econ_config)
    # simon was scored before the cut (his fee bought something); the others never were.
    judge.persist_scores(econ_db, "rtcut", {"simon": judge.WorkerScore(agent="simon", unscored_reason="x")})
    assert ledger.refund_cut_fees(econ_db) == {}                     # nothing cut yet
    roundtables.cut_roundtable(econ_db, "rtcut", "keyboard interrupt")
    econ_db.execute("UPDATE roundtables SET status = 'closed' WHERE id = 'rtdone'")
    assert ledger.refund_cut_fees(econ_db) == {"rtcut": {"elena": 8, "marcus": 8, "clare": 5}}
    assert ledger.refund_cut_fees(econ_db) == {}                     # once
    assert {a: ledger.balance(econ_db, a) for a in WORKERS} == {"elena": -8, "marcus": -8, "clare": -5,
                                                                "simon": -10}
    refund = ledger_rows(econ_db, agent="elena", category="refund")[0]
    assert refund["rt_id"] == "rtcut" and refund["ref"] == "fee:rtcut" and refund["amount"] == 8
    # A fee given back is neither earnings nor spending on the leaderboard.
    row = {r["agent"]: r for r in ledger.get_leaderboard(econ_db, econ_config)}["elena"]
    assert row["earned"] == 0 and row["spent"] == 0 and row["sparks"] == -8


def test_penalty_floor_rows(econ_db, econ_config) -> None:
    make_rt(econ_db, "rt1")
    ledger.deduct_entry_fee(econ_db, "elena", "rt1", econ_config)
    ledger.score_agent(econ_db, "rt1", "elena", 4, [{"type": "hallucination"}, {"type": "redundancy"}], econ_config)
    rows = {r["category"]: r for r in ledger_rows(econ_db, agent="elena")}
    assert rows["score"]["amount"] == 4
    assert rows["penalty"]["amount"] == -4 and "floored at 0" in rows["penalty"]["reason"]
    assert ledger.balance(econ_db, "elena") == -8          # gross floored at 0, the fee still applies
    # Scoring the same worker again for the same RT changes nothing.
    ledger.score_agent(econ_db, "rt1", "elena", 4, [], econ_config)
    assert ledger.balance(econ_db, "elena") == -8


def test_gates_from_the_transcript_are_capped_per_roundtable(econ_db, econ_config) -> None:
    make_rt(econ_db, "rt1")
    messages = [
        {"id": 10, "agent": "judge", "round": 1, "content": "GATE: elena \u2014 reframed\nGATE: marcus - exploit"},
        {"id": 11, "agent": "marcus", "round": 1, "content": "GATE: marcus - I gate myself"},   # not the judge
        {"id": 12, "agent": "judge", "round": 2, "content": "GATE: nobody - ?\nGATE: clare \u2013 x\nGATE: simon - y"},
    ]
    gates = ledger.award_gates_from_transcript(econ_db, "rt1", messages, "judge", WORKERS, econ_config)
    assert [(g["agent"], g["status"], g["sparks"]) for g in gates] == [
        ("elena", "awarded", 3), ("marcus", "awarded", 3), ("nobody", "unknown agent", 0),
        ("clare", "awarded", 3), ("simon", "cap reached", 0)]
    assert sum(r["amount"] for r in ledger_rows(econ_db, category="gate")) == 9
    again = ledger.award_gates_from_transcript(econ_db, "rt1", messages, "judge", WORKERS, econ_config)
    assert [g["status"] for g in again] == [g["status"] for g in gates]
    assert len(ledger_rows(econ_db, category="gate")) == 3


def test_outcome_bonus_once_and_only_for_participants(econ_db, econ_config) -> None:
    make_rt(econ_db, "rt1", ["elena", "marcus"])
    assert ledger.award_rt_outcome_bonus(econ_db, "rt1", "elena", econ_config) == 5
    with pytest.raises(ledger.EconomyError, match="already"):
        ledger.award_rt_outcome_bonus(econ_db, "rt1", "elena", econ_config)
    with pytest.raises(ledger.EconomyError, match="did not take part"):
        ledger.award_rt_outcome_bonus(econ_db, "rt1", "clare", econ_config)
    with pytest.raises(ledger.EconomyError, match="unknown roundtable"):
        ledger.award_rt_outcome_bonus(econ_db, "nope", "elena", econ_config)
    assert ledger.balance(econ_db, "elena") == 5


def test_ventures_stake_only_when_affordable_and_pay_on_success(econ_db, econ_config) -> None:
    make_rt(econ_db, "rt1")
    grant(econ_db, "elena", 20)
    messages = [{"id": 5, "agent": "elena", "content": "[[venture:scout: p99 drops]] [[venture:venture: it ships]]"},
                {"id": 6, "agent": "marcus", "content": "[[venture:moonshot: rewrite wins]]"},
                {"id": 7, "agent": "judge", "content": "[[venture:scout: judges cannot pitch]]"}]
    ventures = ledger.register_ventures_from_transcript(econ_db, "rt1", messages, WORKERS, econ_config)
    assert [(v["agent"], v["tier"], v["status"]) for v in ventures] == [
        ("elena", "scout", "open"), ("elena", "venture", "open"), ("marcus", "moonshot", "skipped")]
    assert "insufficient sparks" in ventures[2]["note"]
    assert ledger.balance(econ_db, "elena") == 20 - 5 - 12 and ledger.balance(econ_db, "marcus") == 0
    # Registering the same transcript again changes nothing.
    ledger.register_ventures_from_transcript(econ_db, "rt1", messages, WORKERS, econ_config)
    assert ledger.balance(econ_db, "elena") == 3 and len(ledger.list_ventures(econ_db)) == 3

    won = ledger.resolve_venture(econ_db, ventures[0]["id"], True, econ_config)
    assert won["status"] == "succeeded" and won["payout"] == 15
    lost = ledger.resolve_venture(econ_db, ventures[1]["id"], False, econ_config)
    assert lost["status"] == "failed" and lost["payout"] == 0
    assert ledger.balance(econ_db, "elena") == 3 + 15
    with pytest.raises(ledger.EconomyError, match="not open"):
        ledger.resolve_venture(econ_db, ventures[0]["id"], True, econ_config)
    with pytest.raises(ledger.EconomyError, match="not open"):
        ledger.resolve_venture(econ_db, ventures[2]["id"], True, econ_config)
    with pytest.raises(ledger.EconomyError, match="unknown venture"):
        ledger.resolve_venture(econ_db, "vnope", True, econ_config)


def _score_row(conn, rt, agent, total_axes):
    n, a, i, c = total_axes
    conn.execute("INSERT INTO scores (rt_id, agent, novelty, accuracy, impact, challenge, total, created_at)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?, 'x')", (rt, agent, n, a, i, c, n + a + i + c))


def test_relegation_watch_and_bench_income(econ_db, econ_config) -> None:
    for i, axes in enumerate([(1, 1, 1, 1), (2, 1, 1, 1), (1, 1, 1, 0)]):
        rt = make_rt(econ_db, f"rt{i}")
        ledger.deduct_entry_fee(econ_db, "elena", rt, econ_config)      # sonnet: 8
        ledger.deduct_entry_fee(econ_db, "clare", rt, econ_config)      # haiku: 5
        for agent in ("elena", "clare"):
            _score_row(econ_db, rt, agent, axes)
            ledger.score_agent(econ_db, rt, agent, sum(axes), [], econ_config)
    assert ledger.net_history(econ_db, "elena") == [-4, -3, -5]
    assert ledger.net_history(econ_db, "clare") == [-1, 0, -2]
    board = {row["agent"]: row for row in ledger.get_leaderboard(econ_db, econ_config)}
    assert board["elena"]["status"] == "at risk" and board["clare"]["status"] == "active"
    assert ledger.check_underperformers(econ_db, ["elena", "clare"], econ_config) == {"elena": 3}
    # A gate in the latest roundtable counts toward its gross and breaks the streak.
    ledger.award_gate_bonus(econ_db, "rt2", "elena", "good", "rt2:1:0", econ_config)
    assert ledger.net_history(econ_db, "elena") == [-4, -3, -2]
    ledger.award_gate_bonus(econ_db, "rt2", "elena", "again", "rt2:1:1", econ_config)
    assert ledger.net_history(econ_db, "elena")[-1] == 1
    assert ledger.check_underperformers(econ_db, ["elena", "clare"], econ_config) == {}
    make_rt(econ_db, "rt3")
    ledger.deduct_entry_fee(econ_db, "elena", "rt3", econ_config)
    _score_row(econ_db, "rt3", "elena", (0, 0, 0, 0))
    ledger.score_agent(econ_db, "rt3", "elena", 0, [], econ_config)

    assert ledger.check_underperformers(econ_db, ["elena"], econ_config) == {}     # streak restarted: 1
    ledger.bench_agent(econ_db, "elena", "chose the bench")
    make_rt(econ_db, "rt9")
    assert ledger.pay_bench_income(econ_db, "rt9", ["clare"], econ_config) == {"elena": 2}
    assert ledger.pay_bench_income(econ_db, "rt9", ["clare"], econ_config) == {}
    assert ledger.pay_bench_income(econ_db, "rt9", ["elena"], econ_config) == {}   # playing, not benched income
    assert {r["agent"]: r["status"] for r in ledger.get_leaderboard(econ_db, econ_config)}["elena"] == "benched"
    assert ledger.release_bench(econ_db, "elena") and ledger.benched_agents(econ_db) == []


def test_leaderboard_ranks_and_caches(econ_db, econ_config, econ_ws) -> None:
    grant(econ_db, "marcus", 12)
    grant(econ_db, "clare", 30)
    grant(econ_db, "elena", 12)
    metrics_path = paths.user_agent_dir("clare") / "metrics.json"
    metrics_path.write_text(json.dumps({"traits": {"curious": 0.7}, "sparks": 999}))
    board = ledger.get_leaderboard(econ_db, econ_config)
    assert [r["agent"] for r in board][:3] == ["clare", "elena", "marcus"]
    assert [r["rank"] for r in board] == list(range(1, len(board) + 1))
    ledger.refresh_metrics(econ_db, econ_config, board)
    metrics = json.loads(metrics_path.read_text())
    assert metrics["sparks"] == 30 and metrics["rank"] == 1 and metrics["traits"] == {"curious": 0.7}
    snapshot = json.loads(ledger.save_leaderboard_snapshot(econ_db, econ_config, "rt1", board).read_text())
    assert snapshot["rt_id"] == "rt1" and snapshot["leaderboard"][0]["agent"] == "clare"
    assert (paths.user_benchmarks_dir() / "leaderboard.json").is_file()
    # load_metrics / save_metrics (API names): the cache reads back, and a broken one reads as empty
    # and is rebuilt from the ledger by the next refresh.
    assert ledger.load_metrics("clare")["economy"]["sparks"] == 30
    ledger.save_metrics("clare", {**ledger.load_metrics("clare"), "note": "kept"})
    assert ledger.load_metrics("clare")["note"] == "kept"
    metrics_path.write_text('{"sparks": 3')
    assert ledger.load_metrics("clare") == {}
    ledger.refresh_metrics(econ_db, econ_config)
    assert ledger.load_metrics("clare")["sparks"] == 30


def test_scores_table_refuses_values_off_the_scale(econ_db) -> None:
    make_rt(econ_db, "rt1")
    for bad in (5, 4, 9, 11, -1):
        with pytest.raises(sqlite3.IntegrityError):
            _score_row(econ_db, "rt1", "elena", (bad, 1, 1, 1))
    with pytest.raises(sqlite3.IntegrityError):      # total must be the sum of the axes
        econ_db.execute("INSERT INTO scores (rt_id, agent, novelty, accuracy, impact, challenge, total, created_at)"
                        " VALUES ('rt1', 'elena', 1, 1, 1, 1, 9, 'x')")
    with pytest.raises(sqlite3.IntegrityError):      # unscored rows carry no axes
        econ_db.execute("INSERT INTO scores (rt_id, agent, novelty, unscored_reason, created_at)"
                        " VALUES ('rt1', 'elena', 1, 'why', 'x')")
    with pytest.raises(sqlite3.IntegrityError):      # scored rows carry every axis
        econ_db.execute("INSERT INTO scores (rt_id, agent, novelty, created_at) VALUES ('rt1', 'elena', 1, 'x')")
    _score_row(econ_db, "rt1", "elena", (10, 0, 1, 3))
    econ_db.execute("INSERT INTO scores (rt_id, agent, unscored_reason, created_at) VALUES ('rt1', 'marcus', 'x', 'x')")
    assert econ_db.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 2

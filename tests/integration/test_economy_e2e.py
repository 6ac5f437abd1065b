"""A real offline roundtable (runner, worker processes, Judge) leaves a consistent economy.

This is the issue's "must show": after `amatelier roundtable ... --skip-post` in a fresh
workspace, `amatelier sparks --json` balances equal the ledger sums, `amatelier
leaderboard` ranks the workers, the ledger refuses UPDATE, and every stored axis score is
on the 0/1/2/3/10 scale.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

WORKERS = ["elena", "marcus", "clare"]
BRIEFING = """# Briefing: one queue or two

## Objective
Decide whether billing events and email events should share one queue.

## Context
Billing events must never be lost; email events may be retried or dropped.

## Constraints
One on-call engineer; no new infrastructure this quarter.
"""


def amatelier(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "amatelier", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict:
    workspace = tmp_path_factory.mktemp("e2e-workspace")
    env = dict(os.environ, AMATELIER_WORKSPACE=str(workspace), AMATELIER_MODE="offline", COLUMNS="120")
    briefing = workspace / "briefing-queues.md"
    briefing.write_text(BRIEFING, encoding="utf-8")
    result = amatelier(env, "roundtable", "--topic", "one queue or two?", "--briefing", str(briefing),
                       "--workers", ",".join(WORKERS), "--max-rounds", "2", "--skip-post", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    digest = json.loads(result.stdout)
    db = workspace / "roundtable-server" / "roundtable.db"
    return {"env": env, "digest": digest, "db": db, "rt": digest["rt_id"], "workspace": workspace}


def query(db: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_fee_score_and_gate_rows(finished) -> None:
    categories = {row[0] for row in query(finished["db"], "SELECT category FROM spark_ledger WHERE rt_id = ?",
                                          finished["rt"])}
    assert {"fee", "score", "gate"} <= categories
    fees = dict(query(finished["db"], "SELECT agent, amount FROM spark_ledger WHERE rt_id = ? AND category = 'fee'",
                      finished["rt"]))
    assert fees == {"elena": -8, "marcus": -8, "clare": -5}


def test_sparks_json_balances_equal_the_ledger_sums(finished) -> None:
    result = amatelier(finished["env"], "sparks", "--json")
    assert result.returncode == 0, result.stderr
    balances = json.loads(result.stdout)["balances"]
    sums = dict(query(finished["db"], "SELECT agent, SUM(amount) FROM spark_ledger GROUP BY agent"))
    assert set(WORKERS) <= set(sums)
    assert {agent: balances[agent] for agent in sums} == sums


def test_leaderboard_ranks_the_workers(finished) -> None:
    result = amatelier(finished["env"], "leaderboard", "--json")
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)["leaderboard"]
    assert set(WORKERS) <= {row["agent"] for row in board}
    assert [row["rank"] for row in board] == list(range(1, len(board) + 1))
    assert [row["sparks"] for row in board] == sorted((row["sparks"] for row in board), reverse=True)
    table = amatelier(finished["env"], "leaderboard")
    assert table.returncode == 0 and all(worker in table.stdout for worker in WORKERS)


def test_the_ledger_refuses_update(finished) -> None:
    conn = sqlite3.connect(finished["db"])
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE spark_ledger SET amount=99")
    finally:
        conn.close()


def test_every_stored_axis_is_on_the_scale(finished) -> None:
    rows = query(finished["db"], "SELECT agent, novelty, accuracy, impact, challenge, unscored_reason FROM scores"
                                 " WHERE rt_id = ?", finished["rt"])
    assert sorted(row[0] for row in rows) == sorted(WORKERS)
    for agent, *axes, unscored in rows:
        if unscored is None:
            assert all(value in (0, 1, 2, 3, 10) for value in axes), agent
        else:
            assert axes == [None] * 4
    assert any(row[5] is None for row in rows)


def test_the_digest_carries_the_economy(finished) -> None:
    digest = finished["digest"]
    assert set(digest["scores"]) == set(WORKERS)
    sums = dict(query(finished["db"], "SELECT agent, SUM(amount) FROM spark_ledger WHERE rt_id = ? GROUP BY agent",
                      finished["rt"]))
    assert digest["sparks_earned"] == {agent: sums.get(agent, 0) for agent in WORKERS}
    assert digest["gates"] and all(g["status"] in ("awarded", "cap reached", "unknown agent") for g in digest["gates"])
    assert "flags" in digest and "ventures" in digest
    snapshot = json.loads((finished["workspace"] / "benchmarks" / "leaderboard.json").read_text())
    assert snapshot["rt_id"] == finished["rt"]


def test_a_cut_roundtable_costs_no_sparks(tmp_path) -> None:
    """Most workers crash, the roundtable is cut before scoring: every entry fee comes back."""
    from tests.helpers.roundtable_run import BRIEFING, rt_env, write_config

    write_config(tmp_path, {"roundtable": {"max_worker_restarts": 0}})
    env = dict(rt_env(tmp_path, AMATELIER_TEST_FAULT="elena:1:crash,marcus:1:crash"), COLUMNS="120")
    result = amatelier(env, "roundtable", "--topic", "cut me", "--briefing", str(BRIEFING),
                       "--workers", ",".join(WORKERS), "--max-rounds", "2", "--skip-post")
    assert result.returncode == 1 and json.loads(result.stdout)["status"] == "cut", result.stderr[-2000:]
    db = tmp_path / "roundtable-server" / "roundtable.db"
    assert dict(query(db, "SELECT agent, amount FROM spark_ledger WHERE category = 'fee'")) == \
        {"elena": -8, "marcus": -8, "clare": -5}
    balances = json.loads(amatelier(env, "sparks", "--json").stdout)["balances"]
    granted = dict(query(db, "SELECT agent, amount FROM spark_ledger WHERE category = 'grant'"))
    assert {agent: balances[agent] for agent in WORKERS} == {agent: granted[agent] for agent in WORKERS}
    refunds = query(db, "SELECT agent, amount, ref FROM spark_ledger WHERE category = 'refund' ORDER BY agent")
    rt_id = query(db, "SELECT id FROM roundtables")[0][0]
    assert refunds == [("clare", 5, f"fee:{rt_id}"), ("elena", 8, f"fee:{rt_id}"), ("marcus", 8, f"fee:{rt_id}")]
    assert json.loads(amatelier(env, "sparks", "--json").stdout)["balances"]["elena"] == granted["elena"]  # refunded once

"""At rest, every economy cache equals the ledger — also after a debrief that bought something.

Measured before the fix: the caches were rebuilt before the therapist's store purchases,
so metrics.json showed balances 15-18 sparks too high until the next command.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from tests.helpers.roundtable_run import roundtable_args, rt_env, run_cli

pytestmark = pytest.mark.e2e

WORKERS = ["elena", "marcus", "clare"]


def _ledger(workspace: Path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(workspace / "roundtable-server" / "roundtable.db", timeout=15)
    try:
        with conn:
            return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _sparks_in_caches(workspace: Path) -> tuple[dict[str, int], dict[str, int]]:
    metrics = {w: json.loads((workspace / "agents" / w / "metrics.json").read_text())["sparks"] for w in WORKERS}
    board = json.loads((workspace / "benchmarks" / "leaderboard.json").read_text())
    return metrics, {row["agent"]: row["sparks"] for row in board["leaderboard"]}


@pytest.fixture(scope="module")
def after_debrief(tmp_path_factory: pytest.TempPathFactory) -> dict:
    workspace = tmp_path_factory.mktemp("caches")
    env = rt_env(workspace, AMATELIER_OFFLINE_STORE_BUY="always")
    made = run_cli(["sparks", "--json"], env)          # creates and migrates the database
    assert made.returncode == 0, made.stderr
    for agent in WORKERS:                              # enough sparks that the debrief can buy
        _ledger(workspace, "INSERT INTO spark_ledger (agent, amount, category, reason, ref, meta, created_at)"
                           " VALUES (?, 60, 'outcome', 'test seed', ?, '{}', '2026-01-01T00:00:00Z')",
                agent, f"seed:{agent}")
    result = run_cli(roundtable_args("one queue or two?", "--workers", ",".join(WORKERS), "--max-rounds", "1"),
                     env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"workspace": workspace, "env": env, "rt": json.loads(result.stdout)["rt_id"]}


def test_the_debrief_bought_something(after_debrief) -> None:
    bought = _ledger(after_debrief["workspace"], "SELECT agent, amount FROM spark_ledger"
                                                 " WHERE category = 'purchase'")
    assert bought, "the offline debrief was asked to buy; no purchase row was written"


def test_every_cache_equals_the_ledger_at_rest(after_debrief) -> None:
    workspace = after_debrief["workspace"]
    sums = dict(_ledger(workspace, "SELECT agent, SUM(amount) FROM spark_ledger GROUP BY agent"))
    metrics, board = _sparks_in_caches(workspace)
    assert metrics == {w: sums[w] for w in WORKERS}
    assert {w: board[w] for w in WORKERS} == {w: sums[w] for w in WORKERS}


def test_an_economy_command_leaves_the_caches_equal_too(after_debrief) -> None:
    workspace, env = after_debrief["workspace"], after_debrief["env"]
    bench = run_cli(["bench", "clare", "--reason", "test"], env)
    assert bench.returncode == 0, bench.stderr
    _ledger(workspace, "INSERT INTO spark_ledger (agent, amount, category, reason, ref, meta, created_at)"
                       " VALUES ('marcus', 5, 'outcome', 'late bonus', 'late:marcus', '{}', '2026-01-02T00:00:00Z')")
    shown = run_cli(["leaderboard", "--json"], env)       # any economy command refreshes from the ledger
    assert shown.returncode == 0, shown.stderr
    sums = dict(_ledger(workspace, "SELECT agent, SUM(amount) FROM spark_ledger GROUP BY agent"))
    metrics, board = _sparks_in_caches(workspace)
    assert metrics["marcus"] == sums["marcus"] == board["marcus"]

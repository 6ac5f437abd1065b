"""The economy commands as a user runs them: real `amatelier` subprocesses on a temp workspace."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

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
from amatelier.economy import ledger
from amatelier.economy import settle as hooks

pytest_plugins = ["tests.helpers.economy_fixtures"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "amatelier", *args], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="120"), timeout=120)


def run80(*args: str) -> subprocess.CompletedProcess:
    """A command as it prints in an 80-column terminal."""
    result = subprocess.run([sys.executable, "-m", "amatelier", *args], capture_output=True, text=True,
                            env=dict(os.environ, COLUMNS="80"), timeout=120)
    assert result.returncode == 0, result.stderr
    assert all(len(line) <= 80 for line in result.stdout.splitlines()), result.stdout
    return result


def run_json(*args: str):
    result = run(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def played(econ_db, econ_config):
    """One scored roundtable with a gate, so every command has something to show."""
    rt = make_rt(econ_db, "c0ffee")
    state = make_state(econ_db, rt, econ_config)
    hooks.on_open(state)
    messages.post(econ_db, rt, "elena", "Split it. The billing code changes weekly.", kind="speech", round=1)
    messages.post(econ_db, rt, "marcus", "Keep it. The split doubles on-call.", kind="speech", round=1)
    messages.post(econ_db, rt, "judge", "GATE: marcus - named the on-call cost", kind="judge", round=1)
    hooks.after_close(state, {})
    return rt


def test_sparks_json_balances_equal_the_ledger_sums(played, econ_db) -> None:
    data = run_json("sparks")
    sums = {r[0]: r[1] for r in sqlite3.connect(paths.user_db_path()).execute(
        "SELECT agent, SUM(amount) FROM spark_ledger GROUP BY agent")}
    assert {a: data["balances"][a] for a in sums} == sums
    assert set(WORKERS) <= set(data["balances"])
    one = run_json("sparks", "marcus")
    assert one["balance"] == sums["marcus"]
    assert {row["category"] for row in one["history"]} >= {"fee", "score", "gate"}
    assert sum(row["amount"] for row in one["history"]) == one["balance"]


def test_leaderboard_ranks_the_workers(played) -> None:
    board = run_json("leaderboard")["leaderboard"]
    assert [r["rank"] for r in board] == list(range(1, len(board) + 1))
    assert [r["sparks"] for r in board] == sorted((r["sparks"] for r in board), reverse=True)
    assert set(WORKERS) <= {r["agent"] for r in board}
    table = run("leaderboard")
    assert table.returncode == 0 and "Leaderboard" in table.stdout and "marcus" in table.stdout


def test_store_list_buy_inventory_requests(econ_db) -> None:
    items = run_json("store", "list")["items"]
    assert {i["kind"] for i in items} == {"service", "skill", "boost", "tier"}
    grant(econ_db, "clare", 20)
    listed = run_json("store", "list", "--agent", "clare")
    assert listed["balance"] == 20 and any(not i["affordable"] for i in listed["items"])
    receipt = run_json("store", "buy", "clare", "decision-record")
    assert receipt["balance"] == 8 and receipt["kind"] == "skill"
    assert os.path.isfile(receipt["path"])
    inv = run_json("store", "inventory", "clare")
    assert [s["id"] for s in inv["skills"]] == ["decision-record"] and inv["history"][0]["item"] == "decision-record"
    posted = run_json("store", "request", "clare", "a skill for capacity planning")
    assert [r["id"] for r in run_json("store", "requests")["requests"]] == [posted["id"]]
    assert run_json("store", "retire", "clare", "decision-record")["status"] == "retired"
    human = run("store", "inventory", "clare")
    assert human.returncode == 0 and "8 sparks" in human.stdout


def test_refusals_are_one_line_exit_2_and_write_nothing(econ_db) -> None:
    grant(econ_db, "simon", 3)
    before = ledger_rows(econ_db)
    before_json = paths.user_store_ledger().read_bytes()
    cases = [
        (("store", "buy", "simon", "steelman-first"), "simon has 3 sparks; steelman-first costs 15"),
        (("store", "buy", "simon", "no-such-item"), "unknown store item 'no-such-item'"),
        (("store", "buy", "bob", "steelman-first"), "unknown agent 'bob'"),
        (("sparks", "bob"), "unknown agent 'bob'"),
        (("store", "inventory", "judge"), "unknown agent 'judge'"),
        (("venture", "resolve", "vnope", "--success"), "unknown venture 'vnope'"),
        (("venture", "resolve", "vnope"), "--success or --fail"),
        (("award-outcome", "nort", "simon"), "unknown roundtable 'nort'"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.strip().startswith("amatelier: error:") and message in result.stderr, args
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert ledger_rows(econ_db) == before
    assert paths.user_store_ledger().read_bytes() == before_json


def test_venture_resolve_and_award_outcome(played, econ_db, econ_config) -> None:
    grant(econ_db, "elena", 30)
    venture = ledger.pitch_venture(econ_db, "elena", "venture", "the split ships in a sprint", econ_config,
                                   rt_id=played, message_id=1)
    listed = run_json("venture", "list", "--status", "open")["ventures"]
    assert [v["id"] for v in listed] == [venture["id"]]
    before = ledger.balance(econ_db, "elena")
    resolved = run_json("venture", "resolve", venture["id"], "--success")
    assert resolved["status"] == "succeeded" and resolved["payout"] == 42 and resolved["balance"] == before + 42
    again = run("venture", "resolve", venture["id"], "--fail")
    assert again.returncode == 2 and "not open" in again.stderr

    award = run_json("award-outcome", played, "marcus")
    assert award["sparks"] == 5
    twice = run("award-outcome", played, "marcus")
    assert twice.returncode == 2 and "already received" in twice.stderr
    assert [r["amount"] for r in ledger_rows(econ_db, agent="marcus", category="outcome")] == [5]


def test_the_ledger_refuses_update_from_the_sqlite3_shell(played) -> None:
    import shutil

    shell = shutil.which("sqlite3")
    if shell is None:
        pytest.skip("the sqlite3 shell is not installed")
    result = subprocess.run([shell, str(paths.user_db_path()), "UPDATE spark_ledger SET amount=99"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "append-only" in result.stderr
    delete = subprocess.run([shell, str(paths.user_db_path()), "DELETE FROM spark_ledger"],
                            capture_output=True, text=True, timeout=60)
    assert delete.returncode != 0 and "append-only" in delete.stderr


def test_tables_read_at_80_columns(played, econ_db) -> None:
    board = run80("leaderboard").stdout
    assert "…" not in board                        # no column cut short (e.g. "sonn…")
    for agent in WORKERS:
        line = next(line for line in board.splitlines() if f" {agent} " in line)
        assert line.split()[2] in ("sonnet", "haiku", "flash"), line
    assert "entry fee (sonnet)" in run80("sparks", "elena").stdout
    # Empty tables say why they are empty instead of showing bare headers.
    assert "no ventures yet" in run80("venture", "list").stdout
    assert "no requests on the board" in run80("store", "requests").stdout
    inventory = run80("store", "inventory", "simon").stdout
    assert "nothing owned or pending" in inventory and "no purchases yet" in inventory
    # Private requests wait for the admin and never age out: no "0/3" for them.
    grant(econ_db, "simon", 30)
    run_json("store", "buy", "simon", "private-skill-request")
    public = run_json("store", "request", "clare", "a capacity-planning skill")
    board_lines = run80("store", "requests").stdout.splitlines()
    private_line = next(line for line in board_lines if " simon " in line)
    public_line = next(line for line in board_lines if public["id"] in line)
    assert "0/3" not in private_line and "0/3" in public_line


def test_venture_list_refuses_an_unknown_status() -> None:
    result = run("venture", "list", "--status", "won")
    assert result.returncode == 2 and "unknown venture status 'won'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_broken_user_catalog_is_one_clear_line(econ_db) -> None:
    from amatelier.economy import store

    store.user_catalog_path().write_text('{"items": [')        # a hand edit gone wrong
    for args in (("store", "list"), ("store", "buy", "clare", "decision-record")):
        result = run(*args)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "catalog.json is not valid JSON (line 1" in lines[0], lines
    assert ledger_rows(econ_db, category="purchase") == []

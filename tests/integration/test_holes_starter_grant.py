"""The starter grant: after one offline roundtable in a fresh workspace every worker can afford
the cheapest store item; the grant is one append-only `grant` row per agent, paid once."""

from __future__ import annotations

import json
import sqlite3

import pytest
from tests.helpers.roundtable_run import roundtable_args, rows, rt_env, run_cli

from amatelier.chat.db import open_db
from amatelier.config import load_bundled_config
from amatelier.economy import grants, ledger

pytestmark = pytest.mark.e2e


def test_every_worker_can_buy_the_cheapest_item_after_a_first_roundtable(tmp_path):
    env = rt_env(tmp_path)
    result = run_cli(roundtable_args("first roundtable", "--summary"), env)
    assert result.returncode == 0, result.stderr
    balances = json.loads(run_cli(["sparks", "--json"], env).stdout)["balances"]
    items = json.loads(run_cli(["store", "list", "--json"], env).stdout)["items"]
    cheapest = min(items, key=lambda item: item["price"])
    assert set(load_bundled_config()["team"]["workers"]) <= set(balances)
    assert all(balances[w] >= cheapest["price"] for w in balances), (balances, cheapest)
    for worker in balances:  # the store itself says so for each of them
        listed = json.loads(run_cli(["store", "list", "--agent", worker, "--json"], env).stdout)
        assert next(i for i in listed["items"] if i["id"] == cheapest["id"])["affordable"], (worker, listed)
    granted = rows(tmp_path, "SELECT agent, amount, ref FROM spark_ledger WHERE category = 'grant'")
    assert sorted(g["agent"] for g in granted) == sorted(balances)
    assert {g["ref"] for g in granted} == {"starter"}

    # a second roundtable pays no second grant
    assert run_cli(roundtable_args("second", "--workers", "elena", "--max-rounds", "1", "--skip-post"),
                   env).returncode == 0
    assert len(rows(tmp_path, "SELECT 1 FROM spark_ledger WHERE category = 'grant'")) == len(granted)


def test_grant_size_is_the_cheapest_price_plus_the_highest_fee():
    assert grants.grant_size({}, [15, 4, 6], [5, 8, 5]) == 12
    assert grants.grant_size({"competition": {"starter_grant": 30}}, [4], [8]) == 30
    assert grants.grant_size({"competition": {"starter_grant": 0}}, [4], [8]) == 0
    assert grants.grant_size({}, [], []) == 0


def test_grants_are_paid_once_and_stay_append_only(tmp_path):
    conn = open_db(tmp_path / "rt.db")
    config = {"team": {"workers": {"elena": {"model": "sonnet"}, "clare": {"model": "haiku"}}}}
    first = grants.ensure_starter_grants(conn, config)
    assert set(first) == {"elena", "clare"} and len(set(first.values())) == 1
    assert grants.ensure_starter_grants(conn, config) == {}
    assert ledger.balance(conn, "elena") == first["elena"]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE spark_ledger SET amount = 1000 WHERE category = 'grant'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM spark_ledger WHERE category = 'grant'")
    conn.close()

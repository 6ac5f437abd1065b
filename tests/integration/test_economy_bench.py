"""Relegation watch and the bench against a real database, the runner's roster and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.economy_bench import put_on_watch, scored_roundtable, statuses
from tests.helpers.economy_support import ledger_rows, make_rt, make_state

from amatelier import paths
from amatelier.economy import bench, ledger
from amatelier.economy import settle as hooks
from amatelier.economy.ledger import EconomyError

pytest_plugins = ["tests.helpers.economy_fixtures"]

REPO = Path(__file__).resolve().parents[2]
BRIEFING = REPO / "examples" / "briefings" / "hello-world.md"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "amatelier", *args], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="120"), timeout=120)


# --------------------------------------------------------------------------- bench and watch


def test_bench_and_unbench_are_logged_with_their_reason(econ_db) -> None:
    row = bench.bench(econ_db, "clare", "needs a rest")
    assert row["agent"] == "clare" and row["reason"] == "needs a rest"
    assert ledger.benched_agents(econ_db) == ["clare"]
    with pytest.raises(EconomyError, match="already on the bench"):
        bench.bench(econ_db, "clare", "again")
    assert bench.get_bench(econ_db, "clare")["reason"] == "needs a rest"       # unchanged by the refusal
    old = bench.unbench(econ_db, "clare", "rested")
    assert old["reason"] == "needs a rest" and bench.get_bench(econ_db, "clare") is None
    with pytest.raises(EconomyError, match="not on the bench"):
        bench.unbench(econ_db, "clare")
    log = bench.history(econ_db, "clare")
    assert [(e["action"], e["reason"], e["source"]) for e in log] == [
        ("unbench", "rested", "cli"), ("bench", "needs a rest", "cli")]


def test_relegation_status_follows_the_ledger(econ_db, econ_config) -> None:
    assert bench.relegation_status(econ_db, "simon", econ_config)["status"] == "active"
    put_on_watch(econ_db, "simon", econ_config, count=2)
    standing = bench.relegation_status(econ_db, "simon", econ_config)
    assert standing["status"] == "active" and standing["negative_streak"] == 2
    scored_roundtable(econ_db, "lost-last", econ_config, {"simon": (1, 0, 1, 0)})
    standing = bench.relegation_status(econ_db, "simon", econ_config)
    assert standing["status"] == "at risk" and standing["at_risk"] and standing["negative_streak"] == 3
    assert standing["threshold"] == 3 and standing["bench_income"] == 2
    assert statuses(ledger.get_leaderboard(econ_db, econ_config))["simon"] == "at risk"
    assert [w["agent"] for w in bench.watch_list(econ_db, ["simon", "clare"], econ_config)] == ["simon"]
    # A winning roundtable ends the watch.
    scored_roundtable(econ_db, "won", econ_config, {"simon": (3, 3, 2, 1)})
    assert bench.relegation_status(econ_db, "simon", econ_config)["status"] == "active"


def test_the_agents_choice_is_applied_only_on_watch(econ_db, econ_config) -> None:
    quiet = bench.apply_relegation_choice(econ_db, "clare", "bench", econ_config, rt_id=None)
    assert quiet["status"] == "ignored: not on relegation watch" and ledger.benched_agents(econ_db) == []
    rts = put_on_watch(econ_db, "clare", econ_config)
    retire = bench.apply_relegation_choice(econ_db, "clare", "retire", econ_config)
    assert retire["status"] == "retiring"                  # archived by the debrief once its session is written
    assert ledger.benched_agents(econ_db) == []                                 # not benched
    assert "clare" in ledger.spark_agents(econ_config, econ_db)                 # nor deleted
    benched = bench.apply_relegation_choice(econ_db, "clare", "bench", econ_config, rt_id=rts[-1])
    assert benched == {"choice": "bench", "negative_streak": 3, "status": "benched"}
    entry = bench.history(econ_db, "clare")[0]
    assert entry["source"] == "debrief" and entry["rt_id"] == rts[-1] and "3 net-negative" in entry["reason"]
    assert statuses(ledger.get_leaderboard(econ_db, econ_config))["clare"] == "benched"
    again = bench.apply_relegation_choice(econ_db, "clare", "bench", econ_config)
    assert again["status"] == "already benched" and len(bench.history(econ_db, "clare")) == 1
    put_on_watch(econ_db, "simon", econ_config, prefix="simon")
    stay = bench.apply_relegation_choice(econ_db, "simon", "stay", econ_config)
    assert stay["status"] == "benched"                     # "stay" is not an option: benched
    assert "not an option" in bench.history(econ_db, "simon")[0]["reason"]


def test_bench_income_once_per_roundtable_from_after_close(econ_db, econ_config) -> None:
    bench.bench(econ_db, "naomi", "sitting out")
    for rt_id in ("b1", "b2"):
        make_rt(econ_db, rt_id, ["elena", "marcus"])
        state = make_state(econ_db, rt_id, econ_config, workers=["elena", "marcus"])
        state.skip_post = True                                   # paid with --skip-post too
        hooks.on_open(state)
        fields = hooks.after_close(state, {})
        assert fields["bench_income"] == {"naomi": 2}
        assert hooks.after_close(state, {})["bench_income"] == {}               # a re-run pays nothing
        hooks.after_post(state, {})
    rows = ledger_rows(econ_db, agent="naomi", category="bench")
    assert [(r["rt_id"], r["amount"]) for r in rows] == [("b1", 2), ("b2", 2)]
    assert ledger.balance(econ_db, "naomi") == 4
    # A benched agent the user seats anyway plays and pays its fee; no bench income for that RT.
    make_rt(econ_db, "b3", ["naomi", "elena"])
    state = make_state(econ_db, "b3", econ_config, workers=["naomi", "elena"])
    hooks.on_open(state)
    assert hooks.after_close(state, {})["bench_income"] == {}
    assert ledger.balance(econ_db, "naomi") == 4 - 5 + sum(
        r["amount"] for r in ledger_rows(econ_db, agent="naomi", rt_id="b3") if r["category"] != "fee")


def test_read_benched_never_creates_a_database(econ_ws) -> None:
    assert bench.read_benched() == []
    assert not paths.user_db_path().exists()
    assert bench.read_benched(econ_ws / "elsewhere.db") == []


def test_read_benched_sees_the_bench(econ_db) -> None:
    bench.bench(econ_db, "marcus", "tired")
    assert bench.read_benched() == ["marcus"]


# --------------------------------------------------------------------------- the runner's roster


def test_plan_leaves_benched_agents_out_unless_named(econ_db) -> None:
    from amatelier.debate.runner import RunOptions, plan_roundtable

    bench.bench(econ_db, "marcus", "tired")
    plan = plan_roundtable(RunOptions(topic="t", briefing=str(BRIEFING)))
    assert "marcus" not in plan.workers and "elena" in plan.workers
    assert [w for w in plan.warnings if "marcus" in w] == [
        "benched, left out: marcus (amatelier bench marcus --off seats it again)"]
    named = plan_roundtable(RunOptions(topic="t", briefing=str(BRIEFING), workers=["marcus", "elena"]))
    assert named.workers == ["marcus", "elena"]
    assert any("marcus" in w and "--workers" in w for w in named.warnings)
    bench.unbench(econ_db, "marcus")
    plan = plan_roundtable(RunOptions(topic="t", briefing=str(BRIEFING)))
    assert "marcus" in plan.workers and not any("bench" in w for w in plan.warnings)


def test_plan_with_every_default_worker_benched_is_a_user_error(econ_db) -> None:
    from amatelier.commands.errors import UserError
    from amatelier.debate.runner import RunOptions, plan_roundtable

    for agent in ("elena", "marcus", "clare", "simon", "naomi"):
        bench.bench(econ_db, agent)
    with pytest.raises(UserError, match="no workers left"):
        plan_roundtable(RunOptions(topic="t", briefing=str(BRIEFING)))


# --------------------------------------------------------------------------- CLI


def test_cli_bench_off_json_and_errors(econ_db, econ_config) -> None:
    put_on_watch(econ_db, "simon", econ_config)
    listing = json.loads(run("bench", "--json").stdout)
    assert listing["bench"] == [] and [w["agent"] for w in listing["relegation_watch"]] == ["simon"]
    table = run("bench").stdout
    assert "simon" in table and "at risk" in table

    benched = run("bench", "clare", "--reason", "over budget", "--json")
    assert benched.returncode == 0, benched.stderr
    data = json.loads(benched.stdout)
    assert data["action"] == "bench" and data["status"] == "benched" and data["reason"] == "over budget"
    board = run("leaderboard")
    assert board.returncode == 0
    lines = {line.split()[1]: line for line in board.stdout.splitlines() if line.strip()[:1].isdigit()}
    assert lines["clare"].rstrip().endswith("benched") and lines["simon"].rstrip().endswith("at risk")
    assert "relegation watch" in board.stdout
    leaderboard = {r["agent"]: r for r in json.loads(run("leaderboard", "--json").stdout)["leaderboard"]}
    assert leaderboard["clare"]["status"] == "benched"
    assert leaderboard["simon"]["status"] == "at risk" and leaderboard["simon"]["negative_streak"] == 3
    metrics = json.loads((paths.user_agent_dir("clare") / "metrics.json").read_text())
    assert metrics["economy"]["status"] == "benched"                              # caches refreshed

    twice = run("bench", "clare")
    assert twice.returncode == 2 and twice.stderr.strip().startswith("amatelier: error: clare is already on the bench")
    assert "Traceback" not in twice.stderr

    off = run("bench", "clare", "--off", "--reason", "rested")
    assert off.returncode == 0 and "off the bench" in off.stdout
    latest = bench.history(econ_db, "clare")[0]
    assert (latest["action"], latest["reason"], latest["source"]) == ("unbench", "rested", "cli")
    for args, message in ((("bench", "clare", "--off"), "not on the bench"),
                          (("bench", "nobody"), "unknown agent 'nobody'"),
                          (("bench", "--off"), "--off needs an AGENT")):
        result = run(*args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_offline_roundtable_skips_the_benched_agent_and_pays_it(econ_ws) -> None:
    env = dict(os.environ, COLUMNS="120")
    assert run("bench", "clare", "--reason", "test").returncode == 0
    result = subprocess.run([sys.executable, "-m", "amatelier", "roundtable", "--topic", "queues?", "--briefing",
                             str(BRIEFING), "--max-rounds", "1", "--skip-post"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "benched, left out: clare" in result.stderr
    digest = json.loads(result.stdout)
    assert "clare" not in digest["workers"] and digest["bench_income"] == {"clare": 2}
    from amatelier.chat.db import open_db

    conn = open_db()
    try:
        rows = ledger_rows(conn, agent="clare")
        # every worker's one-time starter grant, then the bench income of this roundtable
        assert [(r["category"], r["amount"], r["rt_id"]) for r in rows if r["category"] != "grant"] \
            == [("bench", 2, digest["rt_id"])]
        assert [r["category"] for r in rows].count("grant") <= 1
        spoken = {r[0] for r in conn.execute("SELECT DISTINCT agent FROM messages WHERE rt_id = ?", (digest["rt_id"],))}
        assert "clare" not in spoken
    finally:
        conn.close()


def test_sparks_earned_stays_per_worker(econ_db, econ_config) -> None:
    bench.bench(econ_db, "naomi", "sitting out")
    make_rt(econ_db, "b9", ["elena"])
    state = make_state(econ_db, "b9", econ_config, workers=["elena"])
    hooks.on_open(state)
    fields = hooks.after_close(state, {})
    assert set(fields["sparks_earned"]) == {"elena"} and fields["bench_income"] == {"naomi": 2}

"""Resume a roundtable whose runner was killed, and give a person a seat at a live one.

Real `amatelier roundtable` subprocesses on the offline backend (slowed with the delay knob so
a test can act mid-debate), real SQLite, real signals.
"""

from __future__ import annotations

import json
import signal

import pytest
from tests.helpers.roundtable_run import (
    messages,
    processes_with_args,
    roundtable_args,
    rows,
    rt_env,
    run_cli,
    start_cli,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.e2e
TWO = ("--workers", "elena,marcus", "--skip-post")


def _kill_in_round_two(tmp_path) -> str:
    """Start a 3-round roundtable, SIGKILL its runner once round 2's SPEAK is under way."""
    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="150")
    proc = start_cli(roundtable_args("adopt kafka for events?", *TWO, "--max-rounds", "3",
                                     "--budget", "1"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM turns WHERE round = 2 AND phase = 'SPEAK'"
                                        " AND status = 'done'"), what="a finished round-2 speech", timeout=90)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    rt_id = rows(tmp_path, "SELECT id FROM roundtables")[0]["id"]
    assert rows(tmp_path, "SELECT status FROM roundtables")[0]["status"] == "open"  # the runner died
    # its workers notice the dead parent and exit by themselves
    wait_for(lambda: not processes_with_args("amatelier.engine.worker", rt_id),
             what="orphaned workers to exit", timeout=30)
    return rt_id


def test_a_killed_roundtable_resumes_without_asking_any_turn_twice(tmp_path):
    rt_id = _kill_in_round_two(tmp_path)
    before = rows(tmp_path, "SELECT id, agent, round, phase FROM turns WHERE status = 'done' ORDER BY id")
    result = run_cli(["roundtable", "--resume", rt_id, "--summary"], rt_env(tmp_path), timeout=240)
    assert result.returncode == 0, result.stderr
    assert "RECOMMENDATION" in result.stdout  # a resumed debate ends in a decision like any other
    assert f"resuming roundtable {rt_id}" in result.stderr

    # turns answered before the kill were not asked again: each (agent, round, phase, n) once
    done = rows(tmp_path, "SELECT agent, round, phase FROM turns WHERE rt_id = ? AND status = 'done'"
                          " ORDER BY id", rt_id)
    keys = [(t["agent"], t["round"], t["phase"]) for t in done if t["phase"] != "FLOOR"]
    assert len(keys) == len(set(keys)), "a SPEAK/REBUTTAL/GATE turn was asked twice"
    assert [dict(t) for t in before] == rows(
        tmp_path, "SELECT id, agent, round, phase FROM turns WHERE status = 'done' ORDER BY id")[:len(before)]

    # every round is in the transcript once
    heads = [m["content"].split("\n")[0] for m in messages(tmp_path, rt_id) if m["phase"] == "ROUND"]
    assert len(heads) == len(set(heads)) and "ROUND 1: begin" in heads and "ROUND 2: begin" in heads
    assert sum(1 for m in messages(tmp_path, rt_id) if m["content"].startswith("--- SPEAK PHASE (Round 2)")) == 1

    digest = json.loads((tmp_path / "roundtable-server" / f"digest-{rt_id}.json").read_text())
    assert digest["status"] == "closed"
    events = [e for e in digest["engine"]["events"] if e.get("event") == "resume"]
    assert len(events) == 1 and events[0]["gap_s"] >= 0 and events[0]["replayed_turns"] >= len(before) - 1
    assert digest.get("scores"), "the resumed roundtable is scored like any other"
    assert digest["decision"]["recommendation"] and digest["decision"]["partial"] is False

    # one entry fee per worker in effect (fees and refunds of this roundtable net to one fee)
    fees = rows(tmp_path, "SELECT agent, SUM(amount) AS net, COUNT(*) AS n FROM spark_ledger WHERE rt_id = ?"
                          " AND category IN ('fee', 'refund') GROUP BY agent", rt_id)
    assert {f["agent"] for f in fees} == {"elena", "marcus"}
    assert all(f["net"] < 0 for f in fees)
    first = {r["agent"]: r["amount"] for r in rows(
        tmp_path, "SELECT agent, amount FROM spark_ledger WHERE rt_id = ? AND category = 'fee' AND ref = ?",
        rt_id, rt_id)}
    assert {f["agent"]: f["net"] for f in fees} == first


def test_a_refund_made_by_a_later_command_is_charged_back_by_a_new_row(tmp_path):
    rt_id = _kill_in_round_two(tmp_path)
    # the next roundtable cuts the dead runner's roundtable and refunds its fees
    other = run_cli(roundtable_args("another question", "--workers", "clare", "--max-rounds", "1",
                                    "--skip-post"), rt_env(tmp_path))
    assert other.returncode == 0 and f"--resume {rt_id}" in other.stderr
    assert rows(tmp_path, "SELECT 1 FROM spark_ledger WHERE category = 'refund' AND rt_id = ?", rt_id)
    result = run_cli(["roundtable", "--resume", rt_id], rt_env(tmp_path), timeout=240)
    assert result.returncode == 0, result.stderr
    back = rows(tmp_path, "SELECT agent, amount, ref FROM spark_ledger WHERE rt_id = ? AND ref LIKE 're:%'", rt_id)
    assert {b["agent"] for b in back} == {"elena", "marcus"} and all(b["amount"] < 0 for b in back)
    nets = rows(tmp_path, "SELECT agent, SUM(amount) AS net FROM spark_ledger WHERE rt_id = ?"
                          " AND category IN ('fee', 'refund') GROUP BY agent", rt_id)
    first = {r["agent"]: r["amount"] for r in rows(
        tmp_path, "SELECT agent, amount FROM spark_ledger WHERE rt_id = ? AND category = 'fee' AND ref = ?",
        rt_id, rt_id)}
    assert {n["agent"]: n["net"] for n in nets} == first


@pytest.mark.parametrize("which", ["finished", "unknown"])
def test_resume_refuses_a_finished_or_unknown_roundtable_in_one_line(tmp_path, which):
    env = rt_env(tmp_path)
    if which == "finished":
        assert run_cli(roundtable_args("quick", "--workers", "elena", "--max-rounds", "1", "--skip-post"),
                       env).returncode == 0
        rt_id = rows(tmp_path, "SELECT id FROM roundtables")[0]["id"]
    else:
        rt_id = "deadbeef"
    result = run_cli(["roundtable", "--resume", rt_id], env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert ("already finished" if which == "finished" else "no roundtable with id") in lines[0]


def test_resume_refuses_a_roundtable_whose_runner_is_alive(tmp_path):
    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="200")
    proc = start_cli(roundtable_args("still going", *TWO, "--max-rounds", "2"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM turns"), what="a first turn")
        rt_id = rows(tmp_path, "SELECT id FROM roundtables")[0]["id"]
        result = run_cli(["roundtable", "--resume", rt_id], rt_env(tmp_path))
        assert result.returncode == 2 and "still running" in result.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def test_resume_with_planning_flags_is_refused(tmp_path):
    result = run_cli(["roundtable", "--resume", "abcd1234", "--topic", "x"], rt_env(tmp_path))
    assert result.returncode == 2 and "drop --topic" in result.stderr


def test_a_person_says_something_and_the_next_agent_hears_it(tmp_path):
    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="120")
    proc = start_cli(roundtable_args("adopt kafka for events?", *TWO, "--max-rounds", "2"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM turns WHERE status = 'done'"), what="a first answer")
        rt_id = rows(tmp_path, "SELECT id FROM roundtables")[0]["id"]
        said = run_cli(["say", "--rt", rt_id, "--as", "priya", "--json", "we tried Kafka in 2023"], env)
        assert said.returncode == 0, said.stderr
        posted = json.loads(said.stdout)
        assert posted["rt_id"] == rt_id and posted["name"] == "priya"
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
    human = rows(tmp_path, "SELECT * FROM messages WHERE rt_id = ? AND kind = 'human'", rt_id)
    assert [(h["agent"], h["content"]) for h in human] == [("priya", "we tried Kafka in 2023")]
    # the first turn whose prompt was built after the message (claimed later) answers it
    later = rows(tmp_path, "SELECT m.content FROM turns t JOIN messages m ON m.id = t.message_id"
                           " WHERE t.rt_id = ? AND t.claimed_at > ? AND t.phase != 'GATE' ORDER BY t.id",
                 rt_id, human[0]["created_ts"])
    assert later and 'priya told us "we tried Kafka in 2023"' in later[0]["content"]
    digest = json.loads((tmp_path / "roundtable-server" / f"digest-{rt_id}.json").read_text())
    assert digest["human_messages"][0]["text"] == "we tried Kafka in 2023"
    assert "priya" not in (digest.get("scores") or {})
    refs = rows(tmp_path, "SELECT * FROM spark_ledger WHERE agent = 'priya' OR ref = ? OR meta LIKE '%priya%'",
                str(human[0]["id"]))
    assert refs == []


@pytest.mark.parametrize(("args", "expect"), [
    (["--as", "elena", "hello"], "agent or engine name"),
    (["--as", "Bad Name!", "hello"], "not a valid name"),
    (["--as", "priya", "   "], "empty"),
])
def test_say_refuses_bad_input_in_one_line(tmp_path, args, expect):
    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="200")
    proc = start_cli(roundtable_args("adopt kafka?", *TWO, "--max-rounds", "2"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM turns"), what="a first turn")
        result = run_cli(["say", *args], env)
        assert result.returncode == 2 and expect in result.stderr and "Traceback" not in result.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def test_say_refuses_when_nothing_runs_or_the_config_denies(tmp_path):
    env = rt_env(tmp_path)
    result = run_cli(["say", "hello"], env)
    assert result.returncode == 2 and "no roundtable is running" in result.stderr
    write_config(tmp_path, {"roundtable": {"human_messages": "deny"}})
    result = run_cli(["say", "hello"], env)
    assert result.returncode == 2 and "turned off" in result.stderr


def test_pause_for_human_waits_after_the_gate_and_a_message_ends_the_wait(tmp_path):
    env = rt_env(tmp_path)
    proc = start_cli(roundtable_args("adopt kafka?", "--workers", "elena", "--max-rounds", "2", "--skip-post",
                                     "--pause-for-human", "600"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM turns WHERE phase = 'GATE' AND status = 'done'"),
                 what="the first gate", timeout=60)
        assert proc.poll() is None  # waiting for a person, not finishing
        assert run_cli(["say", "--as", "priya", "budget is fixed"], env).returncode == 0
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
    rt_id = rows(tmp_path, "SELECT id FROM roundtables")[0]["id"]
    assert rows(tmp_path, "SELECT 1 FROM turns WHERE rt_id = ? AND round = 2", rt_id)

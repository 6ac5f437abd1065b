"""Trouble during a roundtable: crashed and hung workers, dead majorities, Ctrl-C and SIGTERM,
a runner that died, two roundtables at once."""

from __future__ import annotations

import json
import os
import signal

import pytest
from tests.helpers.roundtable_run import (
    alive,
    dead_pid,
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

from amatelier.chat import roundtables
from amatelier.chat.db import open_db

pytestmark = pytest.mark.e2e

TWO = ["--workers", "elena,marcus", "--max-rounds", "2", "--budget", "1", "--skip-post"]


def worker_pids(workspace) -> list[int]:
    """The open roundtable's worker processes, found by their command line (spawned or forked warm)."""
    rt_id = rows(workspace, "SELECT id FROM roundtables WHERE status = 'open'")[0]["id"]
    return processes_with_args("amatelier.engine.worker", rt_id)


def _run(tmp_path, *extra, fault=None, timeout=120):
    env = rt_env(tmp_path, **({"AMATELIER_TEST_FAULT": fault} if fault else {}))
    result = run_cli(roundtable_args("faults", *extra), env, timeout=timeout)
    digest = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result, digest


def test_crashed_worker_is_restarted_and_the_roundtable_completes(tmp_path):
    result, digest = _run(tmp_path, *TWO, fault="marcus:2:crash")
    assert result.returncode == 0, result.stderr
    assert digest["status"] == "closed"
    restarts = [e for e in digest["engine"]["events"] if e["event"] == "restart"]
    assert [(e["agent"], e["restarts"]) for e in restarts] == [("marcus", 1)]
    msgs = messages(tmp_path, digest["rt_id"])
    assert any("marcus's worker stopped" in m["content"] for m in msgs)
    assert not any("did not respond" in m["content"] for m in msgs)
    turns = rows(tmp_path, "SELECT agent, status FROM turns WHERE rt_id = ?", digest["rt_id"])
    assert {t["status"] for t in turns} == {"done"}
    log = (tmp_path / "roundtable-server" / "logs" / f"{digest['rt_id']}-marcus.log").read_text()
    assert "test fault: crashing" in log and "generation 1" in log
    # the replacement runs the same agent on the same backend and model
    calls = rows(tmp_path, "SELECT backend, model FROM llm_calls WHERE rt_id = ? AND agent = 'marcus'"
                           " AND role IN ('speak', 'rebuttal', 'floor')", digest["rt_id"])
    assert len(calls) >= 3 and {(c["backend"], c["model"]) for c in calls} == {("offline", "offline-sonnet")}
    assert digest["worker_models"]["marcus"]["model"] == "offline-sonnet"


def test_hung_worker_times_out_and_the_debate_moves_on(tmp_path):
    result, digest = _run(tmp_path, *TWO, "--speaker-timeout", "2", fault="elena:1:hang")
    assert result.returncode == 0, result.stderr
    assert digest["status"] == "closed"
    msgs = messages(tmp_path, digest["rt_id"])
    assert any(m["content"].startswith("elena did not respond") for m in msgs)
    turns = rows(tmp_path, "SELECT * FROM turns WHERE rt_id = ? ORDER BY id", digest["rt_id"])
    elena = [t for t in turns if t["agent"] == "elena"]
    assert elena[0]["status"] == "timeout" and elena[0]["message_id"] is None
    assert all(t["status"] == "done" for t in elena[1:]) and len(elena) > 1
    # nothing elena posted is attributed to the turn that timed out: every message of hers
    # belongs to one of her answered turns, one message per turn
    posted = sorted(m["id"] for m in msgs if m["agent"] == "elena")
    assert posted and posted == sorted(t["message_id"] for t in elena[1:])
    assert digest["engine"]["turn_status"].get("timeout") == 1


def test_majority_of_workers_dead_cuts_the_roundtable(tmp_path):
    write_config(tmp_path, {"roundtable": {"max_worker_restarts": 0}})
    result, digest = _run(tmp_path, "--workers", "elena,marcus,clare", "--max-rounds", "2",
                          "--skip-post", fault="elena:1:crash,marcus:1:crash")
    assert result.returncode == 1
    assert digest["status"] == "cut"
    assert digest["cut_reason"].startswith("health audit: 2 of 3 workers")
    rt = rows(tmp_path, "SELECT status, cut_reason FROM roundtables")[0]
    assert rt["status"] == "cut" and "health audit" in rt["cut_reason"]


@pytest.mark.parametrize(("sig", "reason"), [(signal.SIGINT, "keyboard interrupt"),
                                            (signal.SIGTERM, "terminated")])
def test_interrupt_cuts_with_reason_and_leaves_no_worker(tmp_path, sig, reason):
    env = rt_env(tmp_path, AMATELIER_TEST_FAULT="elena:1:hang,marcus:1:hang")
    proc = start_cli(roundtable_args("interrupt me", *TWO, "--speaker-timeout", "600"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM turns WHERE status = 'claimed'"),
                 what="a claimed turn")
        workers = worker_pids(tmp_path)
        assert len(workers) == 3  # elena, marcus, judge
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    rt = rows(tmp_path, "SELECT status, cut_reason FROM roundtables")[0]
    assert rt == {"status": "cut", "cut_reason": reason}
    assert json.loads(out)["cut_reason"] == reason
    decision = json.loads(out)["decision"]  # a cut debate still gets its (partial) decision record
    assert decision["partial"] is True and decision["stop_reason"] == reason
    wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10, what="workers to be gone")
    open_turns = rows(tmp_path, "SELECT * FROM turns WHERE status IN ('pending', 'claimed')")
    assert open_turns == []


def test_a_roundtable_whose_runner_died_is_cut_by_the_next_runner(tmp_path, monkeypatch):
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path))
    conn = open_db()
    orphan = roundtables.open_roundtable(conn, "orphan", ["elena"], runner_pid=dead_pid())
    conn.close()
    result, digest = _run(tmp_path, "--workers", "elena", "--max-rounds", "1", "--skip-post")
    assert result.returncode == 0, result.stderr
    assert f"roundtable {orphan} was left open by a dead runner" in result.stderr
    rt = rows(tmp_path, "SELECT status, cut_reason FROM roundtables WHERE id = ?", orphan)[0]
    assert rt["status"] == "cut" and "runner died" in rt["cut_reason"]
    assert digest["status"] == "closed"


def test_two_roundtables_at_once_do_not_mix(tmp_path):
    env = rt_env(tmp_path)
    first = start_cli(roundtable_args("first topic", "--workers", "elena,marcus", "--max-rounds", "2",
                                      "--skip-post"), env)
    second = start_cli(roundtable_args("second topic", "--workers", "clare,simon", "--max-rounds", "2",
                                       "--skip-post"), env)
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    d1, d2 = json.loads(out1), json.loads(out2)
    assert d1["rt_id"] != d2["rt_id"]
    for digest, crew, topic in ((d1, {"elena", "marcus"}, "first topic"),
                                (d2, {"clare", "simon"}, "second topic")):
        msgs = messages(tmp_path, digest["rt_id"])
        assert {m["agent"] for m in msgs} == crew | {"judge", "runner"}
        assert digest["topic"] == topic
        turns = rows(tmp_path, "SELECT t.agent, m.rt_id FROM turns t JOIN messages m ON m.id = t.message_id"
                               " WHERE t.rt_id = ?", digest["rt_id"])
        assert turns and all(t["rt_id"] == digest["rt_id"] for t in turns)
        assert {t["agent"] for t in turns} == crew | {"judge"}
    assert {r["status"] for r in rows(tmp_path, "SELECT status FROM roundtables")} == {"closed"}


def test_workers_exit_when_the_runner_is_killed(tmp_path):
    env = rt_env(tmp_path, AMATELIER_TEST_FAULT="elena:1:hang")
    proc = start_cli(roundtable_args("kill -9", *TWO, "--speaker-timeout", "600"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM turns WHERE status = 'claimed'"), what="claimed turn")
        workers = worker_pids(tmp_path)
        assert workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        wait_for(lambda: not any(alive(pid) for pid in workers), timeout=15, what="orphaned workers to exit")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_naomi_is_relaunched_at_the_refresh_round(tmp_path):
    write_config(tmp_path, {"roundtable": {"gemini_refresh_round": 2}})
    result, digest = _run(tmp_path, "--workers", "elena,naomi", "--max-rounds", "3", "--skip-post")
    assert result.returncode == 0, result.stderr
    assert digest["rounds"] >= 2
    msgs = messages(tmp_path, digest["rt_id"])
    refresh = [m for m in msgs if "naomi's worker relaunched at round 2" in m["content"]]
    assert len(refresh) == 1 and refresh[0]["round"] == 2
    log = (tmp_path / "roundtable-server" / "logs" / f"{digest['rt_id']}-naomi.log").read_text()
    assert "generation 0" in log and "generation 1" in log
    assert not [e for e in digest["engine"]["events"] if e["event"] == "restart"]


def test_failed_model_calls_are_recorded_and_a_silent_majority_cuts(tmp_path):
    write_config(tmp_path, {"llm": {"mode": "openai-compat", "retry": {"max_attempts": 1},
                                    "openai_compat": {"base_url": "http://127.0.0.1:9/v1",
                                                      "api_key_env": "RT_FAKE_KEY"}}})
    env = rt_env(tmp_path, AMATELIER_MODE="openai-compat", RT_FAKE_KEY="sk-fake")
    result = run_cli(roundtable_args("no model", *TWO), env)
    assert result.returncode == 1, result.stderr
    digest = json.loads(result.stdout)
    assert digest["cut_reason"].startswith("health audit: 2 of 2 workers")
    turns = rows(tmp_path, "SELECT status, error FROM turns WHERE rt_id = ?", digest["rt_id"])
    assert turns and {t["status"] for t in turns} == {"failed"}
    assert all(t["error"] for t in turns)
    calls = rows(tmp_path, "SELECT status, error, role FROM llm_calls WHERE rt_id = ?", digest["rt_id"])
    # One failed call per turn, plus the chair's (the decision record after the cut).
    assert [c["role"] for c in calls if c["role"] == "decision"] == ["decision"]
    assert len(calls) == len(turns) + 1 and {c["status"] for c in calls} == {"error"}
    assert digest["llm_usage"]["errors"] == len(calls)
    assert digest["decision"]["synthesized"] is False and digest["decision"]["partial"] is True
    msgs = messages(tmp_path, digest["rt_id"])
    assert sum(m["content"].startswith("elena did not respond") for m in msgs) >= 2
    assert not [m for m in msgs if m["kind"] == "speech"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_after_the_debate_keeps_the_digest_and_skips_the_rest(tmp_path, sig):
    """Once the debate is closed, Ctrl-C and SIGTERM alike stop only the steps after it."""
    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="400")  # slow model calls: scoring takes a while
    proc = start_cli(roundtable_args("stop the extras", "--workers", "elena", "--max-rounds", "1",
                                     "--budget", "0"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM roundtables WHERE status = 'closed'"),
                 timeout=60, what="the debate to close")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert "interrupted during the post-roundtable steps" in err
    digest = json.loads(out)
    assert digest["status"] == "closed" and "cut_reason" not in digest
    assert any("remaining steps were skipped" in w for w in digest["warnings"])
    server = tmp_path / "roundtable-server"
    assert json.loads((server / f"digest-{digest['rt_id']}.json").read_text()) == digest
    assert digest["rt_id"] in (server / "latest-result.md").read_text()
    assert "therapist" not in digest and not list(server.glob("therapist-report-*.md"))

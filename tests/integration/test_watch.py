"""`amatelier watch`: read-only tail of the roundtable database (plain text off a terminal)."""

from __future__ import annotations

import io
import json

import pytest
from tests.helpers.roundtable_run import (
    dead_pid,
    roundtable_args,
    rows,
    rt_env,
    run_cli,
    start_cli,
    wait_for,
)

from amatelier import watch
from amatelier.chat.db import connect

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    workspace = tmp_path_factory.mktemp("watch")
    result = run_cli(roundtable_args("watch me", "--workers", "elena,marcus", "--max-rounds", "2",
                                     "--skip-post"), rt_env(workspace))
    assert result.returncode == 0, result.stderr
    return workspace, json.loads(result.stdout)


def test_watch_once_prints_the_transcript_in_plain_text(done):
    workspace, digest = done
    before = rows(workspace, "SELECT COUNT(*) AS n, MAX(id) AS last FROM messages")[0]
    result = run_cli(["watch", "--once"], rt_env(workspace))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0] == f"roundtable {digest['rt_id']} · watch me · closed"
    for expected in ("ROUND 1: begin", "--- SPEAK PHASE (Round 1) ---", "--- REBUTTAL PHASE ---",
                     "--- JUDGE GATE ---", "[elena] [offline]", "[marcus] [offline]",
                     "[judge] >> CONTINUE:", "CONVERGED:", "— roundtable closed (converged in round 2)"):
        assert expected in out, expected
    assert "YOUR TURN" not in out  # turn bookkeeping is not shown
    assert "\x1b[" not in out       # no colour codes when stdout is not a terminal
    assert rows(workspace, "SELECT COUNT(*) AS n, MAX(id) AS last FROM messages")[0] == before


def test_watch_unknown_rt_and_missing_db_are_clear_errors(done, tmp_path):
    workspace, _ = done
    result = run_cli(["watch", "--rt", "nope", "--once"], rt_env(workspace))
    assert result.returncode == 2 and "no roundtable with id nope" in result.stderr
    empty = run_cli(["watch", "--once"], rt_env(tmp_path / "empty"))
    assert empty.returncode == 2 and "no roundtable database" in empty.stderr
    assert "Traceback" not in empty.stderr
    assert not (tmp_path / "empty").exists()


def test_watch_follows_a_live_roundtable_until_it_closes(tmp_path):
    env = rt_env(tmp_path, AMATELIER_TEST_FAULT="marcus:2:hang")
    runner = start_cli(roundtable_args("live", "--workers", "elena,marcus", "--max-rounds", "2",
                                       "--skip-post", "--speaker-timeout", "2"), env)
    try:
        rt = wait_for(lambda: rows(tmp_path, "SELECT id FROM roundtables WHERE status = 'open'"),
                      what="an open roundtable")[0]["id"]
        conn = connect(tmp_path / "roundtable-server" / "roundtable.db", readonly=True)
        speaking = wait_for(lambda: (watch.open_turn(conn, rt) or {}).get("agent") == "marcus",
                            what="marcus's open turn")
        conn.close()
        assert speaking
        watcher = run_cli(["watch", "--from-start"], env, timeout=60)
        runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert watcher.returncode == 0, watcher.stderr
    assert "BRIEFING" in watcher.stdout
    assert "marcus did not respond" in watcher.stdout
    ending, cost = watcher.stdout.rstrip().splitlines()[-2:]
    assert ending == "— roundtable closed (converged in round 2)"
    assert cost == "cost: $0.0000 spent"  # offline calls cost nothing, and say so


def test_rich_view_highlights_judge_signals_and_open_turn(done):
    from rich.console import Console

    workspace, digest = done
    conn = connect(workspace / "roundtable-server" / "roundtable.db", readonly=True)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system="standard")
    rt = watch.pick_roundtable(conn, digest["rt_id"])
    assert watch.RichWatcher(conn, rt, console=console).run(from_start=True, once=True) == 0
    text = buffer.getvalue()
    assert "judge · r1" in text and "CONTINUE:" in text and "\x1b[" in text
    assert watch.agent_color("elena") != watch.agent_color("marcus")
    assert watch.open_turn(conn, digest["rt_id"]) is None
    conn.close()


def test_watch_ends_when_the_runner_died_instead_of_waiting_forever(tmp_path, monkeypatch):
    import os

    from amatelier.chat import messages as chat_messages
    from amatelier.chat import roundtables
    from amatelier.chat.db import open_db

    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path))
    dead = dead_pid()
    conn = open_db()
    orphan = roundtables.open_roundtable(conn, "abandoned", ["elena"], runner_pid=dead)
    chat_messages.post(conn, orphan, "elena", "half a debate", kind="speech", round=1, phase="SPEAK")

    result = run_cli(["watch", "--rt", orphan], rt_env(tmp_path), timeout=30)
    assert result.returncode == 1, result.stderr
    assert "[elena] half a debate" in result.stdout
    assert result.stdout.rstrip().endswith(
        f"— roundtable abandoned: its runner (pid {dead}) is gone; "
        "the next `amatelier roundtable` marks it cut")
    assert roundtables.status(conn, orphan) == "open"  # watching never writes

    # The default watch does not pick an abandoned roundtable; a live one is picked.
    reader = connect(tmp_path / "roundtable-server" / "roundtable.db", readonly=True)
    assert watch.live_open(reader) is None
    live = roundtables.open_roundtable(conn, "running", ["elena"], runner_pid=os.getpid())
    assert watch.live_open(reader)["id"] == live
    reader.close()
    conn.close()

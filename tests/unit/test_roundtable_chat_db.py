"""Chat database queries and the turn protocol, on a real SQLite file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from amatelier.chat import messages as msgs
from amatelier.chat import roundtables, turns
from amatelier.chat.db import connect, open_db, transaction
from amatelier.chat.waiting import ChangeWaiter


@pytest.fixture
def conn(tmp_path, monkeypatch):
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path))
    connection = open_db()
    yield connection
    connection.close()


def _other(tmp_path):
    return connect(tmp_path / "roundtable-server" / "roundtable.db")


def test_open_close_cut_and_latest_open_with_many_roundtables(conn):
    first = roundtables.open_roundtable(conn, "one", ["elena"])
    second = roundtables.open_roundtable(conn, "two", ["marcus"])
    assert roundtables.latest_open(conn)["id"] == second
    assert roundtables.get_roundtable(conn, first)["participants"] == ["elena"]
    assert roundtables.close_roundtable(conn, second)
    assert not roundtables.close_roundtable(conn, second)  # already closed
    assert roundtables.latest_open(conn)["id"] == first
    assert roundtables.cut_roundtable(conn, first, "because")
    assert roundtables.get_roundtable(conn, first)["cut_reason"] == "because"
    assert roundtables.latest_open(conn) is None
    assert roundtables.latest(conn)["id"] in (first, second)
    assert msgs.transcript(conn, first)[-1]["content"] == "ROUNDTABLE CUT: because"


def test_turn_claim_complete_once(conn, tmp_path):
    rt = roundtables.open_roundtable(conn, "t", ["elena"])
    turn_id = turns.request_turn(conn, rt, "elena", round=1, phase="speak", instructions="go", timeout_s=5)
    line = msgs.transcript(conn, rt)[-1]
    assert (line["kind"], line["content"]) == ("turn", "YOUR TURN: elena — SPEAK")
    worker = _other(tmp_path)
    claimed = turns.claim_next(worker, rt, "elena", 1234)
    assert claimed["id"] == turn_id and claimed["status"] == "claimed" and claimed["worker_pid"] == 1234
    assert turns.claim_next(conn, rt, "elena", 99) is None  # nobody claims it twice
    message_id = turns.complete(worker, claimed, "my answer")
    row = turns.get_turn(conn, turn_id)
    assert row["status"] == "done" and row["message_id"] == message_id
    assert msgs.get_message(conn, message_id)["phase"] == "SPEAK"
    assert turns.complete(worker, claimed, "again") is None
    worker.close()


def test_late_answer_after_timeout_is_not_posted(conn):
    rt = roundtables.open_roundtable(conn, "t", ["elena"])
    turn_id = turns.request_turn(conn, rt, "elena", round=1, phase="SPEAK")
    claimed = turns.claim_next(conn, rt, "elena", 1)
    assert turns.expire(conn, turn_id)
    before = msgs.count_messages(conn, rt)
    assert turns.complete(conn, claimed, "too late") is None
    assert msgs.count_messages(conn, rt) == before
    assert turns.get_turn(conn, turn_id)["status"] == "timeout"
    # the next turn is a fresh row; the late answer can never land on it
    nxt = turns.request_turn(conn, rt, "elena", round=1, phase="REBUTTAL")
    assert turns.complete(conn, claimed, "too late") is None
    assert turns.get_turn(conn, nxt)["message_id"] is None


def test_release_failed_and_cut_cancels_open_turns(conn):
    rt = roundtables.open_roundtable(conn, "t", ["elena", "marcus"])
    a = turns.request_turn(conn, rt, "elena", round=1, phase="SPEAK")
    turns.claim_next(conn, rt, "elena", 1)
    assert turns.release(conn, a) and turns.get_turn(conn, a)["status"] == "pending"
    turns.claim_next(conn, rt, "elena", 2)
    assert turns.fail(conn, a, "model exploded")
    assert turns.get_turn(conn, a)["error"] == "model exploded"
    b = turns.request_turn(conn, rt, "marcus", round=1, phase="SPEAK")
    roundtables.cut_roundtable(conn, rt, "stop")
    assert turns.get_turn(conn, b)["status"] == "cancelled"


def test_cursors_listen_recall_and_index(conn):
    rt = roundtables.open_roundtable(conn, "t", ["elena", "marcus"])
    other = roundtables.open_roundtable(conn, "other", ["clare"])
    msgs.speak(conn, other, "clare", "not in this roundtable", kind="speech", round=1)
    ids = [msgs.speak(conn, rt, a, text, kind="speech", round=r, phase="SPEAK")
           for a, text, r in [("elena", "shared schema is the issue", 1), ("marcus", "100% risky_thing", 1),
                              ("elena", "I still think the schema matters", 2)]]
    assert [m["id"] for m in msgs.listen(conn, rt, "clare")] == ids
    assert msgs.listen(conn, rt, "clare") == []
    assert msgs.get_cursor(conn, rt, "clare") == ids[-1]
    msgs.set_cursor(conn, rt, "clare", 1)  # never moves backwards
    assert msgs.get_cursor(conn, rt, "clare") == ids[-1]
    assert [m["id"] for m in msgs.recall(conn, rt, agent="elena")] == [ids[0], ids[2]]
    assert [m["id"] for m in msgs.recall(conn, rt, round=1)] == ids[:2]
    assert [m["id"] for m in msgs.recall(conn, rt, keyword="SCHEMA")] == [ids[0], ids[2]]
    assert [m["id"] for m in msgs.recall(conn, rt, keyword="100%")] == [ids[1]]
    assert msgs.recall(conn, rt, keyword="_") == [msgs.get_message(conn, ids[1])]
    index = msgs.build_transcript_index(msgs.transcript(conn, rt))
    assert index.splitlines()[0] == f"#{ids[0]} r1 SPEAK elena: shared schema is the issue"
    assert len(index.splitlines()) == 3
    assert "omitted" in msgs.build_transcript_index(msgs.transcript(conn, rt), max_chars=100)
    assert len(msgs.build_transcript_index(msgs.transcript(conn, rt), max_chars=100)) <= 100


def test_cut_orphans_only_touches_dead_runners(conn):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    orphan = roundtables.open_roundtable(conn, "orphan", [], runner_pid=int(dead.stdout))
    live = roundtables.open_roundtable(conn, "mine", [])  # this process: alive
    elsewhere = roundtables.open_roundtable(conn, "remote", [], runner_pid=int(dead.stdout))
    conn.execute("UPDATE roundtables SET runner_host = 'another-host' WHERE id = ?", (elsewhere,))
    found = roundtables.cut_orphans(conn)
    assert [rt for rt, _ in found] == [orphan]
    assert roundtables.status(conn, orphan) == "cut" and roundtables.status(conn, live) == "open"
    assert roundtables.status(conn, elsewhere) == "open"


def test_busy_database_is_waited_on_not_a_crash(conn, tmp_path):
    rt = roundtables.open_roundtable(conn, "t", [])
    holder = _other(tmp_path)
    locked = threading.Event()

    def hold():
        with transaction(holder):
            msgs.post(holder, rt, "x", "holding the write lock")
            locked.set()
            time.sleep(0.3)  # keep the write lock while the main thread tries to write

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(5)
    # The write lock really is held now: a writer that does not wait is refused...
    impatient = sqlite3.connect(str(tmp_path / "roundtable-server" / "roundtable.db"), timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        impatient.execute("BEGIN IMMEDIATE")
    impatient.close()
    msgs.post(conn, rt, "y", "written after the lock is released")  # ...busy_timeout waits
    thread.join()
    assert [m["agent"] for m in msgs.transcript(conn, rt)] == ["x", "y"]
    holder.close()


def test_a_lock_held_past_busy_timeout_is_retried_not_a_crash(conn, tmp_path, monkeypatch):
    """BEGIN IMMEDIATE outlasts even a lock longer than busy_timeout: it is retried with back-off."""
    from amatelier.chat import db as chat_db

    rt = roundtables.open_roundtable(conn, "t", [])
    monkeypatch.setattr(chat_db, "BUSY_TIMEOUT_MS", 50)
    writer = _other(tmp_path)  # busy_timeout 50 ms
    holder = _other(tmp_path)
    locked = threading.Event()

    def hold():
        holder.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(0.4)  # several busy timeouts long
        holder.execute("ROLLBACK")

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait(5)
    with transaction(writer):
        msgs.post(writer, rt, "elena", "written once the lock is gone")
    thread.join()
    assert [m["content"] for m in msgs.transcript(conn, rt)] == ["written once the lock is gone"]
    writer.close()
    holder.close()


def test_change_waiter_wakes_on_another_connections_commit(conn, tmp_path):
    rt = roundtables.open_roundtable(conn, "t", [])
    waiter = ChangeWaiter(conn)
    assert not waiter.wait(0.02)
    other = _other(tmp_path)
    msgs.post(other, rt, "x", "hello")
    assert waiter.wait(1.0)
    msgs.post(conn, rt, "y", "own writes do not count")
    assert not waiter.changed()
    other.close()


def test_watch_tail_counts_only_this_roundtables_messages(conn):
    from amatelier.watch import plain_line, tail_start

    a = roundtables.open_roundtable(conn, "a", [])
    b = roundtables.open_roundtable(conn, "b", [])
    ids = []
    for i in range(30):
        ids.append(msgs.post(conn, a, "elena", f"a{i}", kind="speech"))
        msgs.post(conn, b, "marcus", f"b{i}", kind="speech")
    assert tail_start(conn, a, 20) == ids[9]
    assert len(msgs.transcript(conn, a, after_id=tail_start(conn, a, 20))) == 20
    assert tail_start(conn, a, 100) == 0
    assert plain_line({"kind": "turn", "agent": "runner", "content": "YOUR TURN: x — SPEAK"}) is None
    assert plain_line({"kind": "judge", "agent": "judge", "content": "CONVERGED: ok"}) == "[judge] >> CONVERGED: ok"

"""The MCP read tools over a real roundtable.db (in-process, temp workspace): paging, status,
digest states, defaults, and that they work on a read-only connection."""

from __future__ import annotations

import json
import os

import pytest
from tests.helpers.roundtable_run import dead_pid

from amatelier import paths
from amatelier.chat import messages as msgs
from amatelier.chat import roundtables, turns
from amatelier.chat.db import connect, open_db
from amatelier.mcp import tools as mcp_tools
from amatelier.mcp.launch import cut
from amatelier.mcp.tools import ToolFailure


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path))
    conn = open_db()
    yield conn
    conn.close()


@pytest.fixture
def reader(ws):
    conn = connect(readonly=True)
    yield conn
    conn.close()


def _rt(conn, topic="t", pid=None):
    rt_id = roundtables.open_roundtable(conn, topic, ["elena", "marcus", "judge"],
                                       runner_pid=os.getpid() if pid is None else pid)
    msgs.post(conn, rt_id, "runner", "BRIEFING:\n\nb", kind="briefing")
    return rt_id


def test_transcript_pages_follow_by_since_id_and_skip_turn_lines(ws, reader):
    rt_id = _rt(ws)
    msgs.post(ws, rt_id, "runner", "ROUND 1: begin", kind="phase", round=1, phase="ROUND")
    turn_id = turns.request_turn(ws, rt_id, "elena", round=1, phase="SPEAK", instructions="go")
    for i in range(5):
        msgs.post(ws, rt_id, "elena", f"point {i}", kind="speech", round=1, phase="SPEAK")
    other = _rt(ws, "other")
    msgs.post(ws, other, "marcus", "elsewhere", kind="speech")

    rt = mcp_tools.pick_roundtable(reader, rt_id)
    seen, since, pages = [], 0, 0
    while True:
        page = mcp_tools.transcript_page(reader, rt, since_id=since, limit=3)
        pages += 1
        seen += page["messages"]
        since = page["next_since_id"]
        if not page["more"]:
            break
    assert pages == 3
    assert [m["content"] for m in seen] == ["BRIEFING:\n\nb", "ROUND 1: begin"] + [f"point {i}" for i in range(5)]
    assert all(m["kind"] != "turn" for m in seen)
    with_turns = mcp_tools.transcript_page(reader, rt, include_turns=True, limit=500)["messages"]
    assert [m["kind"] for m in with_turns].count("turn") == 1 and turn_id
    last = mcp_tools.transcript_page(reader, rt, since_id=since)
    assert last["messages"] == [] and last["next_since_id"] == since and last["open"] is True


def test_status_names_the_speaker_round_and_phase(ws, reader, tmp_path):
    rt_id = _rt(ws)
    msgs.post(ws, rt_id, "runner", "--- REBUTTAL PHASE ---", kind="phase", round=2, phase="REBUTTAL")
    turns.request_turn(ws, rt_id, "marcus", round=2, phase="REBUTTAL", instructions="go")
    info = mcp_tools.status(reader, mcp_tools.pick_roundtable(reader, None), paths.user_digest_dir())
    assert info["rt_id"] == rt_id and info["status"] == "open" and info["stage"] == "debating"
    assert (info["round"], info["phase"], info["speaking"], info["speaking_phase"]) == (2, "REBUTTAL", "marcus", "REBUTTAL")
    assert info["message_count"] == msgs.count_messages(ws, rt_id) == 3
    assert info["runner_alive"] is True and info["digest_ready"] is False
    not_ready = mcp_tools.digest(reader, mcp_tools.pick_roundtable(reader, rt_id), paths.user_digest_dir())
    assert not_ready["ready"] is False
    assert not_ready["message"] == "still running: round 2, REBUTTAL, marcus is speaking"


def test_defaults_prefer_the_latest_open_roundtable(ws, reader):
    first = _rt(ws, "first")
    second = _rt(ws, "second")
    roundtables.close_roundtable(ws, second)
    assert mcp_tools.pick_roundtable(reader, None)["id"] == first
    roundtables.close_roundtable(ws, first)
    assert mcp_tools.pick_roundtable(reader, None)["id"] in (first, second)
    assert mcp_tools.pick_roundtable(reader, " ")["id"] in (first, second)
    with pytest.raises(ToolFailure, match="no roundtable with id cafe0000"):
        mcp_tools.pick_roundtable(reader, "cafe0000")


def test_digest_states_and_list(ws, reader, tmp_path):
    dead = dead_pid()
    orphan = _rt(ws, "orphan", pid=dead)
    finished = _rt(ws, "finished", pid=dead)
    roundtables.close_roundtable(ws, finished)
    digest_dir = paths.user_digest_dir()
    d = mcp_tools.digest(reader, roundtables.get_roundtable(reader, orphan), digest_dir)
    assert d["ready"] is False and d["stage"] == "orphaned" and "stopped before writing" in d["message"]
    (digest_dir / f"digest-{finished}.json").write_text(json.dumps({"rt_id": finished, "status": "closed"}),
                                                        encoding="utf-8")
    d = mcp_tools.digest(reader, roundtables.get_roundtable(reader, finished), digest_dir)
    summary = d.pop("summary")
    assert d == {"rt_id": finished, "ready": True, "decision": None, "final": True,
                 "path": str(digest_dir / f"digest-{finished}.json"),
                 "digest": {"rt_id": finished, "status": "closed"}}
    assert summary.split("\n\n")[1].startswith("RECOMMENDATION: (no decision record")
    (digest_dir / f"digest-{orphan}.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ToolFailure, match="cannot read digest"):
        mcp_tools.digest(reader, roundtables.get_roundtable(reader, orphan), digest_dir)
    listed = mcp_tools.list_roundtables(reader, digest_dir, limit=1)["roundtables"]
    assert [item["rt_id"] for item in listed] == [finished] and listed[0]["digest_ready"] is True


def test_read_tools_write_nothing(ws, reader):
    rt_id = _rt(ws)
    with pytest.raises(Exception, match="readonly"):
        reader.execute("INSERT INTO read_cursors (rt_id, agent, last_message_id) VALUES (?, 'x', 1)", (rt_id,))
    from amatelier.config import load_config

    config = load_config()
    board = mcp_tools.leaderboard(reader, config)["leaderboard"]
    assert {row["agent"] for row in board} >= {"elena", "marcus"}
    assert mcp_tools.sparks(reader, config)["balances"]["elena"] == 0
    assert mcp_tools.sparks(reader, config, "Elena")["agent"] == "elena"
    with pytest.raises(ToolFailure, match="unknown agent"):
        mcp_tools.sparks(reader, config, "zed")


def test_cut_records_the_reason_and_skips_a_dead_runner(ws):
    dead = dead_pid()
    rt_id = _rt(ws, pid=dead)
    turns.request_turn(ws, rt_id, "elena", round=1, phase="SPEAK", instructions="go")
    result = cut(ws, rt_id, "stop now")
    assert result == {"rt_id": rt_id, "status": "cut", "cut_reason": "stop now", "runner_pid": dead,
                      "runner_signalled": False}
    row = roundtables.get_roundtable(ws, rt_id)
    assert (row["status"], row["cut_reason"]) == ("cut", "stop now")
    assert [t["status"] for t in turns.turns_for(ws, rt_id)] == ["cancelled"]
    with pytest.raises(ToolFailure, match="already cut"):
        cut(ws, rt_id, "again")

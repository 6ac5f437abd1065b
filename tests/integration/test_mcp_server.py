"""The MCP server end to end: the REAL mcp client over stdio, real runner and worker processes,
real SQLite, offline backend, temp workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers.roundtable_run import BRIEFING, processes_with_args, rows, rt_env, wait_for

pytest.importorskip("mcp", reason="the optional `mcp` extra is not installed (pip install -e '.[mcp]')")

import anyio  # noqa: E402 - installed with mcp
from tests.helpers.mcp_client import call, ok, poll, session  # noqa: E402

pytestmark = pytest.mark.e2e

TOOLS = {"roundtable_start", "roundtable_status", "roundtable_transcript", "roundtable_digest",
         "roundtable_list", "leaderboard", "sparks", "roundtable_cut", "roundtable_say", "roundtable_resume",
         "roundtable_search"}
SMALL = {"workers": ["elena", "marcus"], "max_rounds": 2, "budget": 1}


def _workspace_briefing(workspace: Path) -> str:
    """Copy the example briefing into the workspace briefing dir (the only files MCP may name)."""
    target = workspace / "roundtable-server" / BRIEFING.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(BRIEFING.read_text(encoding="utf-8"), encoding="utf-8")
    return BRIEFING.name


def _one_line_error(is_error: bool, text: object) -> str:
    assert is_error, f"expected a tool error, got {text!r}"
    assert isinstance(text, str) and "\n" not in text.strip() and "Traceback" not in text, text
    return text


def test_tools_are_listed_with_documented_arguments(tmp_path):
    async def scenario():
        async with session(rt_env(tmp_path)) as client:
            return (await client.list_tools()).tools

    tools = {tool.name: tool for tool in anyio.run(scenario)}
    assert set(tools) == TOOLS
    start = tools["roundtable_start"]
    schema = getattr(start, "input_schema", None) or start.inputSchema
    assert sorted(schema["required"]) == ["briefing", "topic"]
    assert set(schema["properties"]) == {"topic", "briefing", "workers", "max_rounds", "budget",
                                         "skip_naomi", "skip_post", "max_cost_usd", "max_tokens",
                                         "max_minutes"}
    for tool in tools.values():
        assert tool.description and tool.description.strip()
        props = (getattr(tool, "input_schema", None) or tool.inputSchema).get("properties", {})
        for name, prop in props.items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
    cut = tools["roundtable_cut"]
    assert sorted((getattr(cut, "input_schema", None) or cut.inputSchema)["required"]) == ["reason", "rt_id"]


def test_start_follow_live_and_read_the_digest(tmp_path):
    async def scenario():
        async with session(rt_env(tmp_path)) as client:
            started = await ok(client, "roundtable_start", topic="split the monolith?",
                               briefing=_workspace_briefing(tmp_path), **SMALL)
            rt_id = started["rt_id"]
            seen: list[dict] = []
            since = 0

            async def follow():
                nonlocal since
                page = await ok(client, "roundtable_transcript", rt_id=rt_id, since_id=since, limit=4)
                assert len(page["messages"]) <= 4
                seen.extend(page["messages"])
                since = page["next_since_id"]
                if page["more"] or page["open"]:
                    return None
                digest = await ok(client, "roundtable_digest", rt_id=rt_id)
                return digest if digest["ready"] and digest["final"] else None

            digest = await poll(follow, timeout=120, what="the digest")
            after = await ok(client, "roundtable_transcript", rt_id=rt_id, since_id=since)
            status = await ok(client, "roundtable_status")
            listed = await ok(client, "roundtable_list", limit=5)
            board = await ok(client, "leaderboard")
            elena = await ok(client, "sparks", agent="elena", limit=3)
            balances = await ok(client, "sparks")
            unknown = await call(client, "sparks", agent="zed")
            return started, seen, after, digest, status, listed, board, elena, balances, unknown

    started, seen, after, digest, status, listed, board, elena, balances, unknown = anyio.run(scenario)
    rt_id = started["rt_id"]
    assert Path(started["log"]).is_file() and started["runner_pid"] > 0

    # the pages, joined, are exactly the transcript (minus the workers' turn lines), in order
    ids = [m["id"] for m in seen]
    assert ids == sorted(set(ids))
    db_messages = rows(tmp_path, "SELECT id, agent, kind, content FROM messages WHERE rt_id = ? AND kind != 'turn'"
                                 " ORDER BY id", rt_id)
    assert [(m["id"], m["agent"], m["kind"], m["content"]) for m in seen] == \
        [(m["id"], m["agent"], m["kind"], m["content"]) for m in db_messages]
    assert seen[0]["kind"] == "briefing" and "hello world" in seen[0]["content"].lower()
    assert {"elena", "marcus", "judge"} <= {m["agent"] for m in seen}
    assert after["messages"] == [] and after["open"] is False

    # the digest is the runner's file, with the fields a caller relies on
    body = digest["digest"]
    assert body == json.loads(Path(digest["path"]).read_text(encoding="utf-8"))
    assert body["rt_id"] == rt_id and body["status"] == "closed" and body["topic"] == "split the monolith?"
    assert 1 <= body["rounds"] <= 2
    # ... and it opens with the decision: first key after the id and state, first block of the summary
    assert list(digest)[:3] == ["rt_id", "ready", "decision"] and digest["decision"] == body["decision"]
    assert digest["summary"].split("\n\n")[1].startswith("RECOMMENDATION: ")
    assert set(body["final_positions"]) == {"elena", "marcus"}
    assert body["contributions"]["elena"] >= 1 and body["contributions"]["marcus"] >= 1
    assert body["mode"] == "offline"

    assert status["rt_id"] == rt_id and status["status"] == "closed" and status["stage"] == "done"
    assert status["runner_alive"] is False and status["digest_ready"] is True
    total = rows(tmp_path, "SELECT COUNT(*) AS n FROM messages WHERE rt_id = ?", rt_id)[0]["n"]
    assert status["message_count"] == total and status["speaking"] is None
    assert listed["roundtables"][0]["rt_id"] == rt_id and listed["roundtables"][0]["digest_ready"] is True

    ledger = {r["agent"]: r["total"] for r in rows(
        tmp_path, "SELECT agent, SUM(amount) AS total FROM spark_ledger GROUP BY agent")}
    assert ledger.get("elena") is not None  # the roundtable moved sparks
    assert {row["agent"]: row["sparks"] for row in board["leaderboard"]}["elena"] == ledger["elena"]
    assert [row["rank"] for row in board["leaderboard"]] == list(range(1, len(board["leaderboard"]) + 1))
    assert elena["agent"] == "elena" and elena["balance"] == ledger["elena"]
    assert 1 <= len(elena["history"]) <= 3 and all(r["agent"] == "elena" for r in elena["history"])
    assert balances["balances"]["elena"] == ledger["elena"]
    assert "unknown agent 'zed'" in _one_line_error(*unknown)


def test_cut_a_running_roundtable_with_a_reason(tmp_path):
    reason = "the user changed the question"
    env = rt_env(tmp_path, AMATELIER_TEST_FAULT="elena:1:hang")
    briefing_text = "# Inline briefing\n\nShould the billing service own its own database?\n"

    async def scenario():
        async with session(env) as client:
            started = await ok(client, "roundtable_start", topic="cut me", briefing=briefing_text,
                               workers=["elena", "marcus"], max_rounds=5)
            rt_id = started["rt_id"]

            async def elena_holds_the_floor():
                status = await ok(client, "roundtable_status", rt_id=rt_id)
                return status if status["speaking"] == "elena" else None

            running = await poll(elena_holds_the_floor, timeout=60, what="elena's hung turn")
            workers = processes_with_args(rt_id)
            cut = await ok(client, "roundtable_cut", rt_id=rt_id, reason=reason)
            status = await ok(client, "roundtable_status", rt_id=rt_id)
            digest = await poll(lambda: _ready_digest(client, rt_id), timeout=30, what="the cut digest")
            again = await call(client, "roundtable_cut", rt_id=rt_id, reason="twice")
            page = await ok(client, "roundtable_transcript", rt_id=rt_id, limit=500)
            return started, running, workers, cut, status, digest, again, page

    started, running, workers, cut, status, digest, again, page = anyio.run(scenario)
    rt_id = started["rt_id"]
    assert running["status"] == "open" and running["stage"] == "debating" and running["runner_alive"] is True
    assert len(workers) == 3  # elena, marcus, judge
    assert cut == {"rt_id": rt_id, "status": "cut", "cut_reason": reason, "runner_pid": started["runner_pid"],
                   "runner_signalled": True, "runner_stopped": True}
    assert status["status"] == "cut" and status["cut_reason"] == reason and status["runner_alive"] is False
    assert digest["digest"]["status"] == "cut" and digest["digest"]["cut_reason"] == reason
    assert rows(tmp_path, "SELECT status, cut_reason FROM roundtables WHERE id = ?", rt_id) == \
        [{"status": "cut", "cut_reason": reason}]
    assert rows(tmp_path, "SELECT COUNT(*) AS n FROM turns WHERE rt_id = ? AND status IN ('pending', 'claimed')",
                rt_id)[0]["n"] == 0
    wait_for(lambda: not processes_with_args(rt_id), timeout=15, what="the workers to stop")
    assert "not running" in _one_line_error(*again) and reason in again[1]
    contents = [m["content"] for m in page["messages"]]
    assert contents[0] == "BRIEFING:\n\n" + briefing_text.strip()
    assert f"ROUNDTABLE CUT: {reason}" in contents
    saved = Path(started["briefing"])
    assert saved.parent == tmp_path / "roundtable-server" and saved.read_text(encoding="utf-8") == briefing_text


async def _ready_digest(client, rt_id):
    digest = await ok(client, "roundtable_digest", rt_id=rt_id)
    return digest if digest["ready"] else None


def test_bad_input_comes_back_as_one_line_tool_errors(tmp_path):
    briefing = _workspace_briefing(tmp_path)

    async def scenario():
        async with session(rt_env(tmp_path)) as client:
            results = {
                "no roundtables": await call(client, "roundtable_status"),
                "no digest": await call(client, "roundtable_digest"),
                "bad id": await call(client, "roundtable_transcript", rt_id="../../etc/passwd"),
                "unknown id": await call(client, "roundtable_digest", rt_id="deadbeef"),
                "cut unknown": await call(client, "roundtable_cut", rt_id="deadbeef", reason="x"),
                "missing briefing": await call(client, "roundtable_start", topic="t", briefing="nope.md"),
                "empty topic": await call(client, "roundtable_start", topic="  ", briefing=briefing),
                "unknown worker": await call(client, "roundtable_start", topic="t", briefing=briefing,
                                             workers=["elena", "zed"]),
                "too many rounds": await call(client, "roundtable_start", topic="t", briefing=briefing,
                                              max_rounds=999),
                "bad limit": await call(client, "roundtable_list", limit=0),
            }
            listed = await ok(client, "roundtable_list")
            return results, listed

    results, listed = anyio.run(scenario)
    expected = {
        "no roundtables": "no roundtables yet",
        "no digest": "no roundtables yet",
        "bad id": "not a roundtable id",
        "unknown id": "no roundtable with id deadbeef",
        "cut unknown": "no roundtable with id deadbeef",
        "missing briefing": "briefing not found: nope.md",
        "empty topic": "topic must not be empty",
        "unknown worker": "unknown worker 'zed'",
        "too many rounds": "--max-rounds must be between 1 and",
        "bad limit": "limit must be between 1 and",
    }
    for key, needle in expected.items():
        assert needle in _one_line_error(*results[key]), (key, results[key])
    # a refused start leaves no roundtable behind
    assert listed == {"roundtables": []}

"""MCP roundtable_say and roundtable_resume over the REAL mcp client (stdio), offline backend."""

from __future__ import annotations

import signal

import pytest
from tests.helpers.roundtable_run import (
    processes_with_args,
    roundtable_args,
    rows,
    rt_env,
    start_cli,
    wait_for,
)

pytest.importorskip("mcp", reason="the optional `mcp` extra is not installed (pip install -e '.[mcp]')")

import anyio  # noqa: E402 - installed with mcp
from tests.helpers.mcp_client import call, ok, session  # noqa: E402

pytestmark = pytest.mark.e2e


def test_say_reaches_a_live_roundtable_and_bad_names_are_tool_errors(tmp_path):
    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="150")
    proc = start_cli(roundtable_args("adopt kafka?", "--workers", "elena,marcus", "--max-rounds", "2",
                                     "--skip-post"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM turns"), what="a first turn")
        rt_id = rows(tmp_path, "SELECT id FROM roundtables")[0]["id"]

        async def scenario():
            async with session(rt_env(tmp_path)) as client:
                posted = await ok(client, "roundtable_say", rt_id=rt_id, name="priya", text="we tried Kafka")
                refused = await call(client, "roundtable_say", rt_id=rt_id, name="judge", text="trust me")
                return posted, refused

        posted, (is_error, text) = anyio.run(scenario)
        assert posted["rt_id"] == rt_id and posted["name"] == "priya"
        assert is_error and "agent or engine name" in text and "\n" not in text.strip()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert rows(tmp_path, "SELECT agent FROM messages WHERE kind = 'human'") == [{"agent": "priya"}]


def test_resume_continues_a_roundtable_whose_runner_was_killed(tmp_path):
    env = rt_env(tmp_path, AMATELIER_OFFLINE_DELAY_MS="100")
    proc = start_cli(roundtable_args("adopt kafka?", "--workers", "elena,marcus", "--max-rounds", "2",
                                     "--budget", "1", "--skip-post"), env)
    try:
        wait_for(lambda: rows(tmp_path, "SELECT 1 FROM turns WHERE phase = 'REBUTTAL' AND status = 'done'"),
                 what="a rebuttal", timeout=90)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    rt_id = rows(tmp_path, "SELECT id FROM roundtables")[0]["id"]
    wait_for(lambda: not processes_with_args("amatelier.engine.worker", rt_id), what="workers to exit")

    async def scenario():
        async with session(rt_env(tmp_path)) as client:
            resumed = await ok(client, "roundtable_resume", rt_id=rt_id)
            again = await call(client, "roundtable_resume", rt_id=rt_id)
            return resumed, again

    resumed, (is_error, text) = anyio.run(scenario)
    assert resumed["rt_id"] == rt_id and resumed["status"] == "open"
    assert is_error and "still running" in text
    wait_for(lambda: rows(tmp_path, "SELECT 1 FROM roundtables WHERE id = ? AND status = 'closed'", rt_id),
             what="the resumed roundtable to finish", timeout=120)

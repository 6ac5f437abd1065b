"""`roundtable_search` over the real MCP client: ranked hits, and a bad query as a one-line tool error."""

from __future__ import annotations

import json

import pytest
from tests.helpers.roundtable_run import roundtable_args, rt_env, run_cli

pytest.importorskip("mcp", reason="the optional `mcp` extra is not installed (pip install -e '.[mcp]')")

import anyio  # noqa: E402 - installed with mcp
from tests.helpers.mcp_client import call, ok, session  # noqa: E402

pytestmark = pytest.mark.e2e


def test_search_through_mcp(tmp_path) -> None:
    env = rt_env(tmp_path)
    made = run_cli(roundtable_args("adopt Kafka for events?", "--workers", "elena,marcus", "--max-rounds", "1",
                                   "--skip-post"), env, timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    rt_id = json.loads(made.stdout)["rt_id"]

    async def scenario():
        async with session(env) as client:
            found = await ok(client, "roundtable_search", query="kafka", limit=3)
            topic = await ok(client, "roundtable_search", query="kafka", kind="topic", rt_id=rt_id)
            bad = await call(client, "roundtable_search", query="AND OR")
            bad_rt = await call(client, "roundtable_search", query="kafka", rt_id="../etc")
            return found, topic, bad, bad_rt

    found, topic, bad, bad_rt = anyio.run(scenario)
    assert found["results"][0]["rt_id"] == rt_id and len(found["results"]) <= 3
    assert found["results"][0]["open_with"] == f"amatelier export {rt_id}"
    assert [h["kind"] for h in topic["results"]] == ["topic"]
    for is_error, text in (bad, bad_rt):
        assert is_error and "\n" not in str(text).strip() and "Traceback" not in str(text)
    assert "not a valid search query" in str(bad[1])

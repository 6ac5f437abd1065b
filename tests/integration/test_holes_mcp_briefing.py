"""roundtable_start never reads a host file: the REAL mcp client over stdio, a real server.

From MCP a briefing is inline text or a file inside `<user data>/roundtable-server/`
reached without `..`, without a symlink leading out, and not a dot-file. Anything else is
an isError result naming the rule, and no roundtable (nor a saved briefing) is created.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.roundtable_run import BRIEFING, processes_with_args, rows, rt_env, wait_for

pytest.importorskip("mcp", reason="the optional `mcp` extra is not installed (pip install -e '.[mcp]')")

import anyio  # noqa: E402 - installed with mcp
from tests.helpers.mcp_client import call, ok, session  # noqa: E402

pytestmark = pytest.mark.e2e

SECRET = "root:x:0:0:TOP-SECRET-MARKER"


def _refused(result: tuple[bool, object], rule: str) -> None:
    is_error, text = result
    assert is_error, f"expected isError, got {text!r}"
    assert isinstance(text, str) and "Traceback" not in text and "\n" not in text.strip()
    assert rule in text, text
    assert SECRET not in text


def test_host_files_are_refused_and_briefing_dir_files_still_start(tmp_path):
    workspace = tmp_path / "ws"
    briefing_dir = workspace / "roundtable-server"
    briefing_dir.mkdir(parents=True)
    outside = tmp_path / "outside.md"
    outside.write_text(f"# Objective\n\n{SECRET}\n", encoding="utf-8")
    (briefing_dir / "escape.md").symlink_to(outside)
    (briefing_dir / ".env").write_text(f"KEY={SECRET}\n", encoding="utf-8")
    (briefing_dir / "hello.md").write_text(BRIEFING.read_text(encoding="utf-8"), encoding="utf-8")
    small = {"workers": ["elena", "marcus"], "max_rounds": 1, "budget": 0, "skip_post": True}

    async def scenario():
        async with session(rt_env(workspace)) as client:
            refused = {
                "absolute": await call(client, "roundtable_start", topic="t", briefing="/etc/passwd", **small),
                "dotdot": await call(client, "roundtable_start", topic="t",
                                     briefing="../../../../etc/passwd", **small),
                "symlink": await call(client, "roundtable_start", topic="t", briefing="escape.md", **small),
                "dotfile": await call(client, "roundtable_start", topic="t", briefing=".env", **small),
                "outside absolute": await call(client, "roundtable_start", topic="t", briefing=str(outside),
                                               **small),
            }
            listed_after_refusals = await ok(client, "roundtable_list")
            saved_after_refusals = list(briefing_dir.glob("mcp-*.md"))
            inline = await ok(client, "roundtable_start", topic="inline",
                              briefing="# Objective\n\nShould billing own its database?\n", **small)
            from_dir = await ok(client, "roundtable_start", topic="from the dir", briefing="hello.md", **small)
            return refused, listed_after_refusals, saved_after_refusals, inline, from_dir

    refused, listed, saved, inline, from_dir = anyio.run(scenario)
    _refused(refused["absolute"], "absolute path")
    _refused(refused["dotdot"], "contains '..'")
    _refused(refused["symlink"], "symlink leading out of the briefing dir")
    _refused(refused["dotfile"], "dot-file")
    _refused(refused["outside absolute"], "absolute path")
    assert listed == {"roundtables": []}
    assert saved == []  # nothing was saved as an inline briefing

    assert Path(inline["briefing"]).parent == briefing_dir
    assert Path(from_dir["briefing"]) == (briefing_dir / "hello.md").resolve()
    for started in (inline, from_dir):
        wait_for(lambda rt_id=started["rt_id"]: not processes_with_args(rt_id), timeout=120,
                 what="the roundtable to finish")
    briefings = rows(workspace, "SELECT content FROM messages WHERE kind = 'briefing' ORDER BY id")
    assert len(briefings) == 2
    assert "Should billing own its database?" in briefings[0]["content"]
    assert "hello" in briefings[1]["content"].lower()
    everything = " ".join(r["content"] for r in rows(workspace, "SELECT content FROM messages"))
    assert SECRET not in everything and "root:x:0:0" not in everything

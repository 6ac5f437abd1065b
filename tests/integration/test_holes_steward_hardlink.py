"""Must show: a hard link matching a registered glob is refused, and no byte of its target
reaches the chat database or the digest.

A whole roundtable through the real anthropic SDK pointed at a fake server: in the research
window each agent asks the Steward to read `docs/hard.md` (a hard link to a secret outside the
launch directory that `docs/*.md` matches), to grep the glob, and to list the files.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from tests.helpers.backends_config import FAST_RETRY
from tests.helpers.fake_llm_servers import FakeAnthropic, RecordedRequest, Reply
from tests.helpers.roundtable_run import rt_env, write_config
from tests.helpers.ux_scripted_replies import anthropic_reply

pytestmark = [pytest.mark.e2e, pytest.mark.wire]

SECRET = "HARDLINK-SECRET-7f3a: the production root password"
ASKS = ("[[request: read docs/hard.md]]\n[[request: grep SECRET in docs/*.md]]\n"
        "[[request: list files]]")


def _research_asks(server: FakeAnthropic):
    base = anthropic_reply(server)

    def answer(request: RecordedRequest) -> Reply:
        reply = base(request)
        if "PHASE: RESEARCH" in request.user_text() and isinstance(reply.body, dict):
            reply.body["content"] = [{"type": "text", "text": "I want the facts first.\n" + ASKS}]
        return reply

    return answer


def test_hard_link_target_never_reaches_the_chat_or_the_digest(tmp_path):
    outer = tmp_path / "outer"
    launch = outer / "project"
    (launch / "docs").mkdir(parents=True)
    (launch / "docs" / "plan.md").write_text("# Plan\nsplit by data ownership\n", encoding="utf-8")
    secret = outer / "secret.txt"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    os.link(secret, launch / "docs" / "hard.md")
    briefing = tmp_path / "briefing.md"
    briefing.write_text("# Briefing\n\n## Objective\nSplit the monolith?\n\n"
                        "## Steward-Registered Files\n- `docs/*.md` — design notes\n", encoding="utf-8")
    workspace = tmp_path / "ws"
    with FakeAnthropic() as server:
        server.default = _research_asks(server)
        write_config(workspace, {"llm": {"retry": FAST_RETRY}})
        env = rt_env(workspace, AMATELIER_MODE="anthropic-sdk", ANTHROPIC_API_KEY="sk-ant-fake",
                     ANTHROPIC_BASE_URL=server.url)
        result = subprocess.run(
            [sys.executable, "-m", "amatelier", "roundtable", "--topic", "split?", "--briefing", str(briefing),
             "--workers", "elena,marcus", "--max-rounds", "1", "--budget", "1", "--skip-post"],
            cwd=launch, env=env, capture_output=True, text=True, timeout=300)
        sent = [r.body.decode("utf-8", "replace") for r in server.api_requests()]

    assert result.returncode == 0, result.stderr[-2000:]
    digest = json.loads(result.stdout)
    log = digest["steward_log"]
    reads = [e for e in log if e["request"] == "read docs/hard.md"]
    assert len(reads) == 2 and all(e["status"] == "out_of_scope" for e in reads), log
    assert all("hard link" in e["output"] for e in reads)
    assert {e["status"] for e in log if e["request"].startswith("grep")} == {"not_found"}
    marker = SECRET.split(":")[0]
    assert marker not in result.stdout and marker not in result.stderr
    digest_file = workspace / "roundtable-server" / f"digest-{digest['rt_id']}.json"
    assert marker not in digest_file.read_text(encoding="utf-8")
    conn = sqlite3.connect(workspace / "roundtable-server" / "roundtable.db")
    try:
        for table in ("messages", "llm_calls"):
            for row in conn.execute(f"SELECT * FROM {table}"):
                assert marker not in " ".join(str(v) for v in row), (table, row)
    finally:
        conn.close()
    assert not any(marker in body for body in sent)  # nor did it go to the model provider

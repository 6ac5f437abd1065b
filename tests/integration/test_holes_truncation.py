"""Must show: a 200 KB briefing (and a long topic) are cut in every prompt, and the run says so.

The warning is printed at the start (stderr) and kept in the digest (`warnings`); every turn's
prompt says where it stopped and how to read the rest, and an agent asking the Steward for
`lines 400-402 of briefing` gets those lines. A briefing that registers a missing file is
named at the start too (`steward_missing`).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tests.helpers.backends_config import FAST_RETRY
from tests.helpers.fake_llm_servers import FakeAnthropic, RecordedRequest, Reply
from tests.helpers.roundtable_run import messages, rt_env, write_config
from tests.helpers.schemas import assert_valid
from tests.helpers.ux_scripted_replies import anthropic_reply, turn_agent

pytestmark = [pytest.mark.e2e, pytest.mark.wire]


def _big_briefing(path):
    lines = ["# Briefing", "", "## Objective", "Decide whether to split the monolith.", "",
             "## Steward-Registered Files", "- `metrics.json` — p95 latencies", "", "## Context"]
    lines += [f"fact {n:04d}: the service handles {n} requests per second at peak" for n in range(1, 3200)]
    text = "\n".join(lines) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def _asks_for_line_400(server: FakeAnthropic):
    base = anthropic_reply(server)

    def answer(request: RecordedRequest) -> Reply:
        reply = base(request)
        text = request.user_text()
        if turn_agent(request) == "elena" and "PHASE: SPEAK" in text and isinstance(reply.body, dict):
            reply.body["content"] = [{"type": "text", "text": "Check the peak numbers.\n"
                                                              "[[request: lines 400-402 of briefing]]"}]
        return reply

    return answer


def test_a_200kb_briefing_is_announced_cut_and_readable_through_the_steward(tmp_path):
    briefing = tmp_path / "big-briefing.md"
    text = _big_briefing(briefing)
    assert len(text.encode()) > 200_000
    topic = "Should we split the monolith? " + "context " * 60
    launch = tmp_path / "project"
    launch.mkdir()
    with FakeAnthropic() as server:
        server.default = _asks_for_line_400(server)
        write_config(tmp_path / "ws", {"llm": {"retry": FAST_RETRY}})
        env = rt_env(tmp_path / "ws", AMATELIER_MODE="anthropic-sdk", ANTHROPIC_API_KEY="sk-ant-fake",
                     ANTHROPIC_BASE_URL=server.url)
        result = subprocess.run(
            [sys.executable, "-m", "amatelier", "roundtable", "--topic", topic, "--briefing", str(briefing),
             "--workers", "elena,marcus", "--max-rounds", "1", "--budget", "1", "--skip-post"],
            cwd=launch, env=env, capture_output=True, text=True, timeout=300)
        turns = [r.user_text() for r in server.api_requests() if turn_agent(r)]

    assert result.returncode == 0, result.stderr[-2000:]
    stderr = result.stderr.splitlines()
    assert any(line.startswith("amatelier: warning: briefing truncated: it is ") for line in stderr), stderr
    assert any(line.startswith("amatelier: warning: topic truncated: it is ") for line in stderr)
    assert any("metrics.json" in line and "do not exist" in line for line in stderr)
    digest = json.loads(result.stdout)
    warnings = digest["warnings"]
    assert any(w.startswith("briefing truncated") for w in warnings)
    assert any(w.startswith("topic truncated") for w in warnings)
    assert digest["steward_missing"] == ["metrics.json"]
    assert_valid("digest", digest)

    # Every prompt says where the briefing stopped and how to read on; none carries the tail.
    assert turns and all("briefing truncated: this prompt shows lines 1-" in t for t in turns)
    assert all("[[request: lines" in t and "of briefing]]" in t for t in turns)
    assert not any("fact 3199:" in t for t in turns)

    # The Steward read lines 400-402 of the briefing file for elena.
    entries = [e for e in digest["steward_log"] if e["request"] == "lines 400-402 of briefing"
               and e["status"] == "ok"]  # asking again past the Steward budget is denied_budget
    assert entries and all(e["path"] == "briefing" for e in entries)
    expected = text.splitlines()[399]
    assert all(expected in e["output"] for e in entries)
    posted = [m["content"] for m in messages(tmp_path / "ws", digest["rt_id"]) if m["kind"] == "steward"]
    assert any(expected in content for content in posted)

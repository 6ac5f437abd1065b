"""The claude-code Steward with the REAL Claude Code CLI pointed at a fake Anthropic server.

The fake model asks the CLI to Read a file outside the registered set; the Steward's
PreToolUse hook must block it (the tool_result the CLI sends back says out of scope)
before anything reads it, then a registered file is read from the private mirror.
The CLI is installed by scripts/install_claude_cli.sh or named by AMATELIER_TEST_CLAUDE_BIN;
without it these tests skip and say why.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.helpers.backends_claude_cli import needs_cli, point_claude_at
from tests.helpers.fake_llm_servers import (
    FakeAnthropic,
    Reply,
    anthropic_message,
    anthropic_tool_use_block,
)
from tests.helpers.steward_tree import make_tree

from amatelier.steward.claude_cli import run_claude_steward

pytestmark = pytest.mark.wire


def use_fake(monkeypatch: pytest.MonkeyPatch, server: FakeAnthropic, tmp_path: Path) -> None:
    """The CLI talks to `server` with no retries of its own."""
    point_claude_at(monkeypatch, server.base_url, tmp_path / "claude-config", api_key="test-key")
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")


def anthropic_tool_use(name: str, args: dict, use_id: str) -> Reply:
    return Reply.json(anthropic_message(content=[anthropic_tool_use_block(name, args, id=use_id)]))


def anthropic_text(text: str) -> Reply:
    return Reply.json(anthropic_message(text))


def bodies(server: FakeAnthropic) -> list[dict]:
    return [r.json for r in server.api_requests()]


MIRROR_RE = re.compile(r"(/[^\"\s\\]*amatelier-steward-[^/\"\s\\]+/files)")


def mirror_dir(body: dict) -> str:
    found = MIRROR_RE.search(json.dumps(body))
    assert found, "the CLI's request names its working directory"
    return found.group(1)


def tool_results(body: dict) -> list[dict]:
    found = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            found += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return found


def result_text(block: dict) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


@needs_cli
def test_claude_steward_hook_blocks_out_of_scope_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_tree(tmp_path)
    registry = tree.registry("- notes.md\n- docs/*.md")
    secret = str(tree.secret)
    with FakeAnthropic().push(
        anthropic_tool_use("Read", {"file_path": secret}, "toolu_1"),
        lambda request: anthropic_tool_use(
            "Read", {"file_path": mirror_dir(request.json) + "/notes.md"}, "toolu_2"),
        anthropic_text("The retry budget is 4 attempts (notes.md line 2)."),
    ) as server:
        use_fake(monkeypatch, server, tmp_path)
        result = run_claude_steward("what is the retry budget?", registry, model="haiku",
                                    max_budget_usd=1.0, timeout_s=120)
    sent = bodies(server)
    assert len(sent) == 3, [r.path for r in server.requests]
    first = sent[0]
    offered = {t.get("name") for t in first.get("tools", [])}
    assert {"Glob", "Grep", "Read"} <= offered
    assert not {"Bash", "Write", "Edit", "WebFetch"} & offered
    assert "- notes.md" in json.dumps(first) and "- docs/a.md" in json.dumps(first)
    blocked = tool_results(sent[1])
    assert blocked and blocked[-1]["tool_use_id"] == "toolu_1"
    assert "out of scope" in result_text(blocked[-1])
    read = tool_results(sent[2])[-1]
    assert read["tool_use_id"] == "toolu_2" and "retry budget is 4 attempts" in result_text(read)
    assert all("TOP SECRET" not in json.dumps(body) for body in sent)
    assert result.status == "ok", result.output
    assert result.output == "The retry budget is 4 attempts (notes.md line 2)."
    assert result.path == "notes.md"
    assert result.method == "subagent:claude-code"


@needs_cli
def test_claude_steward_refuses_shell_and_searches_outside(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_tree(tmp_path)
    with FakeAnthropic().push(
        anthropic_tool_use("Bash", {"command": f"cat {tree.secret}"}, "toolu_1"),
        anthropic_tool_use("Grep", {"pattern": "SECRET", "path": "/"}, "toolu_2"),
        anthropic_text("I could not find it in the registered files."),
    ) as server:
        use_fake(monkeypatch, server, tmp_path)
        result = run_claude_steward("find the secret", tree.registry("- notes.md"), model="haiku",
                                    max_budget_usd=1.0, timeout_s=120)
    sent = bodies(server)
    assert len(sent) == 3, [r.path for r in server.requests]
    shell = result_text(tool_results(sent[1])[-1])
    grep = result_text(tool_results(sent[2])[-1])
    assert "Bash" in shell and "TOP SECRET" not in shell
    assert "out of scope" in grep
    assert all("TOP SECRET" not in json.dumps(body) for body in sent)
    assert result.status == "out_of_scope"

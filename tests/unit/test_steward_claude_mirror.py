"""The claude -p Steward: mirror of registered files, the PreToolUse scope hook, output parsing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.steward_tree import NOTES, make_tree

from amatelier.steward import claude_cli
from amatelier.steward.cc_hook import decide


@pytest.fixture
def mirror(tmp_path: Path):
    tree = make_tree(tmp_path)
    (tree.launch / "docs" / "leak.md").symlink_to(tree.secret)
    registry = tree.registry(f"- notes.md\n- docs/**/*.md\n- {tree.secret}")
    root = tmp_path / "mirror"
    root.mkdir()
    names = claude_cli.build_mirror(registry, root.resolve(), None)
    return tree, root.resolve(), names


def test_mirror_holds_only_in_scope_copies(mirror) -> None:
    tree, root, names = mirror
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    outside = f"_outside/{str(tree.secret).lstrip('/')}"
    assert files == sorted(["notes.md", "docs/a.md", "docs/sub/b.md", outside])
    assert (root / "notes.md").read_text() == NOTES
    assert not any(p.is_symlink() for p in root.rglob("*"))
    assert names["notes.md"] == "notes.md" and names[outside] == str(tree.secret)
    assert "unregistered.txt" not in names


def event(tool: str, cwd: Path, **tool_input) -> dict:
    return {"hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": tool_input,
            "cwd": str(cwd)}


def test_hook_allows_reads_and_searches_inside_the_mirror(mirror) -> None:
    _, root, _ = mirror
    assert decide(event("Read", root, file_path=str(root / "notes.md")), str(root))[0]
    assert decide(event("Read", root, file_path="docs/a.md"), str(root))[0]
    assert decide(event("Grep", root, pattern="retry"), str(root))[0]
    assert decide(event("Grep", root, pattern="x", path=str(root / "docs")), str(root))[0]
    assert decide(event("Glob", root, pattern="**/*.md"), str(root))[0]


@pytest.mark.parametrize(("tool", "tool_input", "reason"), [
    ("Read", {"file_path": "/etc/passwd"}, "outside"),
    ("Read", {"file_path": "../secret.txt"}, "outside"),
    ("Read", {"file_path": "notes.md\x00"}, "NUL byte"),
    ("Read", {"file_path": "/dev/zero"}, "outside"),
    ("Read", {"file_path": "docs"}, "not a regular file"),
    ("Grep", {"pattern": "SECRET", "path": "/"}, "outside"),
    ("Grep", {"pattern": "x", "glob": "../*.txt"}, "outside the registered files"),
    ("Glob", {"pattern": "/etc/*"}, "outside the registered files"),
    ("Glob", {"pattern": "**/*", "path": ".."}, "outside"),
    ("Glob", {"pattern": "{../../..,x}/etc/*"}, "outside the registered files"),
    ("Glob", {"pattern": "docs/{a,..}/*"}, "outside the registered files"),
    ("Grep", {"pattern": "x", "glob": "{..,docs}/*.txt"}, "outside the registered files"),
    ("Glob", {"pattern": "~/.ssh/*"}, "outside the registered files"),
    ("Glob", {"pattern": "{docs,/etc}/*"}, "outside the registered files"),
    ("Read", {"file_path": 42}, "not a path"),
    ("Bash", {"command": "cat /etc/passwd"}, "not available"),
    ("Write", {"file_path": "x.md", "content": "x"}, "not available"),
])
def test_hook_blocks_everything_else(mirror, tool, tool_input, reason) -> None:
    _, root, _ = mirror
    allowed, _, why = decide(event(tool, root, **tool_input), str(root))
    assert not allowed
    assert reason in why


def test_hook_process_exit_codes_and_audit(mirror, tmp_path: Path) -> None:
    _, root, _ = mirror
    audit = tmp_path / "audit.jsonl"
    cmd = [sys.executable, "-m", "amatelier.steward.cc_hook", str(root), str(audit)]
    ok = subprocess.run(cmd, input=json.dumps(event("Read", root, file_path=str(root / "notes.md"))),
                        capture_output=True, text=True, timeout=60)
    bad = subprocess.run(cmd, input=json.dumps(event("Read", root, file_path="/etc/passwd")),
                         capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0
    assert bad.returncode == 2 and bad.stderr.startswith("out of scope:")
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(d["tool"], d["allowed"]) for d in lines] == [("Read", True), ("Read", False)]


def test_command_line(tmp_path: Path) -> None:
    cmd = claude_cli.build_command("claude", "PROMPT", model="haiku", max_budget_usd=0.5,
                                   settings_path=tmp_path / "s.json")
    assert cmd[:3] == ["claude", "-p", "PROMPT"]
    joined = " ".join(cmd)
    assert "--tools Read,Grep,Glob" in joined and "--allowedTools Read,Grep,Glob" in joined
    assert "--max-budget-usd 0.5" in joined and "--model haiku" in joined
    assert f"--settings {tmp_path / 's.json'}" in joined


def test_parse_stream_and_result(mirror) -> None:
    _, root, names = mirror
    stdout = "\n".join(json.dumps(e) for e in [
        {"type": "system", "subtype": "init"},
        {"type": "assistant", "message": {"content": [
            {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "/etc/passwd"}}]}},
        {"type": "result", "subtype": "success", "is_error": False, "result": "retry is 4",
         "total_cost_usd": 0.01, "usage": {"input_tokens": 10, "output_tokens": 3}},
    ])
    final, uses = claude_cli.parse_stream(stdout)
    assert final["result"] == "retry is 4" and uses[0]["name"] == "Read"
    proc = subprocess.CompletedProcess(["claude"], 0, stdout=stdout, stderr="")
    decisions = [{"tool": "Read", "path": "/etc/passwd", "allowed": False, "reason": "outside"},
                 {"tool": "Read", "path": str(root / "notes.md"), "allowed": True, "reason": ""}]
    result = claude_cli._result_from_run(proc, decisions, names, root, "haiku", "subagent:claude-code", 0.0)
    assert result.status == "ok" and result.path == "notes.md" and result.bytes == len(NOTES)
    assert result.usage[0].cost_usd == 0.01
    refused_only = claude_cli._result_from_run(proc, decisions[:1], names, root, "haiku", "m", 0.0)
    assert refused_only.status == "out_of_scope" and refused_only.path == "/etc/passwd"
    broken = subprocess.CompletedProcess(["claude"], 1, stdout="", stderr="boom")
    assert claude_cli._result_from_run(broken, [], names, root, "haiku", "m", 0.0).status == "error"


def test_missing_cli_is_an_error_result(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(claude_cli, "claude_executable", lambda: None)
    tree = make_tree(tmp_path)
    result = claude_cli.run_claude_steward("why?", tree.registry("- notes.md"), model="haiku",
                                           max_budget_usd=0.1, timeout_s=5)
    assert result.status == "error" and "not installed" in result.output


def test_timeout_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    script = tmp_path / "claude"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n"
                      "if '--help' in sys.argv:\n    print('  --restricted  r')\n    sys.exit(0)\n"
                      "time.sleep(30)\n")
    script.chmod(0o755)
    monkeypatch.setattr(claude_cli, "claude_executable", lambda: str(script))
    tree = make_tree(tmp_path)
    result = claude_cli.run_claude_steward("why?", tree.registry("- notes.md"), model="haiku",
                                           max_budget_usd=0.1, timeout_s=0.5)
    assert result.status == "timeout"


def test_hardening_flags_only_when_the_cli_lists_them() -> None:
    full = "  --restricted   Restricted mode\n  --strict-mcp-config  x\n  --permission-prompts <t>  y\n"
    assert claude_cli.hardening_flags(full) == ["--restricted", "--strict-mcp-config",
                                                "--permission-prompts", "none"]
    assert claude_cli.hardening_flags("  --restricted-x  other\n  --bare\n") == []
    assert claude_cli.hardening_flags("") == []

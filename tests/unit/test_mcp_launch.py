"""Pure pieces behind the MCP tools: briefing arguments, the runner command line, error lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from amatelier.mcp.launch import (
    StartRequest,
    check_request,
    clean_reason,
    failure_line,
    looks_like_file_name,
    looks_like_path,
    resolve_briefing,
    runner_command,
)
from amatelier.mcp.tools import ToolFailure, check_rt_id, clamp, one_line, stage


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    cwd, briefings = tmp_path / "project", tmp_path / "ws" / "roundtable-server"
    cwd.mkdir()
    briefings.mkdir(parents=True)
    return cwd, briefings


def test_a_path_relative_to_the_working_directory_is_not_read(dirs):
    cwd, briefings = dirs
    (cwd / "docs").mkdir()
    (cwd / "docs" / "b.md").write_text("# B\n", encoding="utf-8")
    with pytest.raises(ToolFailure, match="briefing not found: docs/b.md"):
        resolve_briefing("docs/b.md", cwd=cwd, briefing_dir=briefings)


def test_briefing_name_under_the_briefing_dir(dirs):
    cwd, briefings = dirs
    (briefings / "b.md").write_text("# from the workspace\n", encoding="utf-8")
    (cwd / "b.md").write_text("# from the project\n", encoding="utf-8")
    assert resolve_briefing("b.md", cwd=cwd, briefing_dir=briefings) == (briefings / "b.md").resolve()
    (briefings / "team").mkdir()
    (briefings / "team" / "c.md").write_text("# C\n", encoding="utf-8")
    assert resolve_briefing("team/c.md", cwd=cwd, briefing_dir=briefings) == (briefings / "team" / "c.md").resolve()


@pytest.mark.parametrize("name, rule", [
    ("/etc/passwd", "absolute path"),
    ("../../../../etc/passwd", "contains '..'"),
    ("team/../../x.md", "contains '..'"),
    ("~/.ssh/id_rsa", "absolute path"),
    (".env", "dot-file"),
    ("team/.secret.md", "dot-file"),
    ("roundtable.db", "not a .md or .txt file"),
    ("logs/runner.log", "not a .md or .txt file"),
])
def test_host_paths_are_refused_naming_the_rule(dirs, name, rule):
    cwd, briefings = dirs
    (briefings / ".env").write_text("KEY=secret\n", encoding="utf-8")
    with pytest.raises(ToolFailure, match=rule) as caught:
        resolve_briefing(name, cwd=cwd, briefing_dir=briefings)
    assert "briefing dir" in str(caught.value)
    assert sorted(p.name for p in briefings.iterdir()) == [".env"]  # nothing saved as inline text


def test_symlink_and_hard_link_out_of_the_briefing_dir_are_refused(dirs, tmp_path):
    cwd, briefings = dirs
    secret = tmp_path / "secret.md"
    secret.write_text("TOP SECRET\n", encoding="utf-8")
    (briefings / "link.md").symlink_to(secret)
    (briefings / "sub").symlink_to(tmp_path)
    os.link(secret, briefings / "hard.md")
    for name, rule in (("link.md", "symlink"), ("sub/secret.md", "symlink"), ("hard.md", "hard link")):
        with pytest.raises(ToolFailure, match=rule):
            resolve_briefing(name, cwd=cwd, briefing_dir=briefings)


def test_a_symlink_inside_the_briefing_dir_is_followed(dirs):
    cwd, briefings = dirs
    (briefings / "real.md").write_text("# R\n", encoding="utf-8")
    (briefings / "alias.md").symlink_to(briefings / "real.md")
    assert resolve_briefing("alias.md", cwd=cwd, briefing_dir=briefings) == (briefings / "real.md").resolve()


def test_a_missing_file_name_is_an_error_not_a_briefing(dirs):
    cwd, briefings = dirs
    with pytest.raises(ToolFailure, match="briefing not found: missing.md"):
        resolve_briefing("missing.md", cwd=cwd, briefing_dir=briefings)
    assert list(briefings.iterdir()) == []


@pytest.mark.parametrize("text", ["# Objective\n\nDecide X.\n", "Should we split the monolith? Two teams, one DB."])
def test_briefing_text_is_saved_as_a_file(dirs, text):
    cwd, briefings = dirs
    path = resolve_briefing(text, cwd=cwd, briefing_dir=briefings)
    assert path.parent == briefings and path.name.startswith("mcp-") and path.suffix == ".md"
    assert path.read_text(encoding="utf-8") == text.strip() + "\n"


def test_empty_briefing_is_refused(dirs):
    cwd, briefings = dirs
    with pytest.raises(ToolFailure, match="briefing must not be empty"):
        resolve_briefing(" \n ", cwd=cwd, briefing_dir=briefings)


def test_path_heuristic():
    assert looks_like_path("/etc/passwd") and looks_like_path(".env") and looks_like_path("a/b")
    assert looks_like_path("brief.md") and looks_like_path("~/x")
    assert not looks_like_path("Should we split the monolith?")
    assert not looks_like_path("Decide A/B testing policy")


def test_file_name_heuristic():
    assert looks_like_file_name("notes/briefing.MD")
    assert looks_like_file_name("a.txt")
    assert not looks_like_file_name("Decide whether to split.md files\nsecond line")
    assert not looks_like_file_name("Should we split the monolith?")


def test_runner_command_carries_every_option():
    request = StartRequest(topic="split?", briefing=Path("/b.md"), workers=["elena", " marcus ", ""],
                           max_rounds=2, budget=0, skip_naomi=True, skip_post=True)
    cmd = runner_command(request, python="py")
    assert cmd == ["py", "-m", "amatelier", "roundtable", "--topic", "split?", "--briefing", "/b.md",
                   "--summary", "--workers", "elena,marcus", "--max-rounds", "2", "--budget", "0",
                   "--skip-naomi", "--skip-post"]
    bare = runner_command(StartRequest(topic="t", briefing=Path("/b.md")), python="py")
    assert bare == ["py", "-m", "amatelier", "roundtable", "--topic", "t", "--briefing", "/b.md", "--summary"]


def test_check_request_refuses_empty_topic_and_workers():
    with pytest.raises(ToolFailure, match="topic must not be empty"):
        check_request(StartRequest(topic=" ", briefing=Path("/b.md")))
    with pytest.raises(ToolFailure, match="workers is empty"):
        check_request(StartRequest(topic="t", briefing=Path("/b.md"), workers=["", " "]))
    check_request(StartRequest(topic="t", briefing=Path("/b.md"), workers=None))


def test_failure_line_prefers_the_cli_error(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("amatelier: warning: naomi skipped\namatelier: error: unknown worker 'zed' (known: a)\n",
                   encoding="utf-8")
    assert failure_line(log, 2) == "unknown worker 'zed' (known: a)"
    log.write_text("Segmentation fault\n", encoding="utf-8")
    assert failure_line(log, -11).startswith("the roundtable exited with code -11 before it opened: Segmentation fault")
    assert "no output" in failure_line(tmp_path / "absent.log", 1)


def test_reasons_ids_and_limits():
    assert clean_reason("  user\n changed   their mind ") == "user changed their mind"
    assert len(clean_reason("x" * 2000)) == 500
    with pytest.raises(ToolFailure, match="reason must not be empty"):
        clean_reason("\n ")
    assert check_rt_id(" 1f3a9c0e ") == "1f3a9c0e"
    for bad in ("../x", "a/b", "", "x" * 65, "a b"):
        with pytest.raises(ToolFailure, match="not a roundtable id"):
            check_rt_id(bad)
    assert clamp(None, 50, 1, 500, "limit") == 50
    assert clamp(500, 50, 1, 500, "limit") == 500
    with pytest.raises(ToolFailure, match="limit must be between 1 and 500"):
        clamp(501, 50, 1, 500, "limit")
    assert one_line("a\n  b\tc") == "a b c"


@pytest.mark.parametrize(("status", "alive", "ready", "expected"), [
    ("open", True, False, "debating"),
    ("open", None, False, "debating"),
    ("open", False, False, "orphaned"),
    ("closed", True, True, "finishing"),
    ("closed", True, False, "finishing"),
    ("closed", False, True, "done"),
    ("cut", False, False, "done"),
    ("closed", None, False, "finishing"),
    ("closed", None, True, "done"),
])
def test_stage(status, alive, ready, expected):
    assert stage({"status": status}, alive, ready) == expected


def test_failure_line_keeps_the_guidance_after_the_error(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("amatelier: error: no LLM backend available: nothing detected\nenable one of these modes:\n"
                   "  - offline: export AMATELIER_MODE=offline\n", encoding="utf-8")
    line = failure_line(log, 2)
    assert "\n" not in line
    assert line == ("no LLM backend available: nothing detected enable one of these modes: "
                    "- offline: export AMATELIER_MODE=offline")

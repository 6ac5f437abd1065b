"""The Steward names missing registered files up front and reads the briefing file as `briefing`."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.steward_tree import make_tree

from amatelier.steward.lookups import try_deterministic
from amatelier.steward.missing import missing_entries, missing_warning
from amatelier.steward.registry import load_registered_files
from amatelier.steward.session import Steward


@pytest.fixture
def tree(tmp_path: Path):
    return make_tree(tmp_path)


def test_missing_files_and_empty_globs_are_listed_as_written(tree) -> None:
    registry = tree.registry("- notes.md\n- `metrics.json` — p95s\n- docs/*.md\n- logs/*.log\n- gone/a.txt")
    assert missing_entries(registry) == ["metrics.json", "gone/a.txt", "logs/*.log"]
    line = missing_warning(missing_entries(registry))
    assert line.startswith("the briefing registers 3 file(s)") and "metrics.json" in line and "\n" not in line
    assert missing_entries(tree.registry("- notes.md\n- docs/*.md")) == []
    assert missing_warning([]) == ""


def _long_briefing(tmp_path: Path) -> Path:
    path = tmp_path / "long-briefing.md"
    path.write_text("\n".join(f"line {n}: fact number {n}" for n in range(1, 1001)) + "\n", encoding="utf-8")
    return path


def test_the_briefing_is_readable_by_name_wherever_it_lives(tree, tmp_path) -> None:
    briefing = _long_briefing(tmp_path)
    registry = tree.registry("- notes.md").with_briefing(briefing)
    result = try_deterministic("lines 400-402 of briefing", registry)
    assert result.status == "ok" and result.path == "briefing"
    assert result.output.splitlines()[1:] == ["400: line 400: fact number 400", "401: line 401: fact number 401",
                                              "402: line 402: fact number 402"]
    assert str(tmp_path) not in result.output
    assert "- briefing (" in try_deterministic("list files", registry).output
    # other files beside the briefing stay out of scope
    (tmp_path / "beside.md").write_text("no\n", encoding="utf-8")
    assert try_deterministic(f"read {tmp_path / 'beside.md'}", registry).status == "out_of_scope"


def test_without_a_briefing_the_name_is_just_a_missing_file(tree) -> None:
    assert try_deterministic("lines 1-2 of briefing", tree.registry("- notes.md")).status == "out_of_scope"


def test_the_briefing_alone_answers_lookups_but_does_not_open_a_research_window(tmp_path) -> None:
    briefing = _long_briefing(tmp_path)
    registry = load_registered_files(briefing.read_text(encoding="utf-8"), tmp_path).with_briefing(briefing)
    steward = Steward(registry, {}, "offline", agents=["elena"])
    assert not steward.enabled
    [task] = steward.submit("elena", ["lines 999-1000 of briefing"], round_num=1, phase="SPEAK")
    result = task.wait(10)
    assert result.status == "ok" and "999: line 999" in result.output
    [refused] = steward.submit("elena", ["read notes.md"], round_num=1, phase="SPEAK")
    result = refused.wait(10)
    assert result.status == "out_of_scope" and "no files are registered" in result.output
    assert "lines A-B of briefing" in result.output

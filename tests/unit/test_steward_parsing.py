"""[[request:]] tags and the briefing's Steward-Registered Files section."""

from __future__ import annotations

from pathlib import Path

from amatelier.steward.registry import load_registered_files
from amatelier.steward.requests import parse_requests, strip_requests


def test_parse_requests_finds_each_tag_in_order() -> None:
    text = ("I think retries matter. [[request: lines 1-3 of notes.md]] and also\n"
            "[[ REQUEST:  key llm.mode\n in config.json ]] done. [[request: ]]")
    assert parse_requests(text) == ["lines 1-3 of notes.md", "key llm.mode in config.json"]


def test_parse_requests_ignores_text_without_tags() -> None:
    assert parse_requests("no tags [request: x] [[other: y]]") == []
    assert parse_requests("") == []


def test_parse_requests_caps_a_long_payload() -> None:
    assert len(parse_requests("[[request: " + "x" * 2000 + "]]")[0]) == 500


def test_strip_requests_removes_tags_and_leftover_blank_lines() -> None:
    text = "Position A.\n\n[[request: read notes.md]]\n\n\n\nMore. [[request: list files]]"
    assert strip_requests(text) == "Position A.\n\nMore."


def brief(section: str) -> str:
    return f"# Topic\n\n## Context\nsome text\n\n{section}\n\n## Success criteria\n- file.md\n"


def test_section_bullets_backticks_descriptions_and_absolute(tmp_path: Path) -> None:
    section = ("## Steward-Registered Files\n"
               "- `notes.md` — what we decided\n"
               "* config.json - the runtime config\n"
               "1. docs/*.md (all docs)\n"
               "src/app.py\n"
               f"- {tmp_path}/abs.txt\n"
               "- notes.md\n")
    registry = load_registered_files(brief(section), tmp_path)
    assert registry.declared and registry.enabled
    assert [f.raw for f in registry.files] == ["notes.md", "config.json", "src/app.py",
                                               f"{tmp_path}/abs.txt"]
    assert registry.files[0].path == tmp_path.resolve() / "notes.md"
    assert registry.globs == ("docs/*.md",)
    # The next heading ends the section: file.md under Success criteria is not registered.
    assert all(f.raw != "file.md" for f in registry.files)


def test_relative_entries_resolve_against_the_launch_dir(tmp_path: Path) -> None:
    launch = tmp_path / "a" / "b"
    launch.mkdir(parents=True)
    registry = load_registered_files(brief("## Steward-Registered Files\n- x/y.md"), launch)
    assert registry.files[0].path == launch.resolve() / "x" / "y.md"


def test_none_section_disables_the_steward(tmp_path: Path) -> None:
    for section in ("## Steward-Registered Files (none — this briefing uses no external file references)",
                    "## Steward-Registered Files\n(none)\n",
                    "## Steward-Registered Files\n- none\n",
                    "## Steward-Registered Files\n\n"):
        registry = load_registered_files(brief(section), tmp_path)
        assert registry.declared
        assert not registry.enabled, section


def test_missing_section_disables_the_steward(tmp_path: Path) -> None:
    registry = load_registered_files("# Topic\n\nNo files here.\n", tmp_path)
    assert not registry.declared and not registry.enabled


def test_heading_text_on_the_same_line_counts(tmp_path: Path) -> None:
    registry = load_registered_files("## Steward-Registered Files: notes.md\n", tmp_path)
    assert [f.raw for f in registry.files] == ["notes.md"]


def test_escaping_globs_are_rejected_with_reasons(tmp_path: Path) -> None:
    registry = load_registered_files(
        brief("## Steward-Registered Files\n- ../**\n- /etc/*.conf\n- a/../../*.md\n- ok/*.md"),
        tmp_path)
    assert registry.globs == ("ok/*.md",)
    assert {entry for entry, _ in registry.rejected} == {"../**", "/etc/*.conf", "a/../../*.md"}
    assert registry.entries == ("ok/*.md",)

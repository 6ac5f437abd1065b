"""The deterministic request grammar and its answers (no model involved)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.steward_tree import make_tree

from amatelier.steward.lookups import Lookup, parse_lookup, try_deterministic


@pytest.fixture
def registry(tmp_path: Path):
    tree = make_tree(tmp_path)
    return tree.registry("- notes.md\n- config.json\n- settings.toml\n- docs/**/*.md\n- gone.md")


@pytest.mark.parametrize(("request_text", "expected"), [
    ("list files", Lookup("list")),
    ("Which files are registered?", Lookup("list")),
    ("read notes.md", Lookup("read", path="notes.md")),
    ("notes.md", Lookup("read", path="notes.md")),
    ("lines 2-3 of notes.md", Lookup("lines", path="notes.md", start=2, end=3)),
    ("line 7 of `my notes.md`", Lookup("lines", path="my notes.md", start=7, end=7)),
    ("notes.md lines 2 to 9", Lookup("lines", path="notes.md", start=2, end=9)),
    ("notes.md:4-5", Lookup("lines", path="notes.md", start=4, end=5)),
    ("config.json: llm.mode", Lookup("key", path="config.json", key="llm.mode")),
    ("key path a.b.0 in data.json", Lookup("key", path="data.json", key="a.b.0")),
    ("grep TODO in src/*.py", Lookup("grep", path="src/*.py", pattern="TODO")),
    ('grep "two words" in notes.md', Lookup("grep", path="notes.md", pattern="two words")),
    ('search for "retry"', Lookup("grep", pattern="retry")),
])
def test_grammar(request_text: str, expected: Lookup) -> None:
    assert parse_lookup(request_text) == expected


@pytest.mark.parametrize("request_text", [
    "find the default timeout in config.json",
    "what does the config say about retries?",
    "compare notes.md with docs/a.md",
])
def test_free_form_questions_need_a_model(request_text: str) -> None:
    assert parse_lookup(request_text) is None


def test_read_whole_file(registry) -> None:
    result = try_deterministic("read notes.md", registry)
    assert result.status == "ok" and result.path == "notes.md"
    assert "retry budget is 4 attempts" in result.output
    assert result.bytes == len("alpha line\nretry budget is 4 attempts\ngamma line\n")
    assert result.method == "deterministic:read"


def test_line_range_is_numbered(registry) -> None:
    result = try_deterministic("lines 2-3 of notes.md", registry)
    assert result.status == "ok"
    assert result.output.splitlines()[1:] == ["2: retry budget is 4 attempts", "3: gamma line"]


def test_line_range_past_the_end_is_not_found(registry) -> None:
    result = try_deterministic("lines 40-50 of notes.md", registry)
    assert result.status == "not_found" and "only 3 lines" in result.output


def test_json_key_path_with_list_index(registry) -> None:
    assert try_deterministic("config.json: llm.retry.max_attempts", registry).output.endswith("= 4")
    assert try_deterministic("key workers[1].name in config.json", registry).output.endswith('= "x"')
    assert try_deterministic("key workers.0 in config.json", registry).output.endswith('= "elena"')


def test_missing_key_lists_what_is_there(registry) -> None:
    result = try_deterministic("config.json: llm.nope", registry)
    assert result.status == "not_found"
    assert "at llm there is: mode, retry" in result.output


def test_toml_key_path(registry) -> None:
    result = try_deterministic("key server.port in settings.toml", registry)
    assert result.status == "ok" and result.output.endswith("= 8080")


def test_key_in_non_json_file_is_an_error(registry) -> None:
    assert try_deterministic("key a.b in notes.md", registry).status == "error"


def test_grep_across_all_registered_files(registry) -> None:
    result = try_deterministic("grep RETRY", registry)
    assert result.status == "ok"
    assert "notes.md:2: retry budget is 4 attempts" in result.output
    assert "docs/a.md:2: the retry policy is exponential" in result.output
    assert "unregistered" not in result.output


def test_grep_in_a_glob_and_no_match(registry) -> None:
    assert "docs/a.md:2:" in try_deterministic("grep policy in docs/*.md", registry).output
    missing = try_deterministic("grep zebra in notes.md", registry)
    assert missing.status == "not_found"


def test_grep_glob_reaching_outside_is_out_of_scope(registry) -> None:
    result = try_deterministic("grep SECRET in ../*.txt", registry)
    assert result.status == "out_of_scope"
    assert "TOP SECRET" not in result.output


def test_listing_shows_registered_files_and_unavailable_entries(registry) -> None:
    result = try_deterministic("list files", registry)
    lines = result.output.splitlines()
    assert lines[0] == "Registered files (5):"
    assert "- notes.md (49 bytes)" in lines
    assert "- docs/sub/b.md (17 bytes)" in lines
    assert any(line.startswith("- gone.md (unavailable: no such file") for line in lines)
    assert not any("unregistered" in line or ".env" in line for line in lines)


def test_out_of_scope_and_missing_reads(registry) -> None:
    outside = try_deterministic("read ../secret.txt", registry)
    assert outside.status == "out_of_scope" and "TOP SECRET" not in outside.output
    assert outside.path == "../secret.txt" and outside.bytes == 0
    assert try_deterministic("read unregistered.txt", registry).status == "out_of_scope"
    assert try_deterministic("read gone.md", registry).status == "not_found"


def test_output_is_capped(registry, tmp_path: Path) -> None:
    result = try_deterministic("read notes.md", registry, max_output_chars=20)
    assert result.output.endswith("[truncated at 20 characters]")


def test_binary_file_is_not_dumped(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    (tree.launch / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    result = try_deterministic("read blob.bin", tree.registry("- blob.bin"))
    assert result.status == "error" and "binary" in result.output


def test_glob_listing_with_a_pattern_reaching_outside_is_out_of_scope(registry) -> None:
    from amatelier.steward.tools import ToolBox

    box = ToolBox(registry)
    for pattern in ("../*", "../*.txt", "/etc/*", "docs/../../*"):
        text, is_error = box.run("glob", {"pattern": pattern})
        assert is_error and text.startswith("out of scope:"), (pattern, text)
    listed, is_error = box.run("glob", {"pattern": "./docs/*.md"})
    size = (registry.launch_dir / "docs" / "a.md").stat().st_size
    assert not is_error and listed.splitlines()[1:] == [f"- docs/a.md ({size} bytes)"]
    assert [c.status for c in box.calls] == ["out_of_scope"] * 4 + ["ok"]

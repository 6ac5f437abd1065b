"""Suites load only when every case is well-formed and every briefing stays inside the folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from amatelier.benchmarks.suite import SuiteError, freeze, load_suite

REPO = Path(__file__).resolve().parents[2]
STARTER = REPO / "examples" / "suites" / "starter"


def make_suite(root: Path, cases: list[dict], **extra) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "briefings").mkdir(exist_ok=True)
    (root / "briefings" / "b.md").write_text("# Briefing\n\nDecide.\n", encoding="utf-8")
    data = {"name": "t", "version": "1", "cases": cases, **extra}
    (root / "suite.json").write_text(json.dumps(data), encoding="utf-8")
    return root


def case(**over) -> dict:
    return {"id": "c1", "topic": "split?", "briefing": "briefings/b.md", **over}


def test_starter_suite_has_six_real_cases_of_every_kind() -> None:
    suite = load_suite(STARTER)
    assert suite.name == "starter" and len(suite.cases) >= 6
    assert {"architecture", "process", "hiring", "product"} <= {c.kind for c in suite.cases}
    for item in suite.cases:
        text = suite.briefings[item.briefing]
        assert "## Objective" in text and "## Context" in text and len(text) > 600, item.id
    # each case has its own briefing: six different decisions, not one text six times
    assert len(set(suite.briefings.values())) == len(suite.cases)


def test_suite_json_path_works_like_its_folder(tmp_path: Path) -> None:
    root = make_suite(tmp_path / "s", [case(workers=["elena", "marcus"], rounds=2, kind="process")])
    by_folder, by_file = load_suite(root), load_suite(root / "suite.json")
    assert by_folder.cases == by_file.cases and by_folder.sha256 == by_file.sha256
    assert by_folder.cases[0].workers == ("elena", "marcus") and by_folder.cases[0].rounds == 2


def test_the_hash_changes_when_a_briefing_changes(tmp_path: Path) -> None:
    root = make_suite(tmp_path / "s", [case()])
    before = load_suite(root).sha256
    (root / "briefings" / "b.md").write_text("# Briefing\n\nDecide differently.\n", encoding="utf-8")
    assert load_suite(root).sha256 != before


@pytest.mark.parametrize("bad, words", [
    (case(briefing="../outside.md"), "relative path inside"),
    (case(briefing="/etc/passwd"), "relative path inside"),
    (case(briefing="briefings/missing.md"), "not found"),
    (case(id="../../x"), "slug"),
    (case(id="Has Space"), "slug"),
    (case(id="a.b"), "slug"),
    (case(topic=""), "'topic'"),
    (case(rounds=0), "'rounds'"),
    (case(rounds=True), "'rounds'"),
    (case(rounds=99), "'rounds'"),
    (case(workers=[]), "'workers'"),
    (case(workers=["elena", "elena"]), "twice"),
    (case(workers=["../x"]), "'workers'"),
    ("not an object", "must be an object"),
])
def test_bad_cases_are_one_clear_error(tmp_path: Path, bad, words: str) -> None:
    (tmp_path / "outside.md").write_text("secret", encoding="utf-8")
    root = make_suite(tmp_path / "s", [bad])
    with pytest.raises(SuiteError, match=words.replace("(", r"\(").replace(".", r"\.")):
        load_suite(root)


def test_a_symlinked_briefing_that_leads_outside_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("private notes", encoding="utf-8")
    root = make_suite(tmp_path / "s", [case(briefing="briefings/link.md")])
    os.symlink(secret, root / "briefings" / "link.md")
    with pytest.raises(SuiteError, match="outside the suite folder"):
        load_suite(root)


def test_a_briefing_that_is_a_directory_or_empty_is_refused(tmp_path: Path) -> None:
    root = make_suite(tmp_path / "s", [case(briefing="briefings")])
    with pytest.raises(SuiteError, match="not a regular file"):
        load_suite(root)
    (root / "briefings" / "empty.md").write_text("  \n", encoding="utf-8")
    make_suite(root, [case(briefing="briefings/empty.md")])
    with pytest.raises(SuiteError, match="empty"):
        load_suite(root)


@pytest.mark.parametrize("manifest, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    (json.dumps({"name": "t", "version": "1", "cases": []}), "non-empty list"),
    (json.dumps({"version": "1", "cases": [case()]}), "'name'"),
    (json.dumps({"name": "t", "version": "1", "cases": [case(), case()]}), "used twice"),
])
def test_a_broken_suite_json_is_one_clear_error(tmp_path: Path, manifest: str, words: str) -> None:
    root = make_suite(tmp_path / "s", [case()])
    (root / "suite.json").write_text(manifest, encoding="utf-8")
    with pytest.raises(SuiteError, match=words):
        load_suite(root)


def test_missing_and_oversized_suites(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="suite not found"):
        load_suite(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SuiteError, match="has no suite.json"):
        load_suite(tmp_path / "empty")
    root = make_suite(tmp_path / "big", [case()])
    (root / "suite.json").write_text(json.dumps({"pad": "x" * 1_100_000}), encoding="utf-8")
    with pytest.raises(SuiteError, match="larger than"):
        load_suite(root)


@pytest.mark.parametrize("source", ["starter", "minimal"])
def test_a_frozen_copy_debates_the_same_cases(tmp_path: Path, source: str) -> None:
    root = STARTER if source == "starter" else make_suite(tmp_path / "s", [case()])
    original = load_suite(root)
    freeze(original, tmp_path / "copy")
    frozen = load_suite(tmp_path / "copy")
    assert frozen.cases == original.cases
    assert frozen.briefings == original.briefings

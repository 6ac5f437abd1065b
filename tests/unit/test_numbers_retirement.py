"""Relegation as specified: bench or retire, no "stay"; retiring archives, restoring brings back."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from amatelier import paths
from amatelier.economy.retirement import (
    RetirementError,
    archive_name,
    relegation_decision,
    restore_agent,
    retire_agent,
    retired_agents,
    retired_dir,
    without_retired,
)


def test_the_decision_is_bench_unless_the_agent_says_retire() -> None:
    assert relegation_decision("retire", on_watch=True) == "retire"
    assert relegation_decision(" Retire ", on_watch=True) == "retire"
    for choice in (None, "", "stay", "bench", "vanish"):
        assert relegation_decision(choice, on_watch=True) == "bench"
    assert relegation_decision("retire", on_watch=False) is None


def test_archive_names_never_collide() -> None:
    day = dt.date(2026, 11, 28)
    assert archive_name("clare", day, []) == "clare-2026-11-28"
    assert archive_name("clare", day, ["clare-2026-11-28", "clare-2026-11-28-2"]) == "clare-2026-11-28-3"


def test_retired_agents_leave_the_default_team_only() -> None:
    assert without_retired(["elena", "clare"], ["clare"], explicit=False) == (
        ["elena"], ["retired, left out: clare"])
    with pytest.raises(RetirementError, match="team restore clare"):
        without_retired(["elena", "clare"], ["clare"], explicit=True)
    assert without_retired(["elena"], ["clare"], explicit=True) == (["elena"], [])


def _agent_with_state(name: str) -> dict[str, str]:
    agent = paths.user_agent_dir(name)
    files = {"CLAUDE.md": "# persona\n", "MEMORY.json": '{"lessons": ["x"]}', "sessions/rt1.md": "session\n",
             "skills/one.md": "skill\n", "metrics.json": '{"sparks": 4}'}
    for rel, text in files.items():
        (agent / rel).parent.mkdir(parents=True, exist_ok=True)
        (agent / rel).write_text(text, encoding="utf-8")
    return files


def test_retire_moves_everything_and_restore_brings_it_back() -> None:
    files = _agent_with_state("clare")
    entry = retire_agent("clare", rt_id="rt9", reason="chose to retire", facts={"sparks": -12},
                         today=dt.date(2026, 11, 28))
    archive = retired_dir() / "clare-2026-11-28"
    assert entry["archive"] == archive.name and not paths.user_agent_dir("clare").exists()
    for rel, text in files.items():
        assert (archive / rel).read_text(encoding="utf-8") == text      # nothing deleted, nothing changed
    facts = json.loads((archive / "retirement.json").read_text())
    assert facts["rt_id"] == "rt9" and facts["sparks"] == -12
    assert set(retired_agents()) == {"clare"}
    with pytest.raises(RetirementError, match="already retired"):
        retire_agent("clare")

    restored = restore_agent("clare")
    assert restored["set_aside"] is None and retired_agents() == {}
    for rel, text in files.items():
        assert (paths.user_agent_dir("clare") / rel).read_text(encoding="utf-8") == text
    with pytest.raises(RetirementError, match="not retired"):
        restore_agent("clare")


def test_restore_sets_aside_a_folder_that_appeared_meanwhile() -> None:
    _agent_with_state("simon")
    retire_agent("simon", today=dt.date(2026, 11, 28))
    reseeded = paths.user_agent_dir("simon")
    reseeded.mkdir(parents=True)
    (reseeded / "CLAUDE.md").write_text("fresh seed\n", encoding="utf-8")
    restored = restore_agent("simon")
    assert (paths.user_agent_dir("simon") / "CLAUDE.md").read_text() == "# persona\n"
    assert (retired_dir() / restored["set_aside"] / "CLAUDE.md").read_text() == "fresh seed\n"


def test_hostile_names_are_refused() -> None:
    for name in ("../elena", ".retired", "a/b", ""):
        with pytest.raises(RetirementError, match="not an agent name"):
            retire_agent(name)
        with pytest.raises(RetirementError, match="not an agent name"):
            restore_agent(name)


def test_a_missing_archive_changes_nothing() -> None:
    _agent_with_state("naomi")
    entry = retire_agent("naomi", today=dt.date(2026, 11, 28))
    (retired_dir() / entry["archive"]).rename(retired_dir() / "moved-by-hand")
    with pytest.raises(RetirementError, match="archive of naomi is missing"):
        restore_agent("naomi")
    assert set(retired_agents()) == {"naomi"}

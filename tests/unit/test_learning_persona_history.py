"""Persona history: every replaced persona text is kept as history/<FILE>.<NNN>, never overwritten."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from amatelier import paths, seeds
from amatelier.learning.persona_history import keep_previous, versions, write_persona_file


def test_each_change_keeps_the_previous_text_numbered(tmp_path: Path) -> None:
    agent = tmp_path / "elena"
    assert write_persona_file(agent, "CLAUDE.md", "v1\n") is None  # a new file has no previous text
    kept = write_persona_file(agent, "CLAUDE.md", "v2\n")
    assert kept == agent / "history" / "CLAUDE.md.001" and kept.read_text() == "v1\n"
    assert write_persona_file(agent, "CLAUDE.md", "v2\n") is None  # unchanged: nothing kept
    assert write_persona_file(agent, "CLAUDE.md", "v3\n").name == "CLAUDE.md.002"
    assert (agent / "CLAUDE.md").read_text() == "v3\n"
    assert [p.read_text() for _, p in versions(agent, "CLAUDE.md")] == ["v1\n", "v2\n"]
    assert versions(agent, "IDENTITY.md") == []


def test_history_is_never_overwritten_and_numbers_sort_past_999(tmp_path: Path) -> None:
    agent = tmp_path / "marcus"
    (agent / "history").mkdir(parents=True)
    (agent / "CLAUDE.md").write_text("now", encoding="utf-8")
    (agent / "history" / "CLAUDE.md.002").write_text("kept by hand", encoding="utf-8")
    assert keep_previous(agent, "CLAUDE.md", "next").name == "CLAUDE.md.003"
    assert (agent / "history" / "CLAUDE.md.002").read_text() == "kept by hand"
    (agent / "history" / "CLAUDE.md.999").write_text("old", encoding="utf-8")
    assert keep_previous(agent, "CLAUDE.md", "later").name == "CLAUDE.md.1000"
    assert [n for n, _ in versions(agent, "CLAUDE.md")] == [2, 3, 999, 1000]


def _writer(agent_dir: str, label: str, count: int) -> None:
    for i in range(count):
        write_persona_file(Path(agent_dir), "IDENTITY.md", f"{label} {i}\n")


def test_two_processes_changing_one_file_lose_no_version(tmp_path: Path) -> None:
    agent = tmp_path / "clare"
    write_persona_file(agent, "IDENTITY.md", "start\n")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(agent), label, 15)) for label in ("a", "b")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    kept = [p.read_text() for _, p in versions(agent, "IDENTITY.md")]
    final = (agent / "IDENTITY.md").read_text()
    # every text ever written is either in history or is the current file, exactly once
    written = {"start\n"} | {f"{label} {i}\n" for label in ("a", "b") for i in range(15)}
    assert sorted([*kept, final]) == sorted(written)


def test_refresh_seeds_force_keeps_the_edited_persona_in_history() -> None:
    paths.ensure_user_data()
    target = paths.user_agent_dir("elena") / "CLAUDE.md"
    target.write_text("# Elena, hand-edited\n", encoding="utf-8")
    plan = seeds.plan_refresh("elena", force=True)
    written = seeds.apply_plan(plan, write_file=write_persona_file)
    assert [a.filename for a in written] == ["CLAUDE.md"]  # IDENTITY.md is already current
    history = paths.user_agent_dir("elena") / "history" / "CLAUDE.md.001"
    assert history.read_text(encoding="utf-8") == "# Elena, hand-edited\n"
    assert target.read_bytes() == (paths.bundled_agent_dir("elena") / "CLAUDE.md").read_bytes()
    assert not (paths.user_agent_dir("elena") / "history" / "IDENTITY.md.001").exists()

"""refresh-seeds tells the therapist's edits from the user's: seed hashes recorded at every copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers.backends_config import isolated_env

from amatelier import paths, seed_hashes
from amatelier.cli import main


@pytest.fixture
def bundled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    root = tmp_path / "bundled-agents"
    for name in ("elena", "marcus", "clare"):
        (root / name).mkdir(parents=True)
        (root / name / "CLAUDE.md").write_text(f"# {name} rules v1\n", encoding="utf-8")
        (root / name / "IDENTITY.md").write_text(f"# {name} identity\n", encoding="utf-8")
    monkeypatch.setattr(paths, "bundled_agents_dir", lambda: root)
    isolated_env(monkeypatch, tmp_path / "ws")
    return root


def _refresh(capsys, *args: str) -> list[str]:
    try:
        main(["refresh-seeds", *args])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    return capsys.readouterr().out.splitlines()


def test_origin_is_pure():
    record = {"seeded": {"CLAUDE.md": seed_hashes.sha256(b"v1")}, "evolved": {"CLAUDE.md": seed_hashes.sha256(b"ev")}}
    assert seed_hashes.origin(None, b"v2", record, "CLAUDE.md") == seed_hashes.MISSING
    assert seed_hashes.origin(b"v2", b"v2", record, "CLAUDE.md") == seed_hashes.CURRENT
    assert seed_hashes.origin(b"v1", b"v2", record, "CLAUDE.md") == seed_hashes.UNEDITED
    assert seed_hashes.origin(b"ev", b"v2", record, "CLAUDE.md") == seed_hashes.EVOLVED
    assert seed_hashes.origin(b"mine", b"v2", record, "CLAUDE.md") == seed_hashes.EDITED
    assert seed_hashes.origin(b"v1", b"v2", {}, "CLAUDE.md") == seed_hashes.EDITED  # no record: assume the user


def test_bootstrap_records_the_hash_of_every_seed_it_copies(bundled):
    paths.ensure_user_data()
    record = json.loads((paths.user_agent_dir("elena") / seed_hashes.RECORD_NAME).read_text(encoding="utf-8"))
    assert record["seeded"] == {"CLAUDE.md": seed_hashes.sha256(b"# elena rules v1\n"),
                                "IDENTITY.md": seed_hashes.sha256(b"# elena identity\n")}


def test_evolved_edited_and_current_are_told_apart_and_force_keeps_the_old_text(bundled, capsys):
    paths.ensure_user_data()
    for name in ("elena", "marcus", "clare"):
        (bundled / name / "CLAUDE.md").write_text(f"# {name} rules v2\n", encoding="utf-8")
    evolved = b"# elena rules v1\n\n## Learned Behaviors\n- cite the briefing\n"
    (paths.user_agent_dir("elena") / "CLAUDE.md").write_bytes(evolved)
    seed_hashes.note_evolved(paths.user_agent_dir("elena"), "CLAUDE.md", evolved)
    (paths.user_agent_dir("marcus") / "CLAUDE.md").write_text("# my own marcus\n", encoding="utf-8")

    lines = _refresh(capsys)
    assert "  [SKIP] elena/CLAUDE.md (evolved by the therapist; use --force to overwrite, keeping a backup)" in lines
    assert "  [SKIP] marcus/CLAUDE.md (edited by you; use --force to overwrite, keeping a backup)" in lines
    assert "  [WRITE] clare/CLAUDE.md (a new seed shipped; your copy was unedited)" in lines
    assert "  [SKIP] clare/IDENTITY.md (already current)" in lines
    assert (paths.user_agent_dir("elena") / "CLAUDE.md").read_bytes() == evolved

    lines = _refresh(capsys, "--force")
    written = {line.split()[1]: line for line in lines if line.startswith("  [WRITE]")}
    assert set(written) == {"elena/CLAUDE.md", "marcus/CLAUDE.md"}
    for agent, old in (("elena", evolved), ("marcus", b"# my own marcus\n")):
        line = written[f"{agent}/CLAUDE.md"]
        assert ("evolved by the therapist" if agent == "elena" else "edited by you") in line
        backup = Path(line.split("backup: ", 1)[1].rstrip(")"))
        assert backup.parent == paths.user_agent_dir(agent) / "history"
        assert backup.read_bytes() == old  # the kept copy holds what was overwritten
        assert (paths.user_agent_dir(agent) / "CLAUDE.md").read_text(encoding="utf-8") == f"# {agent} rules v2\n"
    assert all("(already current)" in line for line in _refresh(capsys) if "CLAUDE.md" in line)


def test_the_evolvers_writes_read_as_evolved_by_the_therapist(bundled, capsys):
    from amatelier.learning import evolver

    paths.ensure_user_data()
    (bundled / "clare" / "CLAUDE.md").write_text("# clare rules v2\n", encoding="utf-8")
    evolver.add_learned_behavior("clare", "name the rollback owner before proposing a split", rt_id="rt1")
    lines = _refresh(capsys, "--agent", "clare")
    assert "  [SKIP] clare/CLAUDE.md (evolved by the therapist; use --force to overwrite, keeping a backup)" in lines
    # the user edits the evolved file: now it is theirs
    path = paths.user_agent_dir("clare") / "CLAUDE.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nmy own note\n", encoding="utf-8")
    lines = _refresh(capsys, "--agent", "clare")
    assert "  [SKIP] clare/CLAUDE.md (edited by you; use --force to overwrite, keeping a backup)" in lines

"""First-run bootstrap and refresh-seeds, with placeholder bundled seeds in a temp dir.

The real persona seeds belong to another area; these tests point
`paths.bundled_agents_dir()` at a temp tree so they hold whatever ships.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers.backends_config import isolated_env

from amatelier import paths
from amatelier.cli import main

SEEDS = {
    "elena": ("# Elena rules v1\n", "# Elena identity\n"),
    "marcus": ("# Marcus rules v1\n", "# Marcus identity\n"),
    "judge": ("# Judge rules v1\nGATE: <agent> — <reason>\n", "# Judge identity\n"),
}


@pytest.fixture
def bundled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    root = tmp_path / "bundled-agents"
    for name, (rules, identity) in SEEDS.items():
        (root / name).mkdir(parents=True)
        (root / name / "CLAUDE.md").write_text(rules, encoding="utf-8")
        (root / name / "IDENTITY.md").write_text(identity, encoding="utf-8")
    monkeypatch.setattr(paths, "bundled_agents_dir", lambda: root)
    isolated_env(monkeypatch, tmp_path / "ws")
    return root


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def test_bootstrap_creates_the_tree_once(bundled: Path) -> None:
    root = paths.ensure_user_data()
    assert root == paths.user_data_dir()
    assert (root / paths.BOOTSTRAP_SENTINEL).read_text(encoding="utf-8") == "1"
    for directory in (paths.user_server_dir(), paths.user_logs_dir(), paths.user_store_dir(),
                      paths.user_shared_skills_dir() / "entries", paths.user_benchmarks_dir()):
        assert directory.is_dir()
    assert json.loads(paths.user_store_ledger().read_text()) == {}
    assert json.loads(paths.user_novel_concepts().read_text()) == []
    assert json.loads(paths.user_shared_skills_index().read_text()) == {"entries": []}
    elena = paths.user_agent_dir("elena")
    assert (elena / "CLAUDE.md").read_text(encoding="utf-8") == SEEDS["elena"][0]
    assert (elena / "IDENTITY.md").read_text(encoding="utf-8") == SEEDS["elena"][1]
    for name in ("MEMORY.json", "metrics.json", "behaviors.json"):
        assert json.loads((elena / name).read_text()) == {}
    assert (elena / "sessions").is_dir() and (elena / "skills").is_dir()
    # team members named in config get a state dir even before their seeds ship
    assert paths.user_agent_dir("clare").is_dir()


def test_bootstrap_is_idempotent_and_sentinel_gated(bundled: Path) -> None:
    paths.ensure_user_data()
    paths.user_store_ledger().unlink()
    paths.ensure_user_data()  # sentinel present: nothing is redone
    assert not paths.user_store_ledger().exists()
    paths.ensure_user_data(force=True)
    assert json.loads(paths.user_store_ledger().read_text()) == {}


def test_bootstrap_never_overwrites_user_edits(bundled: Path) -> None:
    paths.ensure_user_data()
    persona = paths.user_agent_dir("marcus") / "CLAUDE.md"
    persona.write_text("# Marcus, as I rewrote him\n", encoding="utf-8")
    (paths.user_agent_dir("marcus") / "MEMORY.md").write_text("learned things\n", encoding="utf-8")
    paths.ensure_user_data(force=True)
    assert persona.read_text(encoding="utf-8") == "# Marcus, as I rewrote him\n"
    assert (paths.user_agent_dir("marcus") / "MEMORY.md").read_text(encoding="utf-8") == "learned things\n"


def _ship_new_version(bundled: Path, name: str) -> None:
    (bundled / name / "CLAUDE.md").write_text(f"# {name} rules v2\n", encoding="utf-8")


def test_refresh_seeds_dry_run_writes_nothing(bundled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths.ensure_user_data()
    _ship_new_version(bundled, "elena")
    marcus = paths.user_agent_dir("marcus") / "CLAUDE.md"
    marcus.write_text("# my marcus\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in paths.user_agents_dir().rglob("*") if p.is_file()}

    code, out, err = run_cli(capsys, "refresh-seeds", "--dry-run", "--force")

    assert code == 0, err
    after = {p: p.read_bytes() for p in paths.user_agents_dir().rglob("*") if p.is_file()}
    assert after == before
    lines = out.splitlines()
    assert lines[0] == "dry run — no files written"
    assert "Refreshed: 0" in lines
    assert "  [WRITE] elena/CLAUDE.md (a new seed shipped; your copy was unedited)" in lines
    assert "  [WRITE] marcus/CLAUDE.md (edited by you; a backup would be kept)" in lines
    assert "  [SKIP] judge/CLAUDE.md (already current)" in lines
    assert "Note:" not in out


def test_refresh_seeds_keeps_differing_files_without_force(bundled: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """As WORKFLOWS says: identical -> current; edited -> kept unless --force; unedited or absent -> written."""
    paths.ensure_user_data()
    _ship_new_version(bundled, "elena")  # the user's copy is now older than the shipped one
    marcus = paths.user_agent_dir("marcus") / "CLAUDE.md"
    marcus.write_text("# my marcus\n", encoding="utf-8")
    (paths.user_agent_dir("judge") / "IDENTITY.md").unlink()

    code, out, _ = run_cli(capsys, "refresh-seeds")

    assert code == 0
    assert marcus.read_text(encoding="utf-8") == "# my marcus\n"
    # elena's copy is the seed copied at bootstrap, untouched: the newer shipped seed replaces it
    assert (paths.user_agent_dir("elena") / "CLAUDE.md").read_text(encoding="utf-8") == "# elena rules v2\n"
    assert (paths.user_agent_dir("judge") / "IDENTITY.md").read_text(encoding="utf-8") == SEEDS["judge"][1]
    lines = out.splitlines()
    assert "Refreshed: 2" in lines
    assert "  [WRITE] judge/IDENTITY.md" in lines
    assert "  [SKIP] elena/IDENTITY.md (already current)" in lines
    assert "  [WRITE] elena/CLAUDE.md (a new seed shipped; your copy was unedited)" in lines
    assert "  [SKIP] marcus/CLAUDE.md (edited by you; use --force to overwrite, keeping a backup)" in lines
    assert lines[-1].startswith("Note: 2 agent(s) refreshed.")
    assert "MEMORY.md / behaviors.json / metrics.json are untouched" in lines[-1]

    code, out, _ = run_cli(capsys, "refresh-seeds", "--force")
    assert code == 0 and "Refreshed: 1" in out.splitlines()
    assert (paths.user_agent_dir("elena") / "CLAUDE.md").read_text(encoding="utf-8") == "# elena rules v2\n"
    assert marcus.read_text(encoding="utf-8") == SEEDS["marcus"][0]


def test_refresh_seeds_force_overwrites_persona_only(bundled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths.ensure_user_data()
    agent_dir = paths.user_agent_dir("marcus")
    (agent_dir / "CLAUDE.md").write_text("# my marcus\n", encoding="utf-8")
    (agent_dir / "MEMORY.md").write_text("kept memory\n", encoding="utf-8")
    (agent_dir / "behaviors.json").write_text('{"b": 1}\n', encoding="utf-8")

    code, out, _ = run_cli(capsys, "refresh-seeds", "--agent", "marcus", "--force")

    assert code == 0
    assert (agent_dir / "CLAUDE.md").read_text(encoding="utf-8") == SEEDS["marcus"][0]
    assert (agent_dir / "MEMORY.md").read_text(encoding="utf-8") == "kept memory\n"
    assert (agent_dir / "behaviors.json").read_text(encoding="utf-8") == '{"b": 1}\n'
    assert "elena" not in out  # single-agent form
    [line] = [line for line in out.splitlines() if "marcus/CLAUDE.md" in line]
    assert line.startswith("  [WRITE] marcus/CLAUDE.md (edited by you; backup: ")
    backup = Path(line.split("backup: ", 1)[1].rstrip(")"))
    assert backup.parent == agent_dir / "history" and backup.read_text(encoding="utf-8") == "# my marcus\n"
    code, out, _ = run_cli(capsys, "refresh-seeds", "--agent", " Marcus ", "--dry-run")
    assert code == 0 and "  [SKIP] marcus/CLAUDE.md (already current)" in out.splitlines()
    # a second run finds everything current
    code, out, _ = run_cli(capsys, "refresh-seeds", "--agent", "marcus")
    assert "Refreshed: 0" in out.splitlines() and "(already current)" in out


def test_refresh_seeds_restores_a_deleted_seed(bundled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths.ensure_user_data()
    target = paths.user_agent_dir("judge") / "IDENTITY.md"
    target.unlink()
    code, out, _ = run_cli(capsys, "refresh-seeds")
    assert code == 0 and target.read_text(encoding="utf-8") == SEEDS["judge"][1]
    assert "  [WRITE] judge/IDENTITY.md" in out.splitlines()


def test_refresh_seeds_unknown_agent(bundled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "refresh-seeds", "--agent", "zed")
    assert code == 2
    assert err.strip() == "amatelier: error: unknown agent 'zed' (known agents: elena, judge, marcus)"
    assert out == ""


def test_refresh_seeds_without_bundled_agents_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    isolated_env(monkeypatch, tmp_path / "ws")
    monkeypatch.setattr(paths, "bundled_agents_dir", lambda: tmp_path / "gone")
    code, _, err = run_cli(capsys, "refresh-seeds")
    assert code == 1
    assert err.count("\n") == 1 and "bundled agents directory is missing" in err


def test_unwritable_workspace_fails_at_first_write_not_import(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    isolated_env(monkeypatch, tmp_path / "unused")
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(blocker / "ws"))
    assert paths.user_data_dir() == blocker / "ws"  # resolving the path writes nothing
    with pytest.raises(paths.WorkspaceNotWritable) as caught:
        paths.ensure_user_data()
    assert str(blocker / "ws") in str(caught.value) and "AMATELIER_WORKSPACE" in str(caught.value)

    root = tmp_path / "bundled-agents"
    (root / "elena").mkdir(parents=True)
    (root / "elena" / "CLAUDE.md").write_text("x", encoding="utf-8")
    monkeypatch.setattr(paths, "bundled_agents_dir", lambda: root)
    code, _, err = run_cli(capsys, "refresh-seeds")
    assert code == 2
    assert err.startswith("amatelier: error: cannot write the amatelier workspace") and err.count("\n") == 1

"""Install when the disk fails: a full disk while staging, a failed swap. No agent is lost."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from amatelier import paths
from amatelier.bundles import BundleError, files, install
from amatelier.bundles.author import author_manifest
from amatelier.bundles.pack import pack_agent
from amatelier.config import load_config


@pytest.fixture
def package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "author"))
    author_manifest("elena", load_config(), models=["gpt-4o"])
    built = pack_agent("elena", tmp_path / "out")
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "target"))
    paths.ensure_user_data()
    return Path(built.path)


def hidden_leftovers() -> list[str]:
    return [p.name for p in paths.user_agents_dir().iterdir() if p.name.startswith((".install", ".uninstall"))]


def test_a_full_disk_while_staging_leaves_the_old_agent_and_no_debris(monkeypatch, package):
    before = (paths.user_agent_dir("marcus") / "CLAUDE.md").read_bytes()
    real_open = os.open
    calls = {"n": 0}

    def filling_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and ".install-" in str(path):
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(files.os, "open", filling_open)
    with pytest.raises(BundleError, match="No space left on device"):
        install.install(str(package), as_name="marcus", allow_unsigned=True, force=True)
    assert (paths.user_agent_dir("marcus") / "CLAUDE.md").read_bytes() == before
    assert hidden_leftovers() == []
    assert not paths.user_agent_registry().exists()


def test_a_failed_swap_puts_the_replaced_agent_back(monkeypatch, package):
    before = (paths.user_agent_dir("marcus") / "CLAUDE.md").read_bytes()
    real_replace = os.replace

    def failing_replace(src, dst):
        if ".install-" in str(src):
            raise OSError(errno.EIO, "Input/output error", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(install.os, "replace", failing_replace)
    with pytest.raises(BundleError, match="cannot move the agent into"):
        install.install(str(package), as_name="marcus", allow_unsigned=True, force=True)
    assert (paths.user_agent_dir("marcus") / "CLAUDE.md").read_bytes() == before
    assert hidden_leftovers() == []
    assert not list(paths.user_agent_backups_dir().glob("*"))


def test_a_clean_install_then_uninstall_round_trip(package):
    result = install.install(str(package), as_name="nora", allow_unsigned=True)
    assert result.in_roster and result.run_model == "sonnet"
    assert "nora" in load_config()["team"]["workers"]
    assert (paths.user_agent_dir("nora") / "sessions").is_dir()  # state dirs the package left out
    install.uninstall("nora")
    assert "nora" not in load_config()["team"]["workers"]
    assert hidden_leftovers() == []

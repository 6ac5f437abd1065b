"""`amatelier.paths` keeps the public API SPEC lists, and resolving a path writes nothing."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest
from tests.helpers.backends_config import isolated_env

from amatelier import llm_backend, paths

# SPEC "Top-level components", amatelier.paths public_api, in the spec's order.
SPEC_PUBLIC_API = [
    "APP_NAME", "bundled_assets_dir", "bundled_docs_dir", "bundled_agent_dir", "bundled_store_catalog",
    "bundled_config", "user_data_dir", "user_agent_dir", "user_db_path", "user_logs_dir",
    "user_digest_dir", "user_briefing_dir", "user_store_ledger", "user_novel_concepts",
    "user_shared_skills_index", "user_config_override", "ensure_user_data",
]
NEEDS_NAME = {"bundled_agent_dir", "user_agent_dir"}


def _resolve(name: str) -> Path:
    func = getattr(paths, name)
    return func("elena") if name in NEEDS_NAME else func()


def test_every_spec_name_exists() -> None:
    missing = [name for name in SPEC_PUBLIC_API if not hasattr(paths, name)]
    assert missing == []
    assert paths.APP_NAME == "amatelier"


def test_locations_are_paths_under_their_layer_and_resolving_writes_nothing(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "unused")
    workspace = tmp_path / "ws"
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(workspace))
    for name in SPEC_PUBLIC_API:
        if name in ("APP_NAME", "ensure_user_data"):
            continue
        location = _resolve(name)
        assert isinstance(location, Path), name
        if name.startswith("user_"):
            assert location.is_relative_to(workspace), name
        elif name != "bundled_docs_dir":  # docs sit at the checkout root in an editable install
            assert location.is_relative_to(paths.bundled_assets_dir()), name
            assert location.exists(), name
    assert paths.bundled_docs_dir().is_dir()
    assert paths.user_db_path() == workspace / "roundtable-server" / "roundtable.db"
    assert paths.user_digest_dir() == paths.user_briefing_dir() == workspace / "roundtable-server"
    assert not workspace.exists()
    assert paths.ensure_user_data() == workspace and workspace.is_dir()


def test_workspace_env_replaces_platformdirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws")
    monkeypatch.delenv("AMATELIER_WORKSPACE")
    assert paths.user_data_dir() == Path(platformdirs.user_data_dir("amatelier", appauthor=False))
    monkeypatch.setenv("AMATELIER_WORKSPACE", "  ")  # blank is not set
    assert paths.user_data_dir() == Path(platformdirs.user_data_dir("amatelier", appauthor=False))
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "elsewhere"))
    assert paths.user_data_dir() == tmp_path / "elsewhere"


def test_get_backend_is_an_lru_cache_of_one() -> None:
    """SPEC invariant 6: one backend per process; a mode change needs a new process."""
    assert llm_backend.get_backend.cache_info().maxsize == 1

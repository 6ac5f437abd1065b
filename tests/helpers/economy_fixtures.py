"""Pytest fixtures for the economy tests: a temp workspace, its database and config."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def econ_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh AMATELIER_WORKSPACE in offline mode."""
    workspace = tmp_path / "ws"
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(workspace))
    monkeypatch.setenv("AMATELIER_MODE", "offline")
    return workspace


@pytest.fixture
def econ_db(econ_ws: Path) -> Iterator[sqlite3.Connection]:
    from amatelier.chat.db import open_db

    conn = open_db()
    yield conn
    conn.close()


@pytest.fixture
def econ_config(econ_ws: Path) -> dict[str, Any]:
    """The merged config, without the starter grant: these tests count fees and scores exactly."""
    from amatelier.config import load_config

    config = load_config()
    config["competition"]["starter_grant"] = 0
    return config

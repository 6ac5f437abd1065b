"""The learning tests' pytest fixture, loaded with `pytest_plugins`.

Kept apart from learning_fixtures, which the tests import directly: a module pytest loads as
a plugin must not be imported before it, or pytest cannot rewrite its asserts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.learning_fixtures import setup_workspace


@pytest.fixture
def learning_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh workspace in offline mode, with no provider keys."""
    return setup_workspace(tmp_path, monkeypatch)

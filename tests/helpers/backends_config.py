"""Config and environment helpers for tests that build real backends.

``fast_config(...)`` is the bundled config with a retry policy that waits milliseconds,
deep-merged with any overrides, so wire tests exercise the real retry path quickly.
``isolated_env(monkeypatch, tmp_path)`` removes every provider key and mode variable and
points the workspace at a temp dir, so a developer's own keys never leak into a test.
``serve_isolated(...)`` is the body of a wire test's server fixture: isolated env, keys,
a fake provider running. ``RecordingSleep`` sleeps for real and records each wait.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.helpers.fake_llm_servers import FakeLLMServer

from amatelier.config import deep_merge, load_bundled_config

FAST_RETRY = {"max_attempts": 3, "base_delay_s": 0.01, "max_delay_s": 0.05, "max_retry_after_s": 0.2}

PROVIDER_ENV = (
    "AMATELIER_MODE",
    "AMATELIER_CLAUDE_BIN",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENROUTER_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
)


def fast_config(overrides: dict[str, Any] | None = None, **retry: Any) -> dict[str, Any]:
    """Bundled config + millisecond retries (+ `retry` keyword tweaks) + `overrides`."""
    config = deep_merge(load_bundled_config(), {"llm": {"retry": dict(FAST_RETRY, **retry)}})
    return deep_merge(config, overrides or {})


def isolated_env(monkeypatch: pytest.MonkeyPatch, workspace: Path, *, keep_path: bool = False,
                 path_dirs: list[Path] | None = None) -> Path:
    """Clear provider variables, set AMATELIER_WORKSPACE; optionally replace PATH.

    With ``keep_path=False`` (default) PATH holds only ``path_dirs`` (empty list: nothing),
    so a ``claude`` installed on the developer's machine cannot change mode selection.
    """
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    workspace.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(workspace))
    if not keep_path:
        monkeypatch.setenv("PATH", ":".join(str(p) for p in (path_dirs or [])))
    return workspace


FakeT = TypeVar("FakeT", bound=FakeLLMServer)


def serve_isolated(fake: FakeT, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *,
                   base_url_env: str | None = None, **env: str) -> Iterator[FakeT]:
    """Isolated env (workspace tmp_path/ws, PATH kept), `env` set, `fake` running; yields it.

    ``base_url_env`` names a variable to set to the fake's base URL once it listens.
    Use as a fixture body: ``yield from serve_isolated(FakeOpenAI(), monkeypatch, tmp_path, ...)``.
    """
    isolated_env(monkeypatch, tmp_path / "ws", keep_path=True)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with fake:
        if base_url_env:
            monkeypatch.setenv(base_url_env, fake.base_url)
        yield fake


class RecordingSleep:
    """Really sleeps (the SDK path stays real) but records each wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)

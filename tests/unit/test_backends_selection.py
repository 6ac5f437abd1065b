"""Mode selection: AMATELIER_MODE > config llm.mode > claude-code > anthropic-sdk > openai-compat."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from tests.helpers.backends_config import fast_config, isolated_env

from amatelier import llm_backend
from amatelier.backends.base import BackendUnavailable


def fake_claude(directory: Path) -> Path:
    """An executable named `claude` (never run here: detection only looks for it)."""
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "claude"
    exe.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


CASES = [
    # id, env, config llm.mode, claude on PATH, expected mode (None: BackendUnavailable)
    ("explicit-offline-beats-everything", {"AMATELIER_MODE": "offline", "ANTHROPIC_API_KEY": "k"},
     "anthropic-sdk", True, "offline"),
    ("explicit-beats-config-and-detection", {"AMATELIER_MODE": "openai-compat", "OPENAI_API_KEY": "k",
                                             "ANTHROPIC_API_KEY": "k"}, "anthropic-sdk", True, "openai-compat"),
    ("explicit-auto-defers-to-config", {"AMATELIER_MODE": "auto", "ANTHROPIC_API_KEY": "k"},
     "offline", True, "offline"),
    ("config-beats-detection", {"ANTHROPIC_API_KEY": "k"}, "anthropic-sdk", True, "anthropic-sdk"),
    ("config-offline", {}, "offline", False, "offline"),
    ("claude-cli-first", {"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"}, "auto", True, "claude-code"),
    ("anthropic-before-openai", {"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"}, "auto", False,
     "anthropic-sdk"),
    ("openai-key", {"OPENAI_API_KEY": "k"}, "auto", False, "openai-compat"),
    ("openrouter-key", {"OPENROUTER_API_KEY": "k"}, "auto", False, "openai-compat"),
    ("blank-key-is-not-a-key", {"ANTHROPIC_API_KEY": "   "}, "auto", False, None),
    ("gemini-key-alone-is-not-a-mode", {"GEMINI_API_KEY": "k"}, "auto", False, None),
    ("nothing-at-all", {}, "auto", False, None),
    ("unknown-explicit-mode", {"AMATELIER_MODE": "turbo", "ANTHROPIC_API_KEY": "k"}, "auto", False, None),
]


@pytest.mark.parametrize(("env", "configured", "claude", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_selection_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str],
                         configured: str, claude: bool, expected: str | None) -> None:
    bin_dir = tmp_path / "bin"
    if claude:
        fake_claude(bin_dir)
    isolated_env(monkeypatch, tmp_path / "ws", path_dirs=[bin_dir])
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = fast_config({"llm": {"mode": configured}})

    if expected is None:
        with pytest.raises(BackendUnavailable):
            llm_backend.resolve_mode(config)
    else:
        assert llm_backend.resolve_mode(config) == expected
        assert llm_backend.make_backend(expected, config).name == expected


def test_unavailable_message_names_every_mode_and_how_to_enable_it(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws")
    with pytest.raises(BackendUnavailable) as caught:
        llm_backend.resolve_mode(fast_config())
    message = str(caught.value)
    for mode in ("claude-code", "anthropic-sdk", "openai-compat", "offline"):
        assert mode in message
    for hint in ("claude", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY", "AMATELIER_MODE=offline"):
        assert hint in message


def test_claude_found_through_amatelier_claude_bin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    exe = fake_claude(tmp_path / "elsewhere")
    isolated_env(monkeypatch, tmp_path / "ws")
    monkeypatch.setenv("AMATELIER_CLAUDE_BIN", str(exe))
    assert llm_backend.resolve_mode(fast_config()) == "claude-code"
    monkeypatch.setenv("AMATELIER_CLAUDE_BIN", str(tmp_path / "missing" / "claude"))
    available, how = llm_backend.ClaudeCLIBackend.detect(fast_config())
    assert not available and "does not exist" in how


def test_selected_mode_that_cannot_run_explains_itself(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws")
    monkeypatch.setenv("AMATELIER_MODE", "anthropic-sdk")
    config = fast_config()
    assert llm_backend.resolve_mode(config) == "anthropic-sdk"
    with pytest.raises(BackendUnavailable, match="ANTHROPIC_API_KEY"):
        llm_backend.make_backend("anthropic-sdk", config)


def test_get_backend_is_a_cached_singleton(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws")
    monkeypatch.setenv("AMATELIER_MODE", "offline")
    llm_backend.get_backend.cache_clear()
    try:
        first = llm_backend.get_backend()
        assert first.name == "offline"
        monkeypatch.setenv("AMATELIER_MODE", "anthropic-sdk")  # a flip needs a new process
        assert llm_backend.get_backend() is first
        llm_backend.get_backend.cache_clear()
        with pytest.raises(BackendUnavailable):
            llm_backend.get_backend()
    finally:
        llm_backend.get_backend.cache_clear()


def test_naomi_gets_gemini_unless_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    config = fast_config()
    with pytest.raises(BackendUnavailable, match="GEMINI_API_KEY"):
        llm_backend.backend_for_agent("naomi", config)
    monkeypatch.setenv("GEMINI_API_KEY", "g")
    assert llm_backend.backend_for_agent("naomi", config).name == "gemini"
    assert llm_backend.backend_for_agent("elena", config).name == "anthropic-sdk"
    monkeypatch.setenv("AMATELIER_MODE", "offline")
    assert llm_backend.backend_for_agent("naomi", config).name == "offline"


def test_describe_environment_reports_each_mode_without_secrets(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    isolated_env(monkeypatch, tmp_path / "ws")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-very-secret")
    report = llm_backend.describe_environment(fast_config())
    assert set(report) >= {"claude-code", "anthropic-sdk", "openai-compat", "offline", "gemini"}
    assert report["openai-compat"]["available"] is True
    assert "openrouter.ai" in report["openai-compat"]["detected_via"]
    assert report["anthropic-sdk"] == {"available": False, "detected_via": report["anthropic-sdk"]["detected_via"]}
    assert "sk-or-very-secret" not in repr(report)
    assert os.environ["OPENROUTER_API_KEY"] == "sk-or-very-secret"

"""`amatelier config`, `config --json`, `docs` and config errors, as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.backends_config import PROVIDER_ENV

from amatelier import __version__

pytestmark = pytest.mark.e2e


def clean_env(workspace: Path, **extra: str) -> dict[str, str]:
    """No provider keys, no `claude` reachable (PATH emptied), a temp workspace."""
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV}
    env["PATH"] = ""
    env["AMATELIER_WORKSPACE"] = str(workspace)
    env.update(extra)
    return env


def amatelier(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "amatelier", *args], env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=60)


def test_config_json_redacts_keys_and_picks_anthropic(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "ws", ANTHROPIC_API_KEY="sk-test-123")
    proc = amatelier("config", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "sk-test-123" not in proc.stdout and "sk-test-123" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["llm"]["active_mode"] == "anthropic-sdk"
    assert report["env"]["ANTHROPIC_API_KEY"] is True
    assert report["env"]["OPENAI_API_KEY"] is False


def test_config_json_shape(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    proc = amatelier("config", "--json", env=clean_env(workspace))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["version"] == __version__
    llm = report["llm"]
    assert llm["active_mode"] is None
    assert "no LLM backend available" in llm["active_mode_error"]
    assert llm["explicit_override"] is None and llm["configured_mode"] == "auto"
    assert set(llm["modes"]) == {"claude-code", "anthropic-sdk", "openai-compat", "offline", "gemini"}
    for info in llm["modes"].values():
        assert set(info) >= {"available", "detected_via", "model_map"}
        assert isinstance(info["available"], bool) and info["detected_via"]
    assert llm["modes"]["claude-code"]["model_map"] == {"sonnet": "sonnet", "haiku": "haiku", "opus": "opus"}
    assert llm["model_map"]["anthropic-sdk"]["haiku"] == "claude-haiku-5-5"
    assert llm["openai_compat"]["api_key_env"] is None
    assert llm["gemini"] == {"model": "gemini-3-flash-preview", "api_key_env": "GEMINI_API_KEY",
                             "base_url": None, "base_url_source": "Google default"}
    assert all(isinstance(flag, bool) for flag in report["env"].values())
    paths_report = report["paths"]
    assert paths_report["user_data_dir"] == str(workspace.resolve())
    assert paths_report["user_db_path"] == str(workspace.resolve() / "roundtable-server" / "roundtable.db")
    assert paths_report["user_digest_dir"] == str(workspace.resolve() / "roundtable-server")
    for key in ("bundled_assets_dir", "bundled_docs_dir", "bundled_agents_dir", "bundled_config",
                "user_logs_dir", "user_store_ledger", "user_shared_skills_index", "user_config_override"):
        assert key in paths_report
    assert report["workspace"]["bootstrapped"] is True and report["workspace"]["error"] is None


def test_explicit_override_and_openrouter_example(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "config.json").write_text(json.dumps({"llm": {"mode": "openai-compat", "openai_compat": {
        "base_url": "https://openrouter.ai/api/v1", "api_key_env": "OPENROUTER_API_KEY",
        "model_map": {"sonnet": "anthropic/claude-sonnet-4", "haiku": "anthropic/claude-haiku-4-5",
                      "opus": "anthropic/claude-opus-4"}}}}), encoding="utf-8")
    proc = amatelier("config", "--json", env=clean_env(workspace, OPENROUTER_API_KEY="sk-or-secret"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["llm"]["active_mode"] == "openai-compat"
    assert report["llm"]["explicit_override"] is None
    assert report["llm"]["openai_compat"]["base_url"] == "https://openrouter.ai/api/v1"
    assert report["llm"]["openai_compat"]["routed_to_openrouter"] is True
    assert report["llm"]["model_map"]["openai-compat"]["sonnet"] == "anthropic/claude-sonnet-4"
    assert "sk-or-secret" not in proc.stdout

    proc = amatelier("config", "--json", env=clean_env(workspace, OPENROUTER_API_KEY="k", AMATELIER_MODE="offline"))
    report = json.loads(proc.stdout)
    assert (report["llm"]["active_mode"], report["llm"]["explicit_override"]) == ("offline", "offline")


def test_human_config_without_any_backend(tmp_path: Path) -> None:
    proc = amatelier("config", env=clean_env(tmp_path / "ws"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "active mode: none" in out
    for mode in ("claude-code", "anthropic-sdk", "openai-compat", "offline"):
        assert mode in out
    user_data_line = next(line for line in out.splitlines() if "user_data_dir" in line)
    assert user_data_line.split()[-1] == str((tmp_path / "ws").resolve())


def test_check_reports_backend_unavailable_as_one_message(tmp_path: Path) -> None:
    proc = amatelier("config", "--check", env=clean_env(tmp_path / "ws"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("amatelier: error: no LLM backend available")
    for hint in ("claude-code", "anthropic-sdk", "openai-compat", "offline", "ANTHROPIC_API_KEY"):
        assert hint in proc.stderr
    ok = amatelier("config", "--check", env=clean_env(tmp_path / "ws", AMATELIER_MODE="offline"))
    assert ok.returncode == 0 and "active mode: offline" in ok.stdout


@pytest.mark.parametrize(
    ("content", "key_text"),
    [
        ('{"llm": {"mode": "auto",', "malformed JSON at line"),
        ('{"llm": {"mode": "warp-drive"}}', "at key 'llm.mode': unknown mode 'warp-drive'"),
        ('{"llm": {"timeout_s": "soon"}}', "at key 'llm.timeout_s': expected number, got string"),
        ('{"roundtable": {"max_rounds": [3]}}', "at key 'roundtable.max_rounds': expected number, got list"),
        ('[1, 2]', "top level must be a JSON object"),
    ],
)
def test_config_errors_are_one_line_exit_2(tmp_path: Path, content: str, key_text: str) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    override = workspace / "config.json"
    override.write_text(content, encoding="utf-8")
    proc = amatelier("config", env=clean_env(workspace))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"amatelier: error: config error in {override.resolve()}")
    assert key_text in lines[0]
    # with --json the same error is one JSON object on stderr, same exit code
    proc = amatelier("config", "--json", env=clean_env(workspace))
    assert proc.returncode == 2 and proc.stdout == ""
    error = json.loads(proc.stderr)
    assert error["code"] == 2 and key_text in error["error"]
    assert error["error"].startswith(f"config error in {override.resolve()}")


def test_unknown_explicit_mode_is_shown_not_crashed(tmp_path: Path) -> None:
    proc = amatelier("config", "--json", env=clean_env(tmp_path / "ws", AMATELIER_MODE="fast"))
    assert proc.returncode == 0
    report = json.loads(proc.stdout)
    assert report["llm"]["active_mode"] is None
    assert "AMATELIER_MODE=fast is not a mode" in report["llm"]["active_mode_error"]


def test_unwritable_workspace_is_reported_not_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    env = clean_env(blocker / "ws")
    imported = subprocess.run([sys.executable, "-c", "import amatelier, amatelier.paths, amatelier.cli, "
                               "amatelier.llm_backend, amatelier.config; print('ok')"],
                              env=env, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0 and imported.stdout.strip() == "ok", imported.stderr
    assert not (blocker / "ws").exists()
    proc = amatelier("config", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    error = json.loads(proc.stdout)["workspace"]["error"]
    assert "cannot write the amatelier workspace" in error and str(blocker / "ws") in error


def test_output_is_utf8_safe_with_an_ascii_terminal(tmp_path: Path) -> None:
    workspace = tmp_path / "wörk-späce-✓"
    env = clean_env(workspace, PYTHONIOENCODING="ascii", LC_ALL="C", LANG="C")
    proc = subprocess.run([sys.executable, "-m", "amatelier", "config"], env=env, capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert str(workspace.resolve()) in proc.stdout.decode("utf-8")
    proc = subprocess.run([sys.executable, "-m", "amatelier", "config", "--json"], env=env,
                          capture_output=True, timeout=60)
    assert json.loads(proc.stdout.decode("utf-8"))["paths"]["user_data_dir"] == str(workspace.resolve())


def test_docs_list_show_and_unknown(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "ws")
    listing = amatelier("docs", env=env)
    assert listing.returncode == 0
    topics = [line.strip() for line in listing.stdout.splitlines() if line.startswith("  ")]
    assert "explanation/architecture" in topics
    shown = amatelier("docs", "explanation/architecture", env=env)
    assert shown.returncode == 0 and shown.stdout.startswith("# Architecture")
    by_name = amatelier("docs", "architecture", env=env)
    assert by_name.stdout == shown.stdout
    unknown = amatelier("docs", "no-such-page", env=env)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("amatelier: error: unknown docs topic 'no-such-page' (available: ")
    assert "explanation/architecture" in unknown.stderr


def test_version_and_help(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "ws")
    assert amatelier("--version", env=env).stdout.strip() == f"amatelier {__version__}"
    helped = amatelier("--help", env=env)
    assert helped.returncode == 0
    for command in ("config", "refresh-seeds", "docs"):
        assert command in helped.stdout
    assert not (tmp_path / "ws").exists()  # --version/--help write nothing

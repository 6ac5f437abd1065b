"""The `mcp` extra stays optional: amatelier imports without it, and `amatelier mcp` says how to
install it (one line, exit 2). Also: the real Claude Code CLI can register and reach the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.backends_claude_cli import CLAUDE, needs_cli
from tests.helpers.roundtable_run import REPO, rt_env

HINT = "pip install '.[mcp]'"


def _without_mcp(tmp_path: Path) -> dict[str, str]:
    """An environment where `import mcp` fails as it does when the extra is not installed."""
    shim = tmp_path / "shim"
    (shim / "mcp").mkdir(parents=True)
    (shim / "mcp" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'mcp'\", name='mcp')\n", encoding="utf-8")
    env = rt_env(tmp_path / "ws")
    env["PYTHONPATH"] = os.pathsep.join([str(shim), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@pytest.mark.parametrize("args", [["-m", "amatelier", "mcp"], ["-m", "amatelier.mcp.server"]],
                         ids=["amatelier-mcp", "python-m-mcp_server"])
def test_without_the_extra_the_server_says_how_to_install_it(tmp_path, args):
    result = subprocess.run([sys.executable, *args], env=_without_mcp(tmp_path), capture_output=True,
                            text=True, timeout=60, cwd=str(REPO), stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and HINT in lines[0] and lines[0].startswith("amatelier: error:"), result.stderr


def test_importing_amatelier_never_imports_mcp(tmp_path):
    code = ("import sys, amatelier, amatelier.cli, amatelier.mcp.server, amatelier.mcp.tools, "
            "amatelier.mcp.launch, amatelier.commands.mcp; amatelier.cli.build_app(); "
            "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))")
    result = subprocess.run([sys.executable, "-c", code], env=rt_env(tmp_path), capture_output=True,
                            text=True, timeout=60, cwd=str(REPO))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_mcp_command_is_listed_in_help(tmp_path):
    result = subprocess.run([sys.executable, "-m", "amatelier", "mcp", "--help"], env=rt_env(tmp_path),
                            capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert result.returncode == 0, result.stderr
    assert "claude mcp add amatelier -- amatelier mcp" in result.stdout


@pytest.mark.wire
@needs_cli
def test_claude_code_registers_and_connects_to_the_server(tmp_path):
    pytest.importorskip("mcp", reason="the optional `mcp` extra is not installed")
    claude = CLAUDE
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    env = rt_env(tmp_path / "ws", HOME=str(home), CLAUDE_CONFIG_DIR=str(tmp_path / "claude-config"),
                 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
    script = Path(sys.executable).with_name("amatelier")
    command = [str(script), "mcp"] if script.is_file() else [sys.executable, "-m", "amatelier", "mcp"]

    # the default (local) scope: project-scope servers wait for approval in an interactive session
    added = subprocess.run([claude, "mcp", "add", "amatelier", "--", *command],
                           env=env, cwd=str(project), capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr

    listed = subprocess.run([claude, "mcp", "get", "amatelier"], env=env, cwd=str(project),
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "Connected" in listed.stdout and "Failed" not in listed.stdout, listed.stdout
    assert f"Command: {command[0]}" in listed.stdout

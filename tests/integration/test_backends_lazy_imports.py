"""Importing amatelier (and running config) must import none of the provider SDKs.

Each SDK costs 0.7-1.7 s to import; they are loaded inside the backend that calls them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SDK_CHECK = (
    "import sys\n"
    "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('anthropic', 'openai') "
    "or m.startswith('google.genai'))\n"
    "assert not loaded, loaded\n"
)


def run_python(code: str, workspace: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, AMATELIER_WORKSPACE=str(workspace), **env)
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True,
                          timeout=60)


def test_importing_the_facade_imports_no_sdk(tmp_path: Path) -> None:
    proc = run_python("import amatelier.llm_backend\n" + SDK_CHECK, tmp_path / "ws")
    assert proc.returncode == 0, proc.stderr


def test_building_backends_and_the_cli_imports_no_sdk(tmp_path: Path) -> None:
    code = (
        "from amatelier import llm_backend\n"
        "from amatelier.cli import build_app\n"
        "from amatelier.diagnostics import config_report\n"
        "build_app()\n"
        "config_report(bootstrap=False)\n"
        "for cls in llm_backend.BACKENDS.values():\n"
        "    cls({}).model_map()\n"
        + SDK_CHECK
    )
    proc = run_python(code, tmp_path / "ws", ANTHROPIC_API_KEY="k", OPENAI_API_KEY="k", GEMINI_API_KEY="k")
    assert proc.returncode == 0, proc.stderr


def test_the_check_is_real(tmp_path: Path) -> None:
    """Guard against a check that cannot fail: using a backend does import its SDK."""
    code = (
        "from amatelier.backends.openai_compat import OpenAICompatBackend\n"
        "OpenAICompatBackend({}).client()\n" + SDK_CHECK
    )
    proc = run_python(code, tmp_path / "ws", OPENAI_API_KEY="k")
    assert proc.returncode != 0
    assert "openai" in proc.stderr


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_cli_fast_paths_import_no_sdk(tmp_path: Path, argv: list[str]) -> None:
    code = (
        "import sys\n"
        f"sys.argv = ['amatelier', *{argv!r}]\n"
        "from amatelier.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n" + SDK_CHECK
    )
    proc = run_python(code, tmp_path / "ws")
    assert proc.returncode == 0, proc.stderr

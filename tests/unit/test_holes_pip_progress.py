"""`make demo` shows its first install: scripts/pip_progress.py turns pip's output into progress lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "pip_progress.py"

PIP_OUTPUT = """\
Obtaining file:///work/amatelier
Collecting typer>=0.12
  Using cached typer-0.29.2-py3-none-any.whl (40 kB)
Collecting rich
Collecting platformdirs
Installing collected packages: rich, platformdirs, typer, amatelier
Successfully installed amatelier-0.1.0 platformdirs-4.3 rich-13.9 typer-0.29.2
"""


def _fake_python(tmp_path: Path, body: str) -> Path:
    """An executable standing in for `python -m pip install ...`: prints, maybe pauses, exits."""
    fake = tmp_path / "python"
    fake.write_text(f"#!{sys.executable}\n{body}\n", encoding="utf-8")
    fake.chmod(0o755)
    return fake


def _run(fake: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(fake), "-e", ".[dev]"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **env})


def test_each_package_and_the_install_step_show(tmp_path):
    fake = _fake_python(tmp_path, f"import sys\nassert sys.argv[1:4] == ['-m', 'pip', 'install']\n"
                                  f"print({PIP_OUTPUT!r}, end='')")
    result = _run(fake)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "pip install -e .[dev]"
    assert lines[1:6] == ["  [1] collecting typer>=0.12", "  [2] collecting rich", "  [3] collecting platformdirs",
                          "  installing 4 package(s)...", "  installed 4 package(s)"]
    assert lines[-1].startswith("  done in ")
    assert "Using cached" not in result.stdout


def test_a_long_silent_step_gets_a_heartbeat(tmp_path):
    fake = _fake_python(tmp_path, "import time\nprint('Collecting typer', flush=True)\ntime.sleep(0.5)")
    result = _run(fake, PIP_PROGRESS_HEARTBEAT_S="0.05")
    assert result.returncode == 0
    assert "still working" in result.stdout


def test_a_pip_failure_shows_its_last_lines_and_exit_code(tmp_path):
    fake = _fake_python(tmp_path, "import sys\nprint('Collecting nosuchpkg')\n"
                                  "print('ERROR: No matching distribution found for nosuchpkg')\nsys.exit(1)")
    result = _run(fake)
    assert result.returncode == 1
    assert "pip failed (exit 1)" in result.stderr and "No matching distribution" in result.stderr


def test_the_makefile_installs_through_it():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "scripts/pip_progress.py $(BIN)/python -e .\n" in makefile  # make demo: the package alone
    assert "scripts/pip_progress.py $(BIN)/python -e '.[$(TEST_EXTRAS)]'" in makefile  # make test
    assert "--quiet -e" not in makefile

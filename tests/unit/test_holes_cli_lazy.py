"""The lazy command group shows exactly the eager CLI, and `--help` to a pipe needs no typer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from amatelier import __version__
from amatelier.cli import build_app
from amatelier.commands.lazy import COMMANDS, ROOT_HELP_FILE, build_lazy_app, render_help

EAGER = build_app()


def _argvs(app, prefix=()):
    found = [list(prefix)]
    for info in app.registered_commands:
        found.append([*prefix, info.name])
    for group in app.registered_groups:
        found += _argvs(group.typer_instance, (*prefix, group.name))
    return found


def test_the_table_lists_every_command_in_the_eager_order():
    eager = [info.name for info in EAGER.registered_commands] + [g.name for g in EAGER.registered_groups]
    assert [entry.name for entry in COMMANDS] == eager


def test_the_stored_root_help_is_what_typer_prints_to_a_pipe():
    assert ROOT_HELP_FILE.read_text(encoding="utf-8") == render_help(EAGER, []), \
        "run python scripts/regen_help.py"


def test_the_stored_table_is_current():
    script = Path(__file__).resolve().parents[2] / "scripts" / "regen_help.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("argv", _argvs(EAGER), ids=lambda a: " ".join(a) or "(root)")
def test_lazy_help_equals_eager_help(argv):
    assert render_help(build_lazy_app(__version__), argv) == render_help(EAGER, argv)


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_help_to_a_pipe_imports_neither_typer_nor_rich():
    result = _python("import sys\nfrom amatelier.cli import main\nmain(['--help'])\n"
                     "print(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'click')),"
                     " file=sys.stderr)")
    assert result.returncode == 0
    assert result.stdout == ROOT_HELP_FILE.read_text(encoding="utf-8")
    assert result.stderr.strip() == "[]"


def test_a_command_imports_only_its_own_area(tmp_path):
    code = ("import sys, os\nos.environ['AMATELIER_WORKSPACE'] = sys.argv[1]\nfrom amatelier.cli import main\n"
            "try:\n    main(['sparks', '--json'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('amatelier.commands.')), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = result.stderr.strip().splitlines()[-1]
    assert "amatelier.commands.economy" in loaded
    assert "amatelier.commands.learning" not in loaded and "amatelier.commands.setup" not in loaded


def test_a_typo_still_gets_a_suggestion():
    result = subprocess.run([sys.executable, "-m", "amatelier", "sparx"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "Did you mean 'sparks'?" in result.stderr


def test_the_venture_tag_shows_in_help():
    assert "[[venture:<tier>: <claim>]]" in ROOT_HELP_FILE.read_text(encoding="utf-8")
    assert "[[venture:<tier>: <claim>]]" in render_help(EAGER, ["venture"]).replace("\n", " ").replace("│", "")

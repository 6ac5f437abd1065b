"""The built wheel ships the bundled assets, and an installed wheel finds them.

Builds the wheel with hatchling (the project's build backend, a dev dependency) into a temp
dir, unpacks it as a site directory and runs amatelier from there in a fresh process, so
what is checked is the wheel's content, not the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "amatelier"
AGENTS = ("clare", "elena", "haiku-assistant", "judge", "marcus", "naomi", "opus-admin",
          "opus-therapist", "simon", "therapist")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling", reason="hatchling (the build backend, in the dev extra) is not installed")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [built] = list(out.glob("amatelier-*.whl"))
    return built


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_holds_every_bundled_asset(wheel: Path) -> None:
    names = _names(wheel)
    assert "amatelier/config.json" in names
    for agent in AGENTS:
        assert f"amatelier/agents/{agent}/CLAUDE.md" in names
        assert f"amatelier/agents/{agent}/IDENTITY.md" in names
    assert "amatelier/store/catalog.json" in names
    migrations = {p.name for p in (PACKAGE / "migrations").glob("*.sql")}
    assert migrations and {f"amatelier/migrations/{m}" for m in migrations} <= names
    docs = {p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md")}
    assert docs and {f"amatelier/docs/{d}" for d in docs} <= names
    schemas = {p.name for p in (REPO / "docs" / "schemas").iterdir()}
    assert {"digest.schema.json", "run_manifest.schema.json", "telemetry_event.schema.json",
            "openapi.yaml"} <= schemas and {f"amatelier/docs/schemas/{s}" for s in schemas} <= names
    assert "amatelier/serve/static/index.html" in names   # the live page ships with the package
    assert "amatelier/docs/schemas/decision.schema.json" in names  # validated against at run time
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        assert "amatelier = amatelier.cli:main" in archive.read(entry_points).decode()
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]


def test_installed_wheel_finds_its_assets(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    workspace = tmp_path / "ws"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMATELIER_")}
    env.update(PYTHONPATH=str(site), AMATELIER_WORKSPACE=str(workspace), AMATELIER_MODE="offline")
    code = (
        "import json, amatelier\n"
        "from amatelier import paths\n"
        "from amatelier.chat.db import open_db\n"
        "from amatelier.config import load_config\n"
        "conn = open_db()\n"
        "print(json.dumps({'package': amatelier.__file__,\n"
        "  'docs': str(paths.bundled_docs_dir()), 'docs_ok': paths.bundled_docs_dir().is_dir(),\n"
        "  'agents': sorted(p.name for p in paths.bundled_agents_dir().iterdir()),\n"
        "  'catalog': paths.bundled_store_catalog().is_file(),\n"
        "  'workers': sorted(load_config()['team']['workers']),\n"
        "  'migrated': [r[0] for r in conn.execute('SELECT version FROM schema_migrations')],\n"
        "  'seeded': (paths.user_agent_dir('judge') / 'CLAUDE.md').is_file()}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert Path(report["package"]).is_relative_to(site)  # the wheel, not the checkout
    assert report["docs"] == str(site / "amatelier" / "docs") and report["docs_ok"]
    assert report["agents"] == list(AGENTS)
    assert report["catalog"] and report["seeded"]
    assert "naomi" in report["workers"]
    assert report["migrated"] == sorted(int(p.name[:3]) for p in (PACKAGE / "migrations").glob("[0-9][0-9][0-9]_*")
                                       if p.suffix in (".sql", ".py"))  # SQL and Python migrations

    shown = subprocess.run([sys.executable, "-m", "amatelier", "docs", "reference/config"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == (REPO / "docs" / "reference" / "config.md").read_text(encoding="utf-8")

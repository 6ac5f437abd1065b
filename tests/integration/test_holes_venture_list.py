"""`venture list` says why a venture was skipped, and its help shows the [[venture:...]] tag."""

from __future__ import annotations

import json

import pytest
from tests.helpers.roundtable_run import rt_env, run_cli

from amatelier.chat.db import open_db
from amatelier.config import load_config
from amatelier.economy import ledger

pytestmark = pytest.mark.e2e


def test_a_skipped_venture_shows_its_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path))
    conn = open_db()
    try:
        skipped = ledger.pitch_venture(conn, "clare", "moonshot", "latency [bold]halves[/bold] by Q3", load_config())
    finally:
        conn.close()
    assert skipped["status"] == "skipped"
    env = dict(rt_env(tmp_path), COLUMNS="200")
    table = run_cli(["venture", "list"], env)
    assert table.returncode == 0, table.stderr
    assert "insufficient sparks (balance 0 < stake 30)" in table.stdout
    assert "[bold]halves[/bold]" in table.stdout  # the agent's text is shown as written, not as markup
    listed = json.loads(run_cli(["venture", "list", "--json"], env).stdout)["ventures"]
    assert listed[0]["note"] == "insufficient sparks (balance 0 < stake 30)"


@pytest.mark.parametrize("args", [["venture", "--help"], ["venture", "list", "--help"], ["--help"]])
def test_help_shows_the_venture_tag(tmp_path, args):
    result = run_cli(args, dict(rt_env(tmp_path), COLUMNS="200"))
    assert result.returncode == 0
    assert "[[venture:<tier>: <claim>]]" in result.stdout


def test_an_empty_list_shows_the_tag_too(tmp_path):
    result = run_cli(["venture", "list"], dict(rt_env(tmp_path), COLUMNS="200"))
    assert "[[venture:<tier>: <claim>]]" in result.stdout

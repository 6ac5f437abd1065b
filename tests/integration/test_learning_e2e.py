"""End to end: real `amatelier roundtable` runs (offline) leave the learning loop's traces.

This is the issue's "must show": two consecutive offline roundtables (no --skip-post) in a
fresh workspace leave, for every worker, sessions/<rt_id>.md for each roundtable, a
non-empty behaviors.json and MEMORY.json with both session summaries, a therapist report
per roundtable and entries in shared-skills/index.json; `amatelier analytics --json`
reports both roundtables.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers.learning_fixtures import run_amatelier

pytestmark = pytest.mark.e2e
WORKERS = ["elena", "marcus", "clare", "simon"]

BRIEFING = """# Should the billing monolith be split?

The billing module shares a database with accounts and calls it synchronously in three
places. Decide whether to split billing into its own service this quarter, and in what order.
"""


def _roundtable(workspace: Path, briefing: Path, topic: str) -> str:
    before = {p.name for p in (workspace / "roundtable-server").glob("digest-*.json")}
    result = run_amatelier(["roundtable", "--topic", topic, "--briefing", str(briefing),
                            "--workers", ",".join(WORKERS), "--max-rounds", "2"], workspace, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    new = [p for p in (workspace / "roundtable-server").glob("digest-*.json") if p.name not in before]
    assert len(new) == 1, new
    return json.loads(new[0].read_text())["rt_id"]


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_consecutive_offline_roundtables_run_the_learning_loop(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    briefing = tmp_path / "briefing.md"
    briefing.write_text(BRIEFING, encoding="utf-8")
    agents = workspace / "agents"
    server = workspace / "roundtable-server"

    rt_ids = [_roundtable(workspace, briefing, "split the billing monolith?"),
              _roundtable(workspace, briefing, "split billing: what order?")]

    # The "must show" after two roundtables.
    for agent in WORKERS:
        for rt_id in rt_ids:
            session = agents / agent / "sessions" / f"{rt_id}.md"
            assert session.exists(), session
            assert "## Record" in session.read_text()
        behaviors = _json(agents / agent / "behaviors.json")
        assert behaviors["behaviors"], agent
        memory = _json(agents / agent / "MEMORY.json")
        assert [s["rt_id"] for s in memory["sessions"]] == rt_ids
        assert all(s["summary"] for s in memory["sessions"])
        assert f"Last time you took part in roundtable {rt_ids[1]}" in (agents / agent / "MEMORY.md").read_text()
    for rt_id in rt_ids:
        assert (server / f"therapist-report-{rt_id}.md").exists()
        digest = _json(server / f"digest-{rt_id}.json")
        assert digest["skills_distilled"] >= 1 and digest["therapist"]["report"].endswith(f"{rt_id}.md")
    index = _json(workspace / "shared-skills" / "index.json")
    assert {e["rt_id"] for e in index["entries"]} == set(rt_ids)
    analytics = run_amatelier(["analytics", "--json"], workspace)
    assert analytics.returncode == 0, analytics.stderr
    data = json.loads(analytics.stdout)
    assert [rt["rt_id"] for rt in data["roundtables"]] == rt_ids
    assert set(WORKERS) <= set(data["agents"])
    assert all(len(data["agents"][a]["roundtables"]) == 2 for a in WORKERS)

    # A third roundtable keeps changing memory, behaviours, sessions and the skill index.
    entries_before = len(index["entries"])
    memory_before = {a: _json(agents / a / "MEMORY.json") for a in WORKERS}
    rt_ids.append(_roundtable(workspace, briefing, "split billing: rollback plan?"))
    assert len(_json(workspace / "shared-skills" / "index.json")["entries"]) > entries_before
    for agent in WORKERS:
        memory = _json(agents / agent / "MEMORY.json")
        assert memory != memory_before[agent]
        assert [s["rt_id"] for s in memory["sessions"]] == rt_ids
        assert memory["goals_aged_rts"] == rt_ids
        assert (agents / agent / "sessions" / f"{rt_ids[2]}.md").exists()
        assert _json(agents / agent / "behaviors.json")["decayed_rts"] == rt_ids

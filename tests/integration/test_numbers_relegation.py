"""Relegation as specified: after 3 net-negative roundtables the agent is offered the bench or
retirement (never "stay"); retiring archives its whole state and `team restore` brings it back;
an agent that does not choose is benched."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.economy_bench import put_on_watch
from tests.helpers.learning_fixtures import (
    ScriptedBackend,
    db,
    make_digest,
    make_roundtable,
    run_amatelier,
)
from tests.helpers.roundtable_run import BRIEFING

from amatelier import paths
from amatelier.config import load_config
from amatelier.economy import bench, ledger
from amatelier.economy.retirement import retired_agents, retired_dir
from amatelier.learning import therapist

pytest_plugins = ["tests.helpers.learning_plugin"]


def agent_says(block: dict | None) -> ScriptedBackend:
    """Offline answers, except the debriefed agent's first answer carries this JSON block."""
    def answer(self, **kw):
        text = self.offline(system=kw["system"], prompt=kw["prompt"], model=kw["model"], task=kw["task"],
                            agent=kw["agent"])
        if kw["task"] == "therapist-agent" and "TURN: 1 of" in kw["prompt"] and block is not None:
            return "My answer.\n```json\n" + json.dumps(block) + "\n```"
        if kw["task"] == "therapist-agent" and block is None:
            return text.split("```json")[0]         # no choice at all
        return text
    return ScriptedBackend(answer)


def debrief(agent: str, rt_id: str, backend: ScriptedBackend, conn):
    run = therapist.run_therapist(make_digest(rt_id), [agent], 2, conn=conn, backend=backend,
                                  agent_backend_for=lambda a: backend, config=load_config())
    return run.sessions[0]


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_offer_is_bench_or_retire_and_retire_archives_everything(learning_ws) -> None:
    conn = db()
    config = load_config()
    put_on_watch(conn, "clare", config)
    make_roundtable(conn, "rt300")
    (paths.user_agent_dir("clare") / "skills" / "kept.md").write_text("a skill worth keeping\n")
    backend = agent_says({"relegation_choice": "retire"})
    result = debrief("clare", "rt300", backend, conn)

    offers = [c for c in backend.calls if c["task"] in ("therapist", "therapist-agent")]
    assert any("RELEGATION WATCH: 3" in c["prompt"] for c in offers)
    offered = "\n".join(c["prompt"] + c["system"] for c in offers)
    assert '"retire"' in offered and '"bench"' in offered and '"stay"' not in offered

    assert result.applied["relegation"]["choice"] == "retire"
    assert result.applied["relegation"]["status"].startswith("retired")
    assert not paths.user_agent_dir("clare").exists()
    entry = retired_agents()["clare"]
    archive = retired_dir() / entry["archive"]
    assert entry["archive"].startswith("clare-") and entry["rt_id"] == "rt300"
    kept = files_of(archive)
    assert kept["skills/kept.md"] == b"a skill worth keeping\n"
    assert "sessions/rt300.md" in kept and "CLAUDE.md" in kept          # the debrief itself is kept too
    assert ledger.balance(conn, "clare") == sum(r["amount"] for r in ledger.history(conn, "clare"))

    listed = run_amatelier(["team", "list", "--json"], learning_ws)
    assert listed.returncode == 0, listed.stderr
    view = json.loads(listed.stdout)
    assert "clare" not in view["seated"] and [r["agent"] for r in view["retired"]] == ["clare"]

    named = run_amatelier(["roundtable", "--topic", "t?", "--briefing", str(BRIEFING), "--workers", "clare,elena"],
                          learning_ws)
    assert named.returncode == 2 and "clare is retired (amatelier team restore clare" in named.stderr
    default = run_amatelier(["roundtable", "--topic", "t?", "--briefing", str(BRIEFING), "--max-rounds", "1",
                             "--skip-post", "--skip-naomi"], learning_ws, timeout=300)
    assert default.returncode == 0, default.stderr[-2000:]
    assert "clare" not in json.loads(default.stdout)["workers"] and "retired, left out: clare" in default.stderr
    assert not paths.user_agent_dir("clare").exists()          # nothing after the roundtable recreated it

    restored = run_amatelier(["team", "restore", "clare", "--json"], learning_ws)
    assert restored.returncode == 0, restored.stderr
    assert files_of(paths.user_agent_dir("clare")) == kept
    assert retired_agents() == {}
    again = run_amatelier(["team", "restore", "clare"], learning_ws)
    assert again.returncode == 2 and again.stderr.startswith("amatelier: error: clare is not retired")


def test_no_choice_means_the_bench(learning_ws) -> None:
    conn = db()
    config = load_config()
    put_on_watch(conn, "marcus", config)
    make_roundtable(conn, "rt301")
    result = debrief("marcus", "rt301", agent_says(None), conn)
    assert result.applied["relegation"]["status"] == "benched"
    assert ledger.benched_agents(conn) == ["marcus"]
    assert "no choice" in bench.history(conn, "marcus")[0]["reason"]


def test_stay_is_not_an_option_and_benches(learning_ws) -> None:
    conn = db()
    config = load_config()
    put_on_watch(conn, "simon", config)
    make_roundtable(conn, "rt302")
    result = debrief("simon", "rt302", agent_says({"relegation_choice": "stay"}), conn)
    assert result.applied["relegation"]["status"] == "benched"
    assert paths.user_agent_dir("simon").is_dir() and ledger.benched_agents(conn) == ["simon"]


def test_the_user_can_retire_by_hand_and_errors_are_one_line(learning_ws) -> None:
    before = files_of(paths.user_agent_dir("naomi"))
    done = run_amatelier(["team", "retire", "naomi", "--reason", "not needed", "--json"], learning_ws)
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)
    assert files_of(retired_dir() / entry["archive"]) == {**before, "retirement.json":
                                                          (retired_dir() / entry["archive"] / "retirement.json")
                                                          .read_bytes()}
    twice = run_amatelier(["team", "retire", "naomi", "--json"], learning_ws)
    assert twice.returncode == 2 and json.loads(twice.stderr)["error"].startswith("naomi is already retired")
    hostile = run_amatelier(["team", "restore", "../../etc"], learning_ws)
    assert hostile.returncode == 2 and hostile.stderr.count("\n") == 1 and "not an agent name" in hostile.stderr

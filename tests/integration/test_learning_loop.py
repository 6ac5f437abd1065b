"""The learning loop across roundtables (through the runner's seams) and its CLI commands."""

from __future__ import annotations

import json

from tests.helpers.learning_fixtures import (
    db,
    hook_state,
    make_digest,
    make_roundtable,
    run_amatelier,
    write_digest,
)

from amatelier import paths
from amatelier.learning import agent_memory, evolver
from amatelier.learning import debrief as learning_hooks

pytest_plugins = ["tests.helpers.learning_plugin"]


WORKERS = ["elena", "marcus", "clare", "simon"]
TOPICS = ["split the billing monolith?", "adopt event sourcing for orders?", "retire the legacy auth proxy?"]


def run_one(conn, rt_id: str, topic: str, day: int, skip_post: bool = False) -> dict:
    """What the runner does around one roundtable, minus the debate itself."""
    make_roundtable(conn, rt_id, topic, WORKERS, variant=day)
    digest = make_digest(rt_id, WORKERS, topic, ended_at=f"2026-04-0{day}T00:10:00Z")
    state = hook_state(conn, digest, skip_post=skip_post)
    learning_hooks.before_open(state)
    digest.update(learning_hooks.after_close(state, digest))
    write_digest(digest)
    learning_hooks.post(state, digest)
    assert state.notes["learning"]["errors"] == []
    return digest


def index_entries() -> list:
    return json.loads(paths.user_shared_skills_index().read_text())["entries"]


def test_three_roundtables_change_memory_behaviours_sessions_and_skills(learning_ws) -> None:
    conn = db()
    history = []
    for day, (rt_id, topic) in enumerate(zip(["rtA1", "rtB2", "rtC3"], TOPICS, strict=True), 1):
        digest = run_one(conn, rt_id, topic, day)
        snapshot = {
            "skills": len(index_entries()),
            "memory": {a: agent_memory.load_memory(a) for a in WORKERS},
            "behaviors": {a: evolver.load_behaviors(a) for a in WORKERS},
        }
        history.append(snapshot)
        assert 10 <= digest["skills_distilled"] <= 15 and "distill_error" not in digest
        assert len(digest["skill_titles"]) == digest["skills_distilled"]
    # Skill index grew every roundtable.
    assert history[0]["skills"] < history[1]["skills"] < history[2]["skills"]
    assert {e["rt_id"] for e in index_entries()} == {"rtA1", "rtB2", "rtC3"}
    for agent in WORKERS:
        sessions = sorted(p.stem for p in (paths.user_agent_dir(agent) / "sessions").glob("*.md"))
        assert sessions == ["rtA1", "rtB2", "rtC3"]
        memory = history[-1]["memory"][agent]
        assert [s["rt_id"] for s in memory["sessions"]] == ["rtA1", "rtB2", "rtC3"]
        # the first roundtable's goal was aged by the two that followed
        first_goal = memory["goals"][0]
        assert first_goal["rt_id"] == "rtA1" and first_goal["rts_elapsed"] == 2
        assert memory["goals_aged_rts"] == ["rtA1", "rtB2", "rtC3"]
        assert memory["session_bridge"]["from_rt"] == "rtC3"
        md = (paths.user_agent_dir(agent) / "MEMORY.md").read_text()
        assert "Last time you took part in roundtable rtC3" in md
        # behaviours exist, were touched by later roundtables, and decayed when unconfirmed
        behaviors = history[-1]["behaviors"][agent]
        assert behaviors["behaviors"] and behaviors["decayed_rts"] == ["rtA1", "rtB2", "rtC3"]
        assert history[0]["behaviors"][agent]["behaviors"] != behaviors["behaviors"]
        for entry in behaviors["behaviors"]:
            touched = {entry.get("added_rt"), entry.get("last_confirmed_rt")}
            expected = 1.0 if "rtC3" in touched else (0.95 if "rtB2" in touched else 0.9)
            assert entry["confidence"] == expected
        claude = evolver.read_claude_md(agent)
        assert set(evolver.get_section_items(claude, "Learned Behaviors")) >= {b["text"] for b in behaviors["behaviors"]}
    for rt_id in ("rtA1", "rtB2", "rtC3"):
        assert (paths.user_digest_dir() / f"therapist-report-{rt_id}.md").exists()
    metrics = json.loads((paths.user_agent_dir("elena") / "metrics.json").read_text())
    assert metrics["analytics"]["scored_rts"] == 3 and metrics["analytics"]["last_rt"] == "rtC3"


def test_skip_post_distils_but_skips_the_therapist(learning_ws) -> None:
    conn = db()
    digest = run_one(conn, "rtS1", TOPICS[0], 1, skip_post=True)
    assert digest["skills_distilled"] >= 10 and index_entries()
    assert not list((paths.user_agent_dir("elena") / "sessions").glob("*.md"))
    assert not (paths.user_digest_dir() / "therapist-report-rtS1.md").exists()
    assert agent_memory.load_memory("elena")["goals_aged_rts"] == []


def test_hooks_survive_a_broken_backend(learning_ws, monkeypatch) -> None:
    conn = db()
    make_roundtable(conn, "rtX1")
    digest = make_digest("rtX1")
    state = hook_state(conn, digest)
    from amatelier.learning import therapist

    def boom(*args, **kwargs):
        raise RuntimeError("therapist exploded")

    monkeypatch.setattr(therapist, "run_therapist", boom)
    fields = learning_hooks.after_close(state, digest)
    assert fields["skills_distilled"] >= 10
    learning_hooks.post(state, digest)                    # must not raise
    errors = state.notes["learning"]["errors"]
    assert errors == ["therapist: RuntimeError: therapist exploded"]
    assert agent_memory.load_memory("elena")["goals_aged_rts"] == ["rtX1"]


# --------------------------------------------------------------------------- CLI


def test_cli_therapist_and_analytics(learning_ws) -> None:
    conn = db()
    run_one(conn, "rtC1", TOPICS[0], 1, skip_post=True)
    conn.close()
    result = run_amatelier(["therapist", "--digest", "rtC1", "--agents", "elena,marcus", "--json"], learning_ws)
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert [s["agent"] for s in run["sessions"]] == ["elena", "marcus"]
    assert all(s["complete"] for s in run["sessions"])
    assert (paths.user_agent_dir("marcus") / "sessions" / "rtC1.md").exists()
    assert not (paths.user_agent_dir("clare") / "sessions" / "rtC1.md").exists()

    human = run_amatelier(["therapist", "--digest", str(paths.user_digest_dir() / "digest-rtC1.json"),
                           "--agents", "clare", "--turns", "3"], learning_ws, columns=80)
    assert human.returncode == 0, human.stderr
    assert "Therapist — roundtable rtC1" in human.stdout and "therapist-report-rtC1.md" in human.stdout
    record = json.loads((paths.user_agent_dir("clare") / "sessions" / "rtC1.md").read_text()
                        .rsplit("```json", 1)[1].split("```")[0])
    assert record["turns_done"] == 3

    out = run_amatelier(["analytics", "--json"], learning_ws)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [rt["rt_id"] for rt in data["roundtables"]] == ["rtC1"]
    assert data["agents"]["elena"]["therapist"]["sessions"] == 1
    assert data["agents"]["simon"]["therapist"]["sessions"] == 0
    one = run_amatelier(["analytics", "elena", "--json"], learning_ws)
    assert json.loads(one.stdout)["agent"] == "elena"
    table = run_amatelier(["analytics"], learning_ws, columns=80)
    assert table.returncode == 0 and "Roundtables (1)" in table.stdout and "elena" in table.stdout
    report = run_amatelier(["analytics", "elena"], learning_ws, columns=80)
    assert report.returncode == 0 and "Growth report — elena" in report.stdout
    for out in (table.stdout, report.stdout, human.stdout):   # readable in an 80-column terminal
        assert all(len(line) <= 80 for line in out.splitlines()), out
        assert "None" not in out, out
    assert "…" not in table.stdout and "…" not in report.stdout     # no column cut short


def test_cli_bad_input_is_one_line_and_exit_2(learning_ws, tmp_path) -> None:
    bad = tmp_path / "digest-bad.json"
    bad.write_text("{broken")
    cases = [
        (["therapist", "--digest", str(bad)], "is not valid JSON"),
        (["therapist", "--digest", "nosuchrt"], "digest not found: nosuchrt"),
        (["therapist", "--digest", str(bad), "--turns", "9"], "--turns must be between 1 and 5"),
        (["analytics", "zeus"], "unknown agent 'zeus'"),
    ]
    for args, message in cases:
        result = run_amatelier(args, learning_ws)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("amatelier: error: ") and message in lines[0], lines
        assert "Traceback" not in result.stderr
    good = tmp_path / "digest-x.json"
    good.write_text(json.dumps({"rt_id": "x", "topic": "t"}))
    result = run_amatelier(["therapist", "--digest", str(good)], learning_ws)
    assert result.returncode == 2 and "names no workers" in result.stderr
    # A typo in --agents is refused before anything is written for a made-up agent.
    result = run_amatelier(["therapist", "--digest", str(good), "--agents", "elena,elenna"], learning_ws)
    assert result.returncode == 2 and "unknown agent 'elenna'" in result.stderr, result.stderr
    assert not (learning_ws / "agents" / "elenna").exists()
    assert not (learning_ws / "agents" / "elena" / "sessions" / "x.md").exists()


def test_cli_analytics_with_nothing_yet(learning_ws) -> None:
    result = run_amatelier(["analytics"], learning_ws)
    assert result.returncode == 0 and "no roundtables yet" in result.stdout
    data = json.loads(run_amatelier(["analytics", "--json"], learning_ws).stdout)
    assert data["roundtables"] == [] and data["agents"]

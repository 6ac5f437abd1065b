"""The therapist against the offline backend on a synthetic roundtable, and its failure paths."""

from __future__ import annotations

import json

import pytest
from tests.helpers.learning_fixtures import (
    ScriptedBackend,
    db,
    fail,
    make_digest,
    make_roundtable,
)

from amatelier import paths
from amatelier.config import load_config
from amatelier.learning import agent_memory, evolver, therapist

pytest_plugins = ["tests.helpers.learning_plugin"]


WORKERS = ["elena", "marcus", "clare", "simon", "naomi"]


def session_text(agent: str, rt_id: str) -> str:
    return (paths.user_agent_dir(agent) / "sessions" / f"{rt_id}.md").read_text()


def store_request_status(conn, rt_id: str, agent: str, item_id: str) -> str:
    """Run a one-turn session whose outcome asks the store for `item_id`; the status applied."""
    outcome = {"session_summary": "s", "store_request": {"item_id": item_id, "reason": "goal"}}
    block = "```json\n" + json.dumps(outcome) + "\n```"
    backend = ScriptedBackend(lambda self, **kw: block if kw["task"] == "therapist" else "ok")
    run = therapist.run_therapist(make_digest(rt_id), [agent], 1, conn=conn, backend=backend,
                                  agent_backend_for=lambda a: backend, config=load_config())
    return run.sessions[0].applied["store_request"]["status"]


def test_offline_sessions_for_every_worker(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt100", workers=WORKERS)
    digest = make_digest("rt100", WORKERS)
    run = therapist.run_therapist(digest, turns=2, conn=conn, config=load_config())
    assert [s.agent for s in run.sessions] == WORKERS
    assert all(s.complete and s.turns_done == 2 for s in run.sessions)
    for agent in WORKERS:
        text = session_text(agent, "rt100")
        assert "- Status: complete" in text and "**Therapist** (turn 1):" in text
        record = therapist.read_session_record(paths.user_agent_dir(agent) / "sessions" / "rt100.md")
        assert record["complete"] is True and record["agent"] == agent
        behaviors = evolver.load_behaviors(agent)["behaviors"]
        assert len(behaviors) == 1 and behaviors[0]["added_rt"] == "rt100"
        assert evolver.get_section_items(evolver.read_claude_md(agent), "Learned Behaviors") == \
            [behaviors[0]["text"]]
        memory = agent_memory.load_memory(agent)
        assert memory["sessions"][-1]["rt_id"] == "rt100" and memory["sessions"][-1]["complete"]
        assert memory["goals"][0]["status"] == "active" and memory["lessons"] and memory["diary"]
        notes = json.loads(therapist.case_notes_path(agent).read_text())
        assert notes["sessions_conducted"] == 1 and notes["intervention_history"][0]["rt_id"] == "rt100"
    report = (paths.user_digest_dir() / "therapist-report-rt100.md").read_text()
    assert all(f"## {a}" in report for a in WORKERS)
    roles = conn.execute("SELECT role, agent, COUNT(*) FROM llm_calls WHERE rt_id = 'rt100'"
                         " GROUP BY role, agent").fetchall()
    counts = {(r[0], r[1]): r[2] for r in roles}
    assert counts[("therapist", "therapist")] == 2 * len(WORKERS)
    assert all(counts[("therapist-agent", a)] == 2 for a in WORKERS)


def test_the_therapist_prompt_carries_the_data(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt101")
    (paths.user_agent_dir("elena") / "skills" / "outbox-pattern.md").write_text("# Outbox pattern\n")
    (paths.user_agent_dir("elena") / "skills" / "event-log.md").write_text("# Event log\n")
    evolver.sync_skills_owned("elena", conn)
    backend = ScriptedBackend(lambda self, **kw: self.offline(**{k: kw[k] for k in ("system", "prompt", "model")},
                                                             task=kw["task"], agent=kw["agent"]))
    therapist.run_session("rt101", "elena", make_digest("rt101"), 2, conn=conn, backend=backend,
                          agent_backend=backend, config=load_config())
    first = backend.calls[0]
    assert first["task"] == "therapist" and "GROW" in first["system"] and "RT: rt101" in first["prompt"]
    for marker in ("AGENT: elena", "TURN: 1 of 2", "SCORES: novelty=1 accuracy=2 impact=0 challenge=1 total=4",
                   "CONTRIBUTIONS: 4", "FLOOR BUDGET: spent 0 of 3", "STABILITY: R2=0.4",
                   "SKILLS OWNED: event-log (in use); outbox-pattern (unused this roundtable"):
        assert marker in first["prompt"], marker
    assert "TURN: 2 of 2 (close)" in backend.calls[2]["prompt"]
    agent_call = backend.calls[1]
    assert agent_call["task"] == "therapist-agent" and agent_call["agent"] == "elena"
    assert "THERAPIST ASKS:" in agent_call["prompt"]


def test_agent_failure_after_the_close_applies_outcomes_but_marks_incomplete(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt102")
    offline = ScriptedBackend(lambda self, **kw: self.offline(system=kw["system"], prompt=kw["prompt"],
                                                               model=kw["model"], task=kw["task"], agent=kw["agent"]))

    def flaky_agent(self, **kw):
        if "TURN: 2 of 2" in kw["prompt"]:
            fail("timeout")
        return "I was aiming for accuracy and I rushed the rebuttal in round 2."

    run = therapist.run_therapist(make_digest("rt102"), ["elena"], 2, conn=conn, backend=offline,
                                  agent_backend_for=lambda a: ScriptedBackend(flaky_agent), config=load_config())
    session = run.sessions[0]
    assert not session.complete and session.error.startswith("timeout") and session.turns_done == 1
    assert session.applied["behaviors"] and session.applied["behaviors"][0]["result"] == "added"
    assert "- Status: incomplete (timeout" in session_text("elena", "rt102")
    memory = agent_memory.load_memory("elena")
    assert memory["sessions"][-1]["complete"] is False
    assert not therapist.case_notes_path("elena").exists()          # no case-notes increment
    json.loads((paths.user_agent_dir("elena") / "behaviors.json").read_text())  # still valid JSON
    errors = conn.execute("SELECT COUNT(*) FROM llm_calls WHERE rt_id='rt102' AND status='error'").fetchone()[0]
    assert errors == 1


def test_therapist_failure_before_the_close_changes_no_behaviour(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt103")

    def therapist_dies(self, **kw):
        if "TURN: 2 of 2" in kw["prompt"]:
            fail("server")
        return self.offline(system=kw["system"], prompt=kw["prompt"], model=kw["model"], task=kw["task"],
                            agent=kw["agent"])

    backend = ScriptedBackend(therapist_dies)
    run = therapist.run_therapist(make_digest("rt103"), ["marcus"], 2, conn=conn, backend=backend,
                                  agent_backend_for=lambda a: backend, config=load_config())
    session = run.sessions[0]
    assert not session.complete and session.error.startswith("server")
    assert evolver.load_behaviors("marcus")["behaviors"] == []
    summary = agent_memory.load_memory("marcus")["sessions"][-1]
    assert summary["complete"] is False and "cut short" in summary["summary"]
    assert "## Record" in session_text("marcus", "rt103")
    assert (paths.user_digest_dir() / "therapist-report-rt103.md").read_text().count("incomplete") == 1


def test_store_request_is_recorded_pending_without_a_store(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt104")
    block = ('Close.\n```json\n{"behavioral_deltas": [], "session_summary": "Wants a skill.", '
             '"store_request": {"item_id": "evidence-ladder", "reason": "accuracy goal"}}\n```')
    backend = ScriptedBackend(lambda self, **kw: block if kw["task"] == "therapist" else "I agree.")
    run = therapist.run_therapist(make_digest("rt104"), ["clare"], 1, conn=conn, backend=backend,
                                  agent_backend_for=lambda a: backend, config=load_config())
    request = run.sessions[0].applied["store_request"]
    try:
        import amatelier.economy.store  # noqa: F401
        has_store = True
    except ImportError:
        has_store = False
    if not has_store:
        assert request == {"item_id": "evidence-ladder", "reason": "accuracy goal",
                           "status": "pending: store not available"}
    assert "Store request: evidence-ladder" in session_text("clare", "rt104")


def test_bad_digests_raise_one_line_errors(learning_ws, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for path, expected in ((bad, "is not valid JSON (line 1"), (tmp_path / "none.json", "digest not found")):
        try:
            therapist.load_digest(path)
        except therapist.DigestError as exc:
            assert expected in str(exc) and "\n" not in str(exc)
        else:
            raise AssertionError("expected DigestError")
    no_id = tmp_path / "noid.json"
    no_id.write_text('{"topic": "x"}')
    try:
        therapist.load_digest(no_id)
    except therapist.DigestError as exc:
        assert "has no rt_id" in str(exc)


def test_store_request_goes_through_the_store(learning_ws, monkeypatch) -> None:
    import sys
    import types

    import amatelier.economy

    calls = []

    def process_store_request(conn, agent, request, config):
        calls.append((agent, dict(request)))
        if request["item_id"] == "cheap":
            return {"action": "purchased", "ok": True, "price": 5, "balance": 10}
        return {"action": "queued", "ok": False, "reason": "insufficient_funds", "request": {"id": "r1"}}

    fake = types.SimpleNamespace(process_store_request=process_store_request)
    monkeypatch.setitem(sys.modules, "amatelier.economy.store", fake)
    monkeypatch.setattr(amatelier.economy, "store", fake, raising=False)
    conn = db()
    make_roundtable(conn, "rt105")
    for agent, item in (("elena", "cheap"), ("marcus", "pricey")):
        status = store_request_status(conn, "rt105", agent, item)
        if item == "cheap":
            assert status == "purchased (5 sparks, balance 10)"
        else:
            assert status == "queued on the bulletin board (not enough sparks)"
    assert [c[0] for c in calls] == ["elena", "marcus"] and calls[0][1]["item_id"] == "cheap"


def test_store_request_with_the_real_store(learning_ws) -> None:
    """Affordable: bought, delivered, listed as owned. Unaffordable: on the bulletin board."""
    store = pytest.importorskip("amatelier.economy.store")
    ledger = pytest.importorskip("amatelier.economy.ledger")
    conn = db()
    make_roundtable(conn, "rt106")
    ledger.append(conn, "elena", 40, "score", rt_id="rt106", reason="test grant", ref="grant-rt106")
    item = next(r for r in store.catalog_rows() if r["kind"] == "skill")
    for agent in ("elena", "simon"):
        status = store_request_status(conn, "rt106", agent, item["id"])
        if agent == "elena":
            assert status.startswith(f"purchased ({item['price']} sparks")
            assert item["id"] in evolver.sync_skills_owned("elena", conn)
            assert item["id"] in evolver.get_section_items(evolver.read_claude_md("elena"), "Skills Owned")
        else:
            assert status == "queued on the bulletin board (not enough sparks)"
            assert any(r["agent"] == "simon" and r.get("item") == item["id"] for r in store.list_requests(conn))


def test_an_unscored_agent_with_earlier_scores_still_gets_its_session(learning_ws) -> None:
    # The Judge could not score elena this time (repair failed); her earlier roundtables were
    # scored, so the brief has a prior average but no change to show.
    from tests.helpers.learning_fixtures import write_digest

    conn = db()
    write_digest(make_digest("rt110", ["elena"], ended_at="2026-01-01T00:10:00Z"))
    make_roundtable(conn, "rt111", workers=["elena"])
    digest = make_digest("rt111", ["elena"], scores={"elena": {"unscored": "judge output invalid after one repair"}},
                         ended_at="2026-01-02T00:10:00Z")
    run = therapist.run_therapist(digest, ["elena"], 2, conn=conn, config=load_config())
    session = run.sessions[0]
    assert session.complete and session.error is None
    text = session_text("elena", "rt111")
    assert "SCORES: unscored (judge output invalid after one repair)" in text
    assert "PRIOR AVERAGE TOTAL: 4.0\n" in text
    assert agent_memory.load_memory("elena")["sessions"][-1]["rt_id"] == "rt111"


def test_ids_that_would_escape_the_workspace_are_refused(learning_ws, tmp_path) -> None:
    # rt_id and agent names become file names (sessions/<rt_id>.md, agents/<name>/...).
    path = tmp_path / "digest.json"
    path.write_text(json.dumps({"rt_id": "../../etc", "workers": ["elena"]}))
    with pytest.raises(therapist.DigestError, match="invalid rt_id '../../etc'"):
        therapist.load_digest(path)
    for digest, problem in (({"rt_id": "../../etc", "workers": ["elena"]}, "invalid rt_id"),
                            ({"rt_id": "rt112", "workers": ["../../outside"]}, "invalid agent")):
        with pytest.raises(therapist.DigestError, match=problem):
            therapist.run_therapist(digest, conn=db(), config=load_config())
    assert not (learning_ws / "etc.md").exists() and not (learning_ws / "agents" / "etc.md").exists()
    assert not (learning_ws.parent / "outside").exists()


def test_broken_case_notes_are_kept_aside_and_the_session_still_counts(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt113")
    notes = therapist.case_notes_path("clare")
    notes.parent.mkdir(parents=True, exist_ok=True)
    notes.write_text('{"sessions_conducted": 4, "clinical')
    run = therapist.run_therapist(make_digest("rt113"), ["clare"], 2, conn=conn, config=load_config())
    assert run.sessions[0].complete and run.sessions[0].error is None
    assert json.loads(notes.read_text())["sessions_conducted"] == 1
    assert [p.name.split(".corrupt-")[0] for p in notes.parent.glob("*.corrupt-*")] == ["clare.json"]


def test_the_report_names_an_agent_whose_session_broke(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt114")
    (paths.user_agent_dir("simon") / "sessions").rmdir()
    (paths.user_agent_dir("simon") / "sessions").write_text("not a directory")   # simon's state is broken
    run = therapist.run_therapist(make_digest("rt114"), ["elena", "simon"], 2, conn=conn, config=load_config())
    by_agent = {s.agent: s for s in run.sessions}
    assert by_agent["elena"].complete and by_agent["simon"].error
    report = (paths.user_digest_dir() / "therapist-report-rt114.md").read_text()
    assert "## elena\n\n- Session: complete" in report
    assert "## simon\n\n- Session: failed (error:" in report

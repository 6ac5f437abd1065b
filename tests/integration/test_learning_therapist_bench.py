"""The debrief side of relegation (the agent's bench-or-stay choice) and of private store
requests (therapist step 14: the requests a session reviewed are marked addressed)."""

from __future__ import annotations

import json

from tests.helpers.economy_bench import put_on_watch
from tests.helpers.learning_fixtures import (
    ScriptedBackend,
    db,
    fail,
    make_digest,
    make_roundtable,
    run_amatelier,
)

from amatelier import paths
from amatelier.config import load_config
from amatelier.economy import bench, ledger, store
from amatelier.learning import evolver, therapist

pytest_plugins = ["tests.helpers.learning_plugin"]


def offline_answer(self, **kw) -> str:
    return self.offline(system=kw["system"], prompt=kw["prompt"], model=kw["model"], task=kw["task"],
                        agent=kw["agent"])


def scripted(therapist_close: dict | None = None, agent_block: dict | None = None) -> ScriptedBackend:
    """Offline answers, except the therapist's close (this outcome) and the agent's first answer (+ block)."""
    def answer(self, **kw):
        text = offline_answer(self, **kw)
        closing = "(close)" in kw["prompt"].split("CONVERSATION SO FAR")[0]
        if kw["task"] == "therapist" and closing and therapist_close is not None:
            return "Summing up.\n```json\n" + json.dumps(therapist_close) + "\n```"
        if kw["task"] == "therapist-agent" and "TURN: 1 of" in kw["prompt"] and agent_block is not None:
            return "My answer.\n```json\n" + json.dumps(agent_block) + "\n```"
        return text
    return ScriptedBackend(answer)


def session(agent: str, rt_id: str, backend: ScriptedBackend, conn, turns: int = 2):
    run = therapist.run_therapist(make_digest(rt_id), [agent], turns, conn=conn, backend=backend,
                                  agent_backend_for=lambda a: backend, config=load_config())
    return run.sessions[0]


def session_text(agent: str, rt_id: str) -> str:
    return (paths.user_agent_dir(agent) / "sessions" / f"{rt_id}.md").read_text()


# --------------------------------------------------------------------------- relegation


def test_the_agents_own_bench_choice_wins_and_is_applied(learning_ws) -> None:
    conn = db()
    config = load_config()
    put_on_watch(conn, "clare", config)
    make_roundtable(conn, "rt200")
    backend = scripted(therapist_close={"session_summary": "Clare chose.", "relegation_choice": "stay"},
                       agent_block={"relegation_choice": "bench"})
    result = session("clare", "rt200", backend, conn)
    assert result.complete
    therapist_prompt = backend.calls[0]["prompt"]
    assert "RELEGATION WATCH: 3 net-negative roundtables in a row" in therapist_prompt
    agent_call = next(c for c in backend.calls if c["task"] == "therapist-agent")
    assert "RELEGATION WATCH: 3" in agent_call["prompt"] and "relegation_choice" in agent_call["system"]
    assert result.applied["relegation"] == {"choice": "bench", "negative_streak": 3, "status": "benched"}
    assert ledger.benched_agents(conn) == ["clare"]
    entry = bench.history(conn, "clare")[0]
    assert (entry["action"], entry["source"], entry["rt_id"]) == ("bench", "debrief", "rt200")
    assert "Relegation: bench — benched" in session_text("clare", "rt200")
    report = (paths.user_digest_dir() / "therapist-report-rt200.md").read_text()
    assert "- Relegation: bench — benched" in report
    notes = json.loads(therapist.case_notes_path("clare").read_text())
    assert notes["intervention_history"][-1]["relegation"]["status"] == "benched"
    record = therapist.read_session_record(paths.user_agent_dir("clare") / "sessions" / "rt200.md")
    assert record["outcomes"]["relegation_choice"] == "bench"


def test_a_choice_off_watch_is_ignored_and_no_choice_benches_the_agent(learning_ws) -> None:
    conn = db()
    config = load_config()
    make_roundtable(conn, "rt201")
    off_watch = session("elena", "rt201", scripted(agent_block={"relegation_choice": "bench"}), conn)
    assert off_watch.applied["relegation"]["status"] == "ignored: not on relegation watch"
    put_on_watch(conn, "simon", config)
    undecided = session("simon", "rt201", scripted(therapist_close={"session_summary": "No decision."},
                                                   agent_block={"store_request": None}), conn)
    assert undecided.applied["relegation"]["status"] == "benched"      # not choosing is choosing the bench
    assert ledger.benched_agents(conn) == ["simon"]
    assert "no choice made" in bench.history(conn, "simon")[0]["reason"]
    quiet = session("marcus", "rt201", scripted(), conn)
    assert quiet.applied["relegation"] is None                     # nothing to decide, nothing recorded
    assert "Relegation:" not in session_text("marcus", "rt201")


def test_the_offline_loop_decides_on_its_own(learning_ws) -> None:
    conn = db()
    put_on_watch(conn, "naomi", load_config(), count=5)
    make_roundtable(conn, "rt202", workers=["naomi", "elena"])
    result = session("naomi", "rt202", ScriptedBackend(offline_answer), conn)
    assert result.applied["relegation"]["status"] == "benched"        # the offline agent benches at 5
    assert bench.relegation_status(conn, "naomi", load_config())["status"] == "benched"


def test_relegation_context_falls_back_to_the_digest(learning_ws) -> None:
    config = load_config()
    digest = {"rt_id": "x", "relegation_watch": {"elena": 4, "marcus": True}}
    assert therapist.relegation_context(None, "elena", digest, config) == {
        "negative_streak": 4, "threshold": 3, "bench_income": 2}
    assert therapist.relegation_context(None, "marcus", digest, config) is None
    assert therapist.relegation_context(None, "clare", digest, config) is None
    conn = db()                                                     # the ledger, when there, is what counts
    assert therapist.relegation_context(conn, "elena", digest, config) is None


# --------------------------------------------------------------------------- step 14: private requests


def test_a_complete_session_marks_the_agents_private_requests_addressed(learning_ws) -> None:
    conn = db()
    config = load_config()
    make_roundtable(conn, "rt210")
    ledger.append(conn, "simon", 20, "score", rt_id="rt210", reason="test grant", ref="grant-simon")
    bought = store.purchase(conn, "simon", "private-skill-request", config)
    asked = store.submit_request(conn, "simon", "a checklist for risky migrations", kind="private")
    public = store.submit_request(conn, "simon", "anyone know queueing theory?")
    other = store.submit_request(conn, "clare", "help with brevity", kind="private")
    service = next(r for r in store.list_requests(conn) if r.get("purchase") == bought["purchase_id"])

    no_purchase = {"session_summary": "We talked through what Simon needs."}   # no new request mid-test
    result = session("simon", "rt210", scripted(therapist_close=no_purchase), conn)
    assert result.complete
    assert sorted(result.applied["requests_addressed"]) == sorted([service["id"], asked["id"]])
    requests = {r["id"]: r for r in store.list_requests(conn)}
    for rid in (service["id"], asked["id"]):
        assert requests[rid]["status"] == "addressed" and requests[rid]["addressed_rt"] == "rt210"
        assert requests[rid]["addressed_note"] == "We talked through what Simon needs."
        assert requests[rid]["addressed_session"].endswith("simon/sessions/rt210.md")
    assert requests[public["id"]]["status"] == "open" and requests[other["id"]]["status"] == "open"
    assert "Private requests addressed:" in session_text("simon", "rt210")
    # Still waiting for the admin: listed as pending, and the admin can answer it.
    assert {r["id"] for r in store.get_open_requests(conn, "private")} >= {asked["id"], service["id"]}
    assert asked["id"] in {r["id"] for r in store.inventory(conn, "simon")["requests"]}
    path = store.admin_apply_private_skill(conn, asked["id"], "Migration checklist", "# Checklist\n")
    assert path.exists()
    assert {r["id"]: r for r in store.list_requests(conn)}[asked["id"]]["status"] == "fulfilled"
    # The next session has nothing new to review.
    make_roundtable(conn, "rt211")
    again = session("simon", "rt211", scripted(therapist_close=no_purchase), conn)
    assert again.applied["requests_addressed"] == []


def test_the_brief_lists_open_private_requests(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt212")
    asked = store.submit_request(conn, "elena", "a template for decision records", kind="private")
    backend = ScriptedBackend(offline_answer)
    session("elena", "rt212", backend, conn)
    first = backend.calls[0]["prompt"]
    assert "PRIVATE REQUESTS (open, for the admin" in first
    assert f"- [{asked['id']}] a template for decision records" in first


def test_an_incomplete_session_leaves_requests_open(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt213")
    asked = store.submit_request(conn, "marcus", "an attack-tree template", kind="private")

    def dies(self, **kw):
        if kw["task"] == "therapist" and "TURN: 2 of 2" in kw["prompt"]:
            fail("timeout")
        return offline_answer(self, **kw)

    result = session("marcus", "rt213", ScriptedBackend(dies), conn)
    assert not result.complete and result.applied["requests_addressed"] == []
    assert {r["id"]: r for r in store.list_requests(conn)}[asked["id"]]["status"] == "open"


# --------------------------------------------------------------------------- retired skills and the admin CLI


def test_a_retired_skill_leaves_skills_owned(learning_ws) -> None:
    conn = db()
    config = load_config()
    ledger.append(conn, "elena", 40, "bench", reason="test grant", ref="grant-elena")
    store.purchase(conn, "elena", "decision-record", config)
    assert "decision-record" in evolver.sync_skills_owned("elena", conn)
    store.retire_skill(conn, "elena", "decision-record")
    assert "decision-record" not in evolver.sync_skills_owned("elena", conn)
    assert "decision-record" not in evolver.get_section_items(evolver.read_claude_md("elena"), "Skills Owned")
    store.purchase(conn, "elena", "decision-record", config)                 # bought again: owned again
    assert "decision-record" in evolver.sync_skills_owned("elena", conn)


def test_cli_store_fulfill(learning_ws, tmp_path) -> None:
    conn = db()
    private = store.submit_request(conn, "clare", "shorter rebuttals", kind="private")
    public = store.submit_request(conn, "simon", "a rollback checklist")
    spare = store.submit_request(conn, "simon", "a capacity model")
    conn.close()
    body = tmp_path / "skill.md"
    body.write_text("# Rollback checklist\n\n1. Checkpoint.\n", encoding="utf-8")

    done = run_amatelier(["store", "fulfill", private["id"], "--name", "Short rebuttals", "--body-file",
                          str(body), "--json"], learning_ws)
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    assert receipt["kind"] == "private" and receipt["agent"] == "clare"
    assert (paths.user_agent_dir("clare") / "skills" / f"private-{private['id']}.md").read_text().startswith("# Rollback")
    listed = run_amatelier(["store", "fulfill", public["id"], "--name", "Rollback checklist", "--body-file",
                            str(body), "--by", "marcus", "--price", "9"], learning_ws)
    assert listed.returncode == 0, listed.stderr
    assert f"skill-{public['id']} is listed in the store for 9 sparks" in listed.stdout
    catalog = json.loads(run_amatelier(["store", "list", "--json"], learning_ws).stdout)
    assert any(i["id"] == f"skill-{public['id']}" and i["price"] == 9 for i in catalog["items"])
    board = json.loads(run_amatelier(["store", "requests", "--all", "--json"], learning_ws).stdout)
    assert {r["id"]: r["status"] for r in board["requests"]} == {
        private["id"]: "fulfilled", public["id"]: "fulfilled", spare["id"]: "open"}
    for args, message in (
            (["store", "fulfill", "rnope", "--name", "x", "--body-file", str(body)], "unknown request 'rnope'"),
            (["store", "fulfill", private["id"], "--name", "x", "--body-file", str(tmp_path / "missing.md")],
             "cannot read"),
            (["store", "fulfill", private["id"], "--name", "x", "--body-file", str(body)], "not an open private"),
            (["store", "fulfill", public["id"], "--name", "x", "--body-file", str(body)], "not an open public request"),
            (["store", "fulfill", spare["id"], "--name", "x", "--body-file", str(body), "--by", "ghost"],
             "unknown agent 'ghost'"),
            (["store", "fulfill", spare["id"], "--name", " ", "--body-file", str(body)], "--name must not be empty")):
        result = run_amatelier(args, learning_ws)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr

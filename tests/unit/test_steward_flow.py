"""Budget, tasks, log, formatting, and the runner seams (deferral, INTERMISSION, drain)."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path

import pytest
from tests.helpers.steward_tree import NOTES, make_tree

from amatelier.chat.db import open_db
from amatelier.config import load_bundled_config
from amatelier.debate import steward_turns as steward_hooks
from amatelier.state import RoundtableState
from amatelier.steward.budget import StewardBudget
from amatelier.steward.formatting import format_result
from amatelier.steward.log import StewardLog
from amatelier.steward.result import StewardResult
from amatelier.steward.session import Steward
from amatelier.steward.task import StewardTask

WORKERS = ["elena", "marcus", "clare"]


# ---------------------------------------------------------------- small parts


def test_budget_spends_down_to_zero_per_agent() -> None:
    budget = StewardBudget(2, ["elena"])
    assert [budget.spend("elena") for _ in range(3)] == [True, True, False]
    assert budget.remaining("elena") == 0
    assert budget.spend("marcus") is True
    assert budget.status() == {"elena": 0, "marcus": 1}


def test_task_runs_in_background_and_wait_returns_the_result() -> None:
    gate = threading.Event()

    def work() -> StewardResult:
        gate.wait(5)
        return StewardResult("ok", output="done")

    task = StewardTask("elena", "read x", work)
    assert not task.done.is_set()
    gate.set()
    result = task.wait(5)
    assert result.status == "ok" and result.output == "done" and task.done.is_set()
    assert result.elapsed_s > 0


def test_task_wait_times_out_and_a_late_result_is_discarded() -> None:
    gate = threading.Event()
    finished = threading.Event()

    def work() -> StewardResult:
        gate.wait(5)
        finished.set()
        return StewardResult("ok", output="too late")

    task = StewardTask("elena", "read x", work, timeout_s=0.01)
    assert task.wait(0.01).status == "timeout"
    gate.set()
    assert finished.wait(5)
    task.thread.join(5)
    assert task.result.status == "timeout"


def test_task_turns_an_exception_into_an_error_result() -> None:
    def work() -> StewardResult:
        raise RuntimeError("boom")

    result = StewardTask("elena", "x", work).wait(5)
    assert result.status == "error" and "RuntimeError: boom" in result.output


def test_unknown_status_is_rejected() -> None:
    with pytest.raises(ValueError):
        StewardResult("maybe")


def test_format_result_names_agent_request_path_and_answer() -> None:
    text = format_result("elena", "read notes.md",
                         StewardResult("ok", output="line", path="notes.md", bytes=12, elapsed_s=0.5))
    assert text.splitlines()[0] == "[Research result for elena] request: read notes.md"
    assert text.splitlines()[1] == "ANSWER · path: notes.md · 12 bytes read · 0.50s"
    assert text.splitlines()[2] == "line"
    refused = format_result("marcus", "read /etc/passwd",
                            StewardResult("out_of_scope", output="nope", path="/etc/passwd"))
    assert "REFUSED (out of scope)" in refused
    long = format_result("a", "r", StewardResult("ok", output="x" * 100), max_chars=10)
    assert long.endswith("[truncated at 10 characters]")


def test_log_records_and_saves(tmp_path: Path) -> None:
    log = StewardLog(output_chars=5)
    log.record("elena", "read notes.md",
               StewardResult("ok", output="abcdefgh", path="notes.md", bytes=8, elapsed_s=0.1234567,
                             method="deterministic:read"), 2, phase="SPEAK")
    entry = log.entries()[0]
    assert entry == {"agent": "elena", "request": "read notes.md", "path": "notes.md",
                     "status": "ok", "bytes": 8, "elapsed_s": 0.1235, "round": 2,
                     "phase": "SPEAK", "method": "deterministic:read", "free": False,
                     "output": "abcde ..."}
    log.save(tmp_path / "log.json")
    assert json.loads((tmp_path / "log.json").read_text())[0]["agent"] == "elena"


# ---------------------------------------------------------------- seams


def brief(section: str) -> str:
    return f"# Decide\n\n## Context\nx\n\n## Steward-Registered Files\n{section}\n"


@pytest.fixture
def make_state(tmp_path: Path):
    tree = make_tree(tmp_path)
    conn = open_db(tmp_path / "rt.db")
    conn.execute("INSERT INTO roundtables (id, topic, created_at) VALUES ('rt1', 't', 'now')")

    def build(section: str = "- notes.md\n- config.json", **steward_cfg) -> RoundtableState:
        config = copy.deepcopy(load_bundled_config())
        config["steward"].update(steward_cfg)
        state = RoundtableState(
            rt_id="rt1", topic="t", briefing_text=brief(section), briefing_path=tmp_path / "b.md",
            launch_dir=tree.launch, workers=list(WORKERS), judge="judge", config=config,
            conn=conn, mode="offline", max_rounds=1, budget_per_agent=3)
        steward_hooks.setup(state)
        return state

    build.tree = tree  # type: ignore[attr-defined]
    build.conn = conn  # type: ignore[attr-defined]
    yield build
    conn.close()


def posted(state: RoundtableState) -> list[dict]:
    rows = state.conn.execute(
        "SELECT agent, kind, round, phase, content FROM messages WHERE rt_id = ? ORDER BY id",
        (state.rt_id,)).fetchall()
    return [dict(r) for r in rows]


def gate_lookups(state: RoundtableState) -> threading.Event:
    """Make every lookup block until the returned event is set (so tasks stay pending)."""
    steward: Steward = state.notes["steward"]
    gate = threading.Event()
    real = steward.lookup

    def gated(request: str) -> StewardResult:
        gate.wait(10)
        return real(request)

    steward.lookup = gated  # type: ignore[method-assign]
    return gate


def test_setup_keeps_the_steward_in_notes(make_state) -> None:
    state = make_state()
    steward = state.notes["steward"]
    assert isinstance(steward, Steward) and steward.enabled
    assert steward.registry.entries == ("notes.md", "config.json")


def test_research_window_runs_one_turn_per_worker_and_injects_results(make_state) -> None:
    state = make_state()
    calls: list[tuple[str, str]] = []
    asks = {
        "elena": "[[request: lines 2-2 of notes.md]] [[request: read ../secret.txt]]",
        "marcus": "nothing to ask",
        "clare": "".join("[[request: config.json: llm.mode]]" for _ in range(4)),
    }

    def run_turn(agent: str, phase: str, instructions: str):
        calls.append((agent, phase))
        assert "REGISTERED FILES:\n- notes.md\n- config.json" in instructions
        return asks[agent]

    state.notes["run_turn"] = run_turn
    steward_hooks.research_window(state)
    assert calls == [("elena", "RESEARCH"), ("marcus", "RESEARCH"), ("clare", "RESEARCH")]
    msgs = posted(state)
    assert msgs[0]["kind"] == "phase" and msgs[0]["content"].startswith("--- RESEARCH WINDOW")
    results = [m for m in msgs if m["kind"] == "steward"]
    assert all(m["agent"] == "runner" and m["round"] == 0 and m["phase"] == "RESEARCH"
               for m in results)
    assert len(results) == 6
    elena = [m["content"] for m in results if m["content"].startswith("[Research result for elena]")]
    assert "2: retry budget is 4 attempts" in elena[0]
    assert "REFUSED (out of scope)" in elena[1]
    assert "TOP SECRET" not in "".join(m["content"] for m in msgs)
    log = state.notes["steward"].log.entries()
    by_agent = {a: [e["status"] for e in log if e["agent"] == a] for a in WORKERS}
    # One agent's results keep the order it asked in; extra tags beyond 3 are denied.
    assert by_agent == {"elena": ["ok", "out_of_scope"], "marcus": [],
                        "clare": ["ok", "ok", "ok", "denied_budget"]}
    assert all(e["free"] for e in log)
    assert msgs[-1]["content"].startswith("RESEARCH WINDOW closed: 6 research result(s)")
    # Research-window requests are free: the debate budget is untouched.
    assert state.notes["steward"].budget.remaining("clare") == 3


def test_research_window_accepts_turn_outcome_objects_and_timeouts(make_state) -> None:
    state = make_state()

    class Outcome:
        def __init__(self, text):
            self.text = text

    answers = {"elena": Outcome("[[request: read notes.md]]"), "marcus": Outcome(None), "clare": None}
    state.notes["run_turn"] = lambda agent, phase, text: answers[agent]
    steward_hooks.research_window(state)
    entries = state.notes["steward"].log.entries()
    assert [(e["agent"], e["status"]) for e in entries] == [("elena", "ok")]
    assert NOTES.splitlines()[1] in entries[0]["output"]


def test_research_window_does_nothing_without_registered_files(make_state) -> None:
    state = make_state("(none — no files)")
    state.notes["run_turn"] = lambda *a: pytest.fail("no research turn expected")
    steward_hooks.research_window(state)
    assert posted(state) == []
    assert steward_hooks.digest_fields(state)["steward_enabled"] is False


def speak_phase(state: RoundtableState, speeches: dict[str, list[str]], order: list[str]) -> list[str]:
    """The runner's SPEAK queue, driven through the seams exactly as its contract says."""
    queue = list(order)
    spoke: list[str] = []
    while queue:
        steward_hooks.poll(state)
        ready = [a for a in queue if not steward_hooks.waiting(state, a)]
        if not ready:
            steward_hooks.intermission(state)
            ready = [a for a in queue if not steward_hooks.waiting(state, a)]
        agent = ready[0]
        queue.remove(agent)
        text = speeches[agent].pop(0)
        spoke.append(agent)
        state.conn.execute(
            "INSERT INTO messages (rt_id, agent, kind, round, phase, content, created_at, created_ts)"
            " VALUES (?, ?, 'speech', 1, 'SPEAK', ?, 'now', 0)", (state.rt_id, agent, text))
        if steward_hooks.after_speech(state, agent, text):
            queue.append(agent)
    return spoke


def test_requesting_speakers_go_to_the_back_and_intermission_waits_for_them(make_state) -> None:
    state = make_state()
    state.current_round, state.current_phase = 1, "SPEAK"
    gate = gate_lookups(state)
    steward: Steward = state.notes["steward"]
    real_wait_all = steward.wait_all
    intermissions: list[list[str]] = []

    def release_then_wait(tasks=None):
        # The lookups are still running when INTERMISSION starts: every speaker waits.
        intermissions.append(sorted(t.agent for t in (tasks or steward.pending())))
        gate.set()
        real_wait_all(tasks)

    steward.wait_all = release_then_wait  # type: ignore[method-assign]
    speeches = {
        "elena": ["Claim A [[request: lines 2-2 of notes.md]]", "Elena again, grounded."],
        "marcus": ["Marcus, no request."],
        "clare": ["Claim C [[request: config.json: llm.mode]]", "Clare again."],
    }
    spoke = speak_phase(state, speeches, ["elena", "marcus", "clare"])
    assert spoke == ["elena", "marcus", "clare", "elena", "clare"]
    assert intermissions == [["clare", "elena"]]
    contents = [(m["agent"], m["kind"], m["content"].splitlines()[0]) for m in posted(state)]
    inter = next(i for i, c in enumerate(contents) if c[2].startswith("--- INTERMISSION"))
    assert contents[inter - 1] == ("clare", "speech", "Claim C [[request: config.json: llm.mode]]")
    assert contents[inter + 1] == ("runner", "steward",
                                   "[Research result for elena] request: lines 2-2 of notes.md")
    assert contents[inter + 2] == ("runner", "steward",
                                   "[Research result for clare] request: config.json: llm.mode")
    assert contents[inter + 3][:2] == ("elena", "speech")
    assert steward.budget.status() == {"elena": 2, "marcus": 3, "clare": 2}
    log = steward_hooks.digest_fields(state)["steward_log"]
    assert [(e["agent"], e["status"], e["round"], e["phase"]) for e in log] == [
        ("elena", "ok", 1, "SPEAK"), ("clare", "ok", 1, "SPEAK")]


def test_finished_result_is_injected_before_the_next_speaker(make_state) -> None:
    state = make_state()
    state.current_round, state.current_phase = 1, "SPEAK"
    assert steward_hooks.after_speech(state, "elena", "[[request: read notes.md]]") is True
    steward: Steward = state.notes["steward"]
    steward.tasks[0].wait(5)
    assert steward_hooks.waiting(state, "elena") is False
    steward_hooks.poll(state)
    steward_hooks.poll(state)  # nothing twice
    results = [m for m in posted(state) if m["kind"] == "steward"]
    assert len(results) == 1 and "alpha line" in results[0]["content"]


def test_drain_injects_every_pending_result(make_state) -> None:
    state = make_state()
    state.current_round, state.current_phase = 1, "SPEAK"
    gate = gate_lookups(state)
    steward_hooks.after_speech(state, "elena", "[[request: read notes.md]]")
    steward_hooks.after_speech(state, "marcus", "[[request: config.json: llm.mode]]")
    assert steward_hooks.waiting(state, "elena") and steward_hooks.waiting(state, "marcus")
    steward_hooks.poll(state)
    assert [m for m in posted(state) if m["kind"] == "steward"] == []
    gate.set()
    steward_hooks.drain(state)
    assert [m["content"].split("]")[0] for m in posted(state) if m["kind"] == "steward"] == [
        "[Research result for elena", "[Research result for marcus"]
    assert not steward_hooks.waiting(state, "elena")


def test_budget_exhaustion_denies_and_does_not_defer(make_state) -> None:
    state = make_state(budget_per_agent=2)
    state.current_round, state.current_phase = 1, "SPEAK"
    assert steward_hooks.after_speech(state, "elena", "[[request: read notes.md]]" * 2) is True
    steward_hooks.drain(state)
    assert steward_hooks.after_speech(state, "elena", "[[request: read notes.md]]") is False
    steward_hooks.poll(state)
    statuses = [e["status"] for e in state.notes["steward"].log.entries()]
    assert statuses == ["ok", "ok", "denied_budget"]
    assert "DENIED (no Steward budget left)" in posted(state)[-1]["content"]


def test_timeout_result_when_a_lookup_hangs(make_state) -> None:
    state = make_state(timeout_s=0.01, wait_grace_s=0.01)
    gate = gate_lookups(state)
    try:
        steward_hooks.after_speech(state, "elena", "[[request: read notes.md]]")
        steward_hooks.drain(state)
        entry = state.notes["steward"].log.entries()[0]
        assert entry["status"] == "timeout"
        assert "TIMEOUT" in posted(state)[-1]["content"]
    finally:
        gate.set()


def test_requests_without_registered_files_are_refused_not_deferred(make_state) -> None:
    state = make_state("")
    assert steward_hooks.after_speech(state, "elena", "[[request: read notes.md]]") is False
    steward_hooks.poll(state)
    msg = posted(state)[-1]["content"]
    assert "REFUSED (out of scope)" in msg and "no files are registered" in msg
    assert "alpha line" not in msg


def test_speech_without_tags_changes_nothing(make_state) -> None:
    state = make_state()
    assert steward_hooks.after_speech(state, "elena", "plain speech") is False
    assert steward_hooks.waiting(state, "elena") is False


def test_free_form_request_goes_to_the_offline_model_and_is_recorded(make_state) -> None:
    state = make_state()
    state.current_round, state.current_phase = 1, "SPEAK"
    steward_hooks.after_speech(state, "elena", "[[request: what does the project say about retry?]]")
    steward_hooks.drain(state)
    entry = state.notes["steward"].log.entries()[0]
    assert entry["status"] == "ok" and entry["method"] == "subagent:offline"
    assert "retry budget is 4 attempts" in entry["output"]
    calls = state.conn.execute("SELECT agent, role, backend FROM llm_calls").fetchall()
    assert [tuple(c) for c in calls] == [("elena", "steward", "offline")]


def test_digest_fields(make_state) -> None:
    state = make_state("- notes.md\n- ../*.md")
    steward_hooks.after_speech(state, "elena", "[[request: read notes.md]]")
    steward_hooks.drain(state)
    fields = steward_hooks.digest_fields(state)
    assert fields["steward_enabled"] is True
    assert fields["steward_registered"] == ["notes.md"]
    assert fields["steward_rejected"][0]["entry"] == "../*.md"
    assert fields["steward_budget"]["elena"] == 2
    assert fields["steward_log"][0]["path"] == "notes.md"


def test_turn_instructions_mention_budget_and_files(make_state) -> None:
    state = make_state()
    text = steward_hooks.turn_instructions(state, "elena")
    assert "3 request(s) left" in text and "notes.md, config.json" in text
    assert steward_hooks.turn_instructions(make_state(""), "elena") == ""


def test_model_lookups_are_capped_in_parallel(make_state, monkeypatch: pytest.MonkeyPatch) -> None:
    state = make_state(max_parallel=1)
    steward: Steward = state.notes["steward"]
    running = threading.Event()
    release = threading.Event()
    active: list[int] = []
    peak: list[int] = []
    lock = threading.Lock()

    def fake_subagent(request, registry, **kwargs):
        with lock:
            active.append(1)
            peak.append(len(active))
        running.set()
        release.wait(10)
        with lock:
            active.pop()
        return StewardResult("ok", output=request)

    monkeypatch.setattr("amatelier.steward.session.spawn_steward_subagent", fake_subagent)
    steward_hooks.after_speech(state, "elena", "[[request: why is it so?]]")
    steward_hooks.after_speech(state, "marcus", "[[request: how is it so?]]")
    steward_hooks.after_speech(state, "clare", "[[request: read notes.md]]")
    assert running.wait(10)
    # The deterministic lookup is not held up behind the busy model slot.
    clare = [t for t in steward.tasks if t.agent == "clare"][0]
    assert clare.wait(10).status == "ok"
    release.set()
    steward_hooks.drain(state)
    assert max(peak) == 1
    assert [e["status"] for e in steward.log.entries()] == ["ok", "ok", "ok"]


def test_digest_logs_lookups_left_pending_at_the_end(make_state) -> None:
    state = make_state()
    state.current_round, state.current_phase = 1, "FLOOR"
    steward_hooks.after_speech(state, "elena", "[[request: read notes.md]]")
    fields = steward_hooks.digest_fields(state)
    assert [(e["agent"], e["status"], e["phase"]) for e in fields["steward_log"]] == [
        ("elena", "ok", "FLOOR")]
    assert [m for m in posted(state) if m["kind"] == "steward"] == []
    assert steward_hooks.digest_fields(state)["steward_log"] == fields["steward_log"]

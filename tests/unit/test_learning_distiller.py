"""Distiller: candidate validation, JSON extraction, transcript cap, gate, dedup, failure paths."""

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
from amatelier.backends.offline import OfflineBackend
from amatelier.learning import distiller

pytest_plugins = ["tests.helpers.learning_plugin"]


WORKERS = ["elena", "marcus", "clare", "simon"]


def candidate(**overrides):
    base = {
        "title": "Pin the replay question", "type": "CAPTURE", "agent": "Marcus",
        "pattern": "When a stale lease token can be replayed after failover, require the consumer "
                   "to check monotonic sequence numbers before accepting the event.",
        "when_to_apply": "When an event log design crosses a failover boundary.",
        "structural_category": "Risk", "trigger_phase": "rebuttal", "primary_actor": "single-agent",
        "problem_nature": "technical", "agent_dynamic": "ignored for CAPTURE",
        "tags": "Replay, failover, events", "one_liner": "Check sequence numbers across failover.",
    }
    base.update(overrides)
    return base


# --------------------------------------------------------------------------- validation


def test_valid_candidate_is_normalised_with_all_twelve_fields() -> None:
    skill, errors = distiller.validate_candidate(candidate(), WORKERS)
    assert errors == []
    assert list(skill) == list(distiller.SKILL_FIELDS)
    assert skill["agent"] == "marcus"
    assert skill["structural_category"] == "risk"
    assert skill["agent_dynamic"] is None           # only DERIVE keeps it
    assert skill["tags"] == ["replay", "failover", "events"]


@pytest.mark.parametrize("overrides, problem", [
    ({"type": "DERIVE", "agent_dynamic": ""}, "DERIVE needs agent_dynamic"),
    ({"type": "GUESS"}, "type must be one of"),
    ({"agent": "zeus"}, "unknown agent"),
    ({"pattern": "  "}, "missing pattern"),
    ({"tags": []}, "missing tags"),
    ({"trigger_phase": None}, "missing trigger_phase"),
])
def test_invalid_candidates_are_refused_with_a_reason(overrides, problem) -> None:
    skill, errors = distiller.validate_candidate(candidate(**overrides), WORKERS)
    assert skill is None
    assert any(problem in e for e in errors)


def test_derive_keeps_agent_dynamic_and_team_is_an_agent() -> None:
    skill, errors = distiller.validate_candidate(
        candidate(type="derive", agent="team", agent_dynamic="Elena framed, Marcus attacked."), WORKERS)
    assert errors == []
    assert skill["type"] == "DERIVE" and skill["agent"] == "team"
    assert skill["agent_dynamic"] == "Elena framed, Marcus attacked."


def test_validate_candidates_caps_and_reports_rejects() -> None:
    items = [candidate(title=f"Skill {i}") for i in range(20)] + ["junk", candidate(type="?")]
    valid, rejected = distiller.validate_candidates(items, WORKERS, max_skills=15)
    assert len(valid) == 15
    assert [r["index"] for r in rejected] == [20, 21]


# --------------------------------------------------------------------------- parsing and prompt


def test_extract_json_array_variants() -> None:
    arr = [candidate()]
    assert distiller.extract_json_array(json.dumps(arr)) == arr
    assert distiller.extract_json_array("[note] here you go:\n" + json.dumps(arr) + "\nbye") == arr
    assert distiller.extract_json_array(json.dumps({"skills": arr})) == arr
    assert distiller.extract_json_array("I could not find any skills.") is None
    assert distiller.extract_json_array("[not json at all]") is None


def test_transcript_is_capped_keeping_start_and_end() -> None:
    msgs = [{"agent": "runner", "kind": "turn", "content": "YOUR TURN: elena"}]
    msgs += [{"agent": "elena", "kind": "speech", "round": 1, "phase": "speak",
              "content": f"point {i} " + "x" * 200} for i in range(400)]
    text = distiller.format_transcript(msgs, 5000)
    assert len(text) <= 5000
    assert "YOUR TURN" not in text
    assert text.startswith("[R1 speak] elena: point 0 ")
    assert "characters omitted" in text
    assert text.rstrip().endswith("x")  and "point 399" in text
    short = distiller.format_transcript(msgs[:3], 5000)
    assert "omitted" not in short and short.count("\n") == 1


# --------------------------------------------------------------------------- gate and entries


def test_heuristic_gate_flags_vague_and_redundant() -> None:
    good, _ = distiller.validate_candidate(candidate(), WORKERS)
    assert distiller.heuristic_gate(good, [])["verdict"] == "pass"
    vague, _ = distiller.validate_candidate(candidate(pattern="Be clear.", when_to_apply="Always."), WORKERS)
    verdict = distiller.heuristic_gate(vague, [])
    assert verdict["verdict"] == "flag" and len(verdict["reasons"]) == 2
    near, _ = distiller.validate_candidate(candidate(title="Pin the replay question early"), WORKERS)
    verdict = distiller.heuristic_gate(near, [good])
    assert verdict["verdict"] == "flag" and "redundant" in verdict["reasons"][0]


def test_gate_answer_parsing_and_merge() -> None:
    answer = '[{"index": 0, "verdict": "flag", "reason": "generic"}, {"index": 7, "verdict": "pass"},' \
             ' {"index": "x"}, {"index": 1, "verdict": "maybe"}]'
    verdicts = distiller.parse_gate_answer(answer, 2)
    assert verdicts == {0: {"verdict": "flag", "reason": "generic"}}
    good, _ = distiller.validate_candidate(candidate(), WORKERS)
    other, _ = distiller.validate_candidate(candidate(
        title="Sequence the outbox migration", pattern="Run the outbox migration first, then move "
        "the read path, then the write path behind a flag, with a rollback checkpoint each time.",
        one_liner="Migrate in reversible steps."), WORKERS)
    merged = distiller.judge_gate([good, other], [], verdicts)
    assert merged[0]["verdict"] == "flag" and merged[0]["reasons"] == ["judge: generic"]
    assert merged[1]["verdict"] == "pass"


def test_create_skill_entry_dedups_and_lowers_flagged_priority() -> None:
    skill, _ = distiller.validate_candidate(candidate(), WORKERS)
    entry = distiller.create_skill_entry(skill, "rt1", {"verdict": "flag", "reasons": ["vague"]}, {"entries": []})
    assert entry["priority"] == "low" and entry["status"] == "pending"
    assert entry["skill_id"].startswith("rt1-") and entry["originator"] == "marcus"
    assert distiller.create_skill_entry(skill, "rt2", None, {"entries": [entry]}) is None
    # case and whitespace do not make a new skill
    same = dict(skill, title=skill["title"].upper() + "  ")
    assert distiller.create_skill_entry(same, "rt2", None, {"entries": [entry]}) is None


def test_novel_concepts_keep_only_new_derive_entries(learning_ws) -> None:
    derive, _ = distiller.validate_candidate(candidate(type="DERIVE", agent_dynamic="pair work"), WORKERS)
    capture, _ = distiller.validate_candidate(candidate(title="Another"), WORKERS)
    assert distiller.append_novel_concepts([derive, capture], "rt1") == 1
    assert distiller.append_novel_concepts([derive], "rt2") == 0
    concepts = json.loads(paths.user_novel_concepts().read_text())
    assert len(concepts) == 1 and concepts[0]["rt_id"] == "rt1"
    assert concepts[0]["agent_dynamic"] == "pair work"


def test_promote_and_search(learning_ws) -> None:
    skill, _ = distiller.validate_candidate(candidate(), WORKERS)
    entry = distiller.create_skill_entry(skill, "rt1", None, {"entries": []})
    low = distiller.create_skill_entry(distiller.validate_candidate(candidate(
        title="Replay drills", pattern="Run a replay drill on every failover design before sign-off "
        "so the sequence checks are exercised."), WORKERS)[0], "rt1",
        {"verdict": "flag", "reasons": ["x"]}, {"entries": []})
    distiller.save_index({"entries": [low, entry]})
    hits = distiller.search_shared_skills("replay failover")
    assert {h["skill_id"] for h in hits} == {entry["skill_id"], low["skill_id"]}
    assert distiller.search_shared_skills("kubernetes") == []
    promoted = distiller.promote_to_shared(low["skill_id"])
    assert promoted["status"] == "promoted"
    assert [h["skill_id"] for h in distiller.search_shared_skills("replay", include_pending=False)] == \
        [low["skill_id"]]
    distiller.promote_to_shared(entry["skill_id"])
    md = paths.user_shared_skills_dir() / "entries" / f"{entry['skill_id']}.md"
    assert md.read_text().startswith("# Pin the replay question")
    assert {h["skill_id"] for h in distiller.search_shared_skills("replay", include_pending=False)} == \
        {entry["skill_id"], low["skill_id"]}
    assert distiller.search_shared_skills("   ") == []
    with pytest.raises(KeyError):
        distiller.promote_to_shared("nope")


# --------------------------------------------------------------------------- full runs


def _index_entries() -> list:
    return json.loads(paths.user_shared_skills_index().read_text())["entries"]


def test_offline_distillation_indexes_skills_and_is_idempotent(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt0001")
    digest = make_digest("rt0001")
    result = distiller.distill_roundtable(conn, "rt0001", digest, backend=OfflineBackend({}))
    assert result.error is None
    assert 10 <= len(result.entries) <= 15
    assert len(_index_entries()) == len(result.entries)
    for entry in result.entries:
        assert set(distiller.SKILL_FIELDS) <= set(entry)
        assert entry["originator"] in WORKERS
        pending = paths.user_agent_dir(entry["originator"]) / "skills" / "pending" / f"{entry['skill_id']}.md"
        assert pending.read_text().startswith(f"# {entry['title']}")
    assert any(e["priority"] == "low" for e in result.entries)      # the gate flagged something
    assert result.novel_added == sum(1 for e in result.entries if e["type"] == "DERIVE") > 0
    roles = [r[0] for r in conn.execute("SELECT role FROM llm_calls WHERE rt_id = 'rt0001'")]
    assert roles == ["distill", "distill-gate"]
    fields = result.digest_fields()
    assert fields["skills_distilled"] == len(result.entries) and "distill_error" not in fields
    again = distiller.distill_roundtable(conn, "rt0001", digest, backend=OfflineBackend({}))
    assert again.entries == [] and again.duplicates == len(result.entries)
    assert len(_index_entries()) == len(result.entries)


@pytest.mark.parametrize("answer, error", [
    (lambda self, **kw: "Sorry, I cannot produce JSON today.", "non-json"),
    (lambda self, **kw: fail("timeout"), "timeout"),
    (lambda self, **kw: fail("server"), "llm error (server)"),
    (lambda self, **kw: '[{"title": "no other fields"}]', "no valid skills"),
])
def test_failures_give_an_empty_list_and_leave_state_alone(learning_ws, answer, error) -> None:
    conn = db()
    make_roundtable(conn, "rt0002")
    before = paths.user_shared_skills_index().read_text()
    result = distiller.distill_roundtable(conn, "rt0002", make_digest("rt0002"),
                                          backend=ScriptedBackend(answer))
    assert result.entries == [] and result.error == error
    assert result.digest_fields()["distill_error"] == error
    assert paths.user_shared_skills_index().read_text() == before
    log = (paths.user_logs_dir() / "distiller.log").read_text()
    assert "rt0002" in log


def test_a_long_roundtable_reaches_the_model_capped_at_50k_characters(learning_ws) -> None:
    from amatelier.chat import messages as chat_messages
    from amatelier.config import load_config

    conn = db()
    make_roundtable(conn, "rt0006")
    for i in range(300):       # ~90K characters of debate on top of the fixture's
        chat_messages.post(conn, "rt0006", WORKERS[i % 4], f"floor point {i}: " + "long argument " * 20,
                           kind="speech", round=3, phase="floor")
    backend = ScriptedBackend(lambda self, **kw: self.offline(system=kw["system"], prompt=kw["prompt"],
                                                              model=kw["model"], task=kw["task"], agent=kw["agent"]))
    config = load_config()
    assert distiller.distiller_config(config)["transcript_cap_chars"] == 50_000
    result = distiller.distill_roundtable(conn, "rt0006", make_digest("rt0006"), backend=backend, config=config)
    assert result.error is None and 10 <= len(result.entries) <= 15
    prompt = next(c["prompt"] for c in backend.calls if c["task"] == "distill")
    transcript = prompt.split("TRANSCRIPT:\n", 1)[1].rsplit("\nEND TRANSCRIPT", 1)[0]
    assert 45_000 < len(transcript) <= 50_000 and "characters omitted" in transcript
    assert "BRIEFING" in transcript and "floor point 299" in transcript   # the start and the end survive


def test_distill_one_backfills_a_roundtable_from_its_digest(learning_ws) -> None:
    from tests.helpers.learning_fixtures import write_digest

    conn = db()
    make_roundtable(conn, "rt0007")
    failed = distiller.distill_roundtable(conn, "rt0007", make_digest("rt0007"),
                                          backend=ScriptedBackend(lambda self, **kw: "no JSON today"))
    assert failed.error == "non-json" and _index_entries() == []
    path = write_digest(make_digest("rt0007"))
    fields = distiller.distill_one(path, backend=OfflineBackend({}))
    assert fields["rt_id"] == "rt0007" and 10 <= fields["skills_distilled"] <= 15
    assert {e["rt_id"] for e in _index_entries()} == {"rt0007"}
    again = distiller.distill_one("rt0007", conn=conn, backend=OfflineBackend({}))   # by rt_id: nothing new
    assert again["skills_distilled"] == 0 and again["duplicates"] == fields["skills_distilled"]
    with pytest.raises(ValueError, match="cannot read digest"):
        distiller.distill_one("no-such-rt")


def test_a_corrupt_index_is_kept_aside_and_indexing_goes_on(learning_ws) -> None:
    # A torn or hand-broken index.json must not stop every later roundtable from indexing.
    conn = db()
    make_roundtable(conn, "rt0005")
    paths.user_shared_skills_index().write_text('{"entries": [{"title": "half')
    paths.user_novel_concepts().write_text("[{")
    result = distiller.distill_roundtable(conn, "rt0005", make_digest("rt0005"), backend=OfflineBackend({}))
    assert result.error is None and result.entries and result.novel_added > 0
    assert [e["skill_id"] for e in _index_entries()] == [e["skill_id"] for e in result.entries]
    assert len(json.loads(paths.user_novel_concepts().read_text())) == result.novel_added
    kept = sorted(p.name.split(".corrupt-")[0] for p in paths.user_data_dir().rglob("*.corrupt-*"))
    assert kept == ["index.json", "novel_concepts.json"]
    promoted = distiller.promote_to_shared(result.entries[0]["skill_id"])
    assert promoted["status"] == "promoted"


def test_unexpected_error_is_contained(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt0003")

    class Exploding:
        name = "boom"

        def complete(self, **kwargs):
            raise ZeroDivisionError("bug in a backend")

    result = distiller.distill_roundtable(conn, "rt0003", make_digest("rt0003"), backend=Exploding())
    assert result.entries == [] and result.error  # LLMCallError wraps it
    status = conn.execute("SELECT status FROM llm_calls WHERE rt_id = 'rt0003'").fetchone()[0]
    assert status == "error"


def test_gate_failure_keeps_heuristic_verdicts(learning_ws) -> None:
    conn = db()
    make_roundtable(conn, "rt0004")

    def answer(self, task, **kw):
        if task == "distill-gate":
            fail("timeout")
        return self.offline(system=kw["system"], prompt=kw["prompt"], model=kw["model"], task=task,
                            agent=kw["agent"])

    result = distiller.distill_roundtable(conn, "rt0004", make_digest("rt0004"), backend=ScriptedBackend(answer))
    assert result.error is None and len(result.entries) >= 10
    assert all(e["gate"]["by"] == "heuristic" for e in result.entries)

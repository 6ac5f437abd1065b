"""The decision record: schema, citations, the chair's repair call and the deterministic fallback."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from tests.helpers.decision_fixtures import SPLIT, WORKERS, ScriptedChair, seed_roundtable

from amatelier.backends.offline import OfflineBackend
from amatelier.debate import decision_check
from amatelier.debate.decision import chair_name, stop_reason_for, write_decision
from amatelier.debate.decision_prompt import extract_json
from amatelier.debate.decision_store import load_decision


def _ids(seed) -> set[int]:
    return {int(r[0]) for r in seed.conn.execute("SELECT id FROM messages WHERE rt_id = ?", (seed.rt_id,))}


def _valid(record: dict, seed) -> None:
    Draft202012Validator(decision_check.load_schema()).validate(record)
    assert decision_check.citation_problems(record, _ids(seed), {*WORKERS, "judge"}) == []


def _answer(seed, **overrides) -> str:
    body = {"recommendation": "Split billing first.", "outcome": "consensus", "confidence": 0.7,
            "rationale": "All three agree after marcus moved.",
            "arguments": [{"claim": "the data boundary is clear", "side": "for", "by": "elena",
                           "cites": [seed.ids["elena1"]]},
                          {"claim": "schemas answer the risk", "side": "for", "by": "clare",
                           "cites": [seed.ids["clare1"]]}],
            "dissent": [], "open_questions": ["rollback plan"], "risks": ["cut-over"],
            "evidence": [], "next_steps": ["extract billing behind a flag"]}
    body.update(overrides)
    return json.dumps(body)


def test_the_schema_is_2020_12_and_versioned():
    schema = decision_check.load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["schema_version"] == "1.0" and schema["properties"]["schema_version"] == {"const": "1.0"}
    Draft202012Validator.check_schema(schema)


def test_offline_chair_writes_a_valid_cited_record_and_it_is_stored():
    seed = seed_roundtable()
    record = write_decision(seed.state(), "converged", False, backend=OfflineBackend({}))
    _valid(record, seed)
    assert record["synthesized"] is True and record["partial"] is False and record["stop_reason"] == "converged"
    assert record["outcome"] == "consensus" and record["recommendation"].lower().startswith(SPLIT[:10])
    assert len(record["arguments"]) >= 2
    assert [c["agent"] for c in record["position_changes"]] == ["marcus"]
    assert [e["path"] for e in record["evidence"]] == ["examples/grounded/service-metrics.json"]  # no refusals
    assert load_decision(seed.conn, seed.rt_id) == record
    roles = [r[0] for r in seed.conn.execute("SELECT role FROM llm_calls WHERE rt_id = ?", (seed.rt_id,))]
    assert roles == ["decision"]


def test_fields_the_chair_cannot_know_are_set_from_data():
    seed = seed_roundtable()
    chair = ScriptedChair(_answer(seed, rt_id="forged", partial=True, position_changes=[]))
    record = write_decision(seed.state(), "keyboard interrupt", True, backend=chair)
    # Only the chair's own fields are taken: its rt_id, partial and changes are ignored, not repaired.
    assert len(chair.asked) == 1 and record["synthesized"] is True
    assert record["rt_id"] == seed.rt_id and record["partial"] is True
    assert [c["agent"] for c in record["position_changes"]] == ["marcus"]
    assert record["stop_reason"] == "keyboard interrupt"


def test_an_unknown_citation_gets_one_repair_call():
    seed = seed_roundtable()
    bad = _answer(seed, arguments=[{"claim": "c", "side": "for", "by": "elena", "cites": [99999]},
                                   {"claim": "d", "side": "for", "by": "clare", "cites": [seed.ids["clare1"]]}])
    chair = ScriptedChair("```json\n" + bad + "\n```", _answer(seed))
    record = write_decision(seed.state(), "converged", False, backend=chair)
    _valid(record, seed)
    assert record["synthesized"] is True and record["chair"]["repaired"] is True
    repair_prompt = chair.asked[1]["prompt"]
    assert "=== REPAIR ===" in repair_prompt and "#99999 is not in this roundtable" in repair_prompt
    roles = [r[0] for r in seed.conn.execute("SELECT role FROM llm_calls WHERE rt_id = ? ORDER BY id", (seed.rt_id,))]
    assert roles == ["decision", "decision-repair"]


def test_still_invalid_after_repair_falls_back_to_the_positions():
    seed = seed_roundtable()
    chair = ScriptedChair("I think they should split.", _answer(seed, outcome="maybe"))
    record = write_decision(seed.state(), "converged", False, backend=chair)
    _valid(record, seed)
    assert record["synthesized"] is False
    assert "invalid after one repair" in record["chair"]["fallback_reason"]
    assert record["recommendation"] == SPLIT and record["outcome"] == "consensus"
    assert {a["by"] for a in record["arguments"]} == set(WORKERS)
    assert record["open_questions"] == ["the rollback plan is still open"]
    assert [e["lookup"] for e in record["evidence"]] == ["key p95 in metrics.json"]


@pytest.mark.parametrize("failure", [RuntimeError("provider down"), KeyboardInterrupt()])
def test_a_failing_or_interrupted_chair_still_gives_a_record(failure):
    seed = seed_roundtable(cut_reason="keyboard interrupt")
    record = write_decision(seed.state(), "keyboard interrupt", True, backend=ScriptedChair(failure))
    _valid(record, seed)
    assert record["synthesized"] is False and record["partial"] is True
    assert record["chair"]["interrupted"] is isinstance(failure, KeyboardInterrupt)
    assert load_decision(seed.conn, seed.rt_id)["synthesized"] is False


def test_coercions_of_common_drift():
    seed = seed_roundtable()
    drifted = _answer(seed, confidence=72, outcome="Majority",
                      arguments=[{"claim": "x", "side": "FOR", "by": "Elena", "cites": [f"#{seed.ids['elena1']}"]},
                                 {"claim": "y", "side": "against", "by": "marcus", "cites": seed.ids["marcus1"]}])
    record = write_decision(seed.state(), "converged", False, backend=ScriptedChair(drifted))
    _valid(record, seed)
    assert record["synthesized"] is True and record["confidence"] == 0.72 and record["outcome"] == "majority"
    assert record["arguments"][0]["cites"] == [seed.ids["elena1"]]


def test_an_argument_by_someone_absent_is_a_problem():
    seed = seed_roundtable()
    record = {"arguments": [{"claim": "c", "side": "for", "by": "mallory", "cites": [seed.ids["elena1"]]}]}
    [problem] = decision_check.citation_problems(record, _ids(seed), {*WORKERS, "judge"})
    assert "mallory" in problem


def test_extract_json_tolerates_chatter_and_fences():
    assert extract_json('Sure! {"a": 1} hope that helps') == {"a": 1}
    assert extract_json('```json\n{"a": {"b": 2}}\n```') == {"a": {"b": 2}}
    assert extract_json("no json here") is None
    assert extract_json("[1, 2]") is None


def test_chair_and_stop_reason_rules():
    assert chair_name({"team": {"admin": {"name": "opus-admin"}}}) == "opus-admin"
    assert chair_name({"roundtable": {"chair": "elena"}}) == "elena"
    assert stop_reason_for(converged=True, rounds_run=2, max_rounds=3, cut_reason=None) == "converged"
    assert stop_reason_for(converged=False, rounds_run=3, max_rounds=3, cut_reason=None) == "round limit"
    assert stop_reason_for(converged=False, rounds_run=1, max_rounds=3, cut_reason="terminated") == "terminated"


def test_a_roundtable_with_no_positions_gets_a_no_decision_record():
    from tests.helpers.decision_fixtures import Seeded

    from amatelier.chat import roundtables
    from amatelier.chat.db import open_db

    conn = open_db()
    rt_id = roundtables.open_roundtable(conn, "empty?", [*WORKERS, "judge"])
    seed = Seeded(conn, rt_id)
    record = write_decision(seed.state(), "keyboard interrupt", True, backend=ScriptedChair(KeyboardInterrupt()))
    Draft202012Validator(decision_check.load_schema()).validate(record)
    assert record["outcome"] == "no_decision" and record["arguments"] == [] and record["confidence"] == 0.0


def test_a_person_who_spoke_may_be_credited_and_the_chair_sees_them():
    from amatelier.chat import messages as msgs

    seed = seed_roundtable()
    said = msgs.post(seed.conn, seed.rt_id, "dana", "Billing has a compliance deadline in May.", kind="human",
                     round=2, phase="FLOOR")
    chair = ScriptedChair(_answer(seed, arguments=[
        {"claim": "deadline", "side": "for", "by": "dana", "cites": [said]},
        {"claim": "boundary", "side": "for", "by": "elena", "cites": [seed.ids["elena1"]]}]))
    record = write_decision(seed.state(), "converged", False, backend=chair)
    assert record["synthesized"] is True and record["arguments"][0]["by"] == "dana"
    assert f"[#{said} r2 FLOOR] dana: Billing has a compliance deadline" in chair.asked[0]["prompt"]


def test_the_chair_prompt_stays_bounded_however_long_the_debate():
    from amatelier.debate.decision_prompt import CAPS, DecisionInputs, build_chair_prompt

    said = [{"id": i, "agent": "elena", "kind": "speech", "round": 1 + i // 100, "phase": "SPEAK",
             "content": "word " * 2000} for i in range(1, 2001)]
    prompt = build_chair_prompt(DecisionInputs(rt_id="r", topic="t" * 5000, messages=said, positions=[],
                                               workers=WORKERS, briefing="b" * 100000), [])
    assert len(prompt) < CAPS["transcript"] + CAPS["older"] + CAPS["briefing"] + 6000
    assert "[#2000 r21 SPEAK] elena: " + "word " * 100 in prompt      # the newest in full
    assert "earlier messages not shown)" in prompt and "[#1 r1 SPEAK]" not in prompt


def test_a_seed_benchmark_chair_reads_the_bundled_persona_not_the_evolved_one():
    from amatelier import paths

    seed = seed_roundtable()
    own = paths.user_agent_dir("opus-admin")
    own.mkdir(parents=True, exist_ok=True)
    (own / "CLAUDE.md").write_text("EVOLVED ADMIN RULES", encoding="utf-8")
    normal = ScriptedChair(_answer(seed))
    write_decision(seed.state(), "converged", False, backend=normal)
    assert "EVOLVED ADMIN RULES" in normal.asked[0]["system"]
    seed.conn.execute("UPDATE roundtables SET persona_set = 'seed' WHERE id = ?", (seed.rt_id,))
    bench = ScriptedChair(_answer(seed))
    write_decision(seed.state(), "converged", False, backend=bench)
    assert "EVOLVED ADMIN RULES" not in bench.asked[0]["system"] and "Opus Admin" in bench.asked[0]["system"]

"""The decision chair's prompts: the output contract lives in the task prompt only, and the task
lists the precedents it was given and asks for a stance on each (issues 13 and 18)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from tests.helpers.decision_fixtures import ScriptedChair, seed_roundtable

from amatelier import paths
from amatelier.backends.offline import OfflineBackend
from amatelier.chat import messages as msgs
from amatelier.debate import decision_check
from amatelier.debate.decision import write_decision
from amatelier.debate.decision_prompt import CHAIR_ROLE, PRECEDENT_RULE, chair_system_text
from amatelier.search.precedents import Precedent, attach_to_decision, precedents_block

OLD_PERSONA = (Path(__file__).resolve().parents[1] / "data" / "opus_admin_persona_v1.md").read_text(encoding="utf-8")
FORM_WORDS = ("JSON", "high, medium or low", '"recommendation"', "exactly these fields")
KAFKA = Precedent(rt_id="rt-kafka-1", recommendation="Split billing out of the monolith first, behind a flag",
                  date="2026-10-01", topic="split billing?")
HIRING = Precedent(rt_id="rt-hire-2", recommendation="Hire a platform team of three", date="2026-10-05",
                   topic="hire a platform team?")


class RecordingOffline(OfflineBackend):
    """The offline backend, keeping the system and task prompt of every call."""

    def __init__(self) -> None:
        super().__init__({})
        self.seen: list[dict[str, Any]] = []

    def complete(self, system, prompt, model="sonnet", max_tokens=1024, timeout=120.0, *, task=None, agent=None):
        self.seen.append({"task": task, "agent": agent, "system": system, "prompt": prompt})
        return super().complete(system, prompt, model, max_tokens, timeout, task=task, agent=agent)


def _give(seed, *given: Precedent) -> None:
    """What the runner does at open: post the precedents block the agents (and the chair) see."""
    msgs.post(seed.conn, seed.rt_id, "runner", precedents_block(list(given)), kind="precedents")


def _answer(seed, **extra) -> str:
    body = {"recommendation": "Split billing first, behind a flag.", "outcome": "consensus", "confidence": 0.7,
            "rationale": "All three agree after marcus moved.",
            "arguments": [{"claim": "the data boundary is clear", "side": "for", "by": "elena",
                           "cites": [seed.ids["elena1"]]},
                          {"claim": "schemas answer the risk", "side": "for", "by": "clare",
                           "cites": [seed.ids["clare1"]]}],
            "dissent": [], "open_questions": [], "risks": [], "evidence": [], "next_steps": ["flag it"]}
    return json.dumps({**body, **extra})


def _valid(record: dict) -> None:
    Draft202012Validator(decision_check.load_schema()).validate(record)


@pytest.mark.parametrize("persona", [None, OLD_PERSONA])
def test_the_chair_system_prompt_carries_no_output_contract_and_the_task_carries_it_once(persona):
    if persona is not None:  # a workspace seeded before the split still gets a clean system prompt
        own = paths.user_agent_dir("opus-admin")
        own.mkdir(parents=True, exist_ok=True)
        (own / "CLAUDE.md").write_text(persona, encoding="utf-8")
    seed = seed_roundtable()
    backend = RecordingOffline()
    record = write_decision(seed.state(), "converged", False, backend=backend)
    assert record["synthesized"] is True
    [call] = [c for c in backend.seen if c["task"] == "decision"]
    system, prompt = call["system"], call["prompt"]
    for word in FORM_WORDS:
        assert word not in system, word
    assert system.rstrip().endswith(CHAIR_ROLE) and "Never hide a live objection" in system
    assert "Opus Admin" in system  # the persona is still who the chair is
    assert prompt.count("ONE JSON object") == 1 and prompt.count('"recommendation"') == 1
    assert "=== PRECEDENTS ===" not in prompt and '"precedents"' not in prompt
    assert "precedents" not in record  # none were given (attach_to_decision adds [] later)


def test_the_bundled_persona_needs_no_stripping_and_the_old_one_keeps_its_guidance():
    bundled = (paths.bundled_agent_dir("opus-admin") / "CLAUDE.md").read_text(encoding="utf-8")
    assert chair_system_text(bundled) == bundled.rstrip() + "\n\n" + CHAIR_ROLE + "\n"
    cleaned = chair_system_text(OLD_PERSONA)
    assert "JSON" not in cleaned and "high, medium or low" not in cleaned
    for kept in ("**Dissent**", "If the roundtable did not converge", "## Stewardship of the team", "## Never"):
        assert kept in cleaned


def test_the_chair_is_shown_its_precedents_and_states_a_stance_on_each():
    seed = seed_roundtable()
    _give(seed, KAFKA, HIRING)
    backend = RecordingOffline()
    record = write_decision(seed.state(), "converged", False, backend=backend)
    prompt = next(c["prompt"] for c in backend.seen if c["task"] == "decision")
    section = prompt.split("=== PRECEDENTS ===", 1)[1].split("=== YOUR TASK ===", 1)[0]
    assert f"- rt {KAFKA.rt_id}, {KAFKA.date}: \"{KAFKA.topic}\" -> {KAFKA.recommendation}" in section
    assert f"- rt {HIRING.rt_id}, {HIRING.date}:" in section
    task = prompt.split("=== YOUR TASK ===", 1)[1]
    assert '"precedents"' in task and PRECEDENT_RULE.strip() in task
    _valid(record)
    by_id = {p["rt_id"]: p for p in record["precedents"]}
    assert by_id[KAFKA.rt_id]["stance"] == "agreed" and by_id[HIRING.rt_id]["stance"] == "unrelated"
    assert all(p["stance_by"] == "chair" and p["reason"].startswith("[offline]") for p in by_id.values())


def test_the_chairs_stance_wins_over_the_heuristic_which_stays_the_fallback():
    seed = seed_roundtable()
    _give(seed, KAFKA, HIRING)
    chair = ScriptedChair(_answer(seed, precedents=[
        {"rt_id": KAFKA.rt_id, "stance": "Overturns", "reason": "we now keep billing inside until the tables split"},
        {"rt_id": HIRING.rt_id, "stance": "maybe"},        # unreadable: the heuristic decides
        {"rt_id": "rt-never-given", "stance": "agreed"}]))  # not given: ignored
    record = write_decision(seed.state(), "converged", False, backend=chair)
    _valid(record)
    assert [p["rt_id"] for p in record["precedents"]] == [KAFKA.rt_id, HIRING.rt_id]
    kafka, hiring = record["precedents"]
    # the heuristic alone would call the Kafka precedent agreed (same subject, same polarity)
    assert kafka == {"rt_id": KAFKA.rt_id, "recommendation": KAFKA.recommendation, "date": KAFKA.date,
                     "stance": "overturned", "stance_by": "chair",
                     "reason": "we now keep billing inside until the tables split"}
    assert hiring["stance"] == "unrelated" and hiring["stance_by"] == "heuristic" and "reason" not in hiring
    digest = {"decision": dict(record)}   # the runner's last step re-annotates with the full precedents
    attach_to_decision(seed.conn, seed.rt_id, digest, [KAFKA, HIRING])
    assert digest["decision"]["precedents"] == record["precedents"]
    stored = json.loads(seed.conn.execute("SELECT record FROM decisions WHERE rt_id = ?",
                                          (seed.rt_id,)).fetchone()[0])
    assert stored["precedents"] == record["precedents"]


def test_a_fallback_record_gets_heuristic_stances():
    seed = seed_roundtable()
    _give(seed, KAFKA)
    record = write_decision(seed.state(), "converged", False, backend=ScriptedChair("no json", "still none"))
    _valid(record)
    assert record["synthesized"] is False
    assert record["precedents"][0]["stance_by"] == "heuristic" and record["precedents"][0]["stance"] == "agreed"

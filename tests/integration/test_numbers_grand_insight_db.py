"""A 10 whose quote is invented is stored as 3 with the rejection; a real excerpt keeps the 10."""

from __future__ import annotations

import json

from tests.helpers.economy_support import ScriptedBackend, make_rt

from amatelier.chat import messages
from amatelier.chat.db import transaction
from amatelier.economy import ledger
from amatelier.judging import scoring as judge

pytest_plugins = ["tests.helpers.economy_fixtures"]

W = ["elena", "marcus"]
ELENA = ("The cut-over is the real risk: we have never moved billing without an incident, so a "
         "strangler pattern with a shadow period is the only sane route.")
MARCUS = "Kafka would let us replay every billing event after a failed cut-over."


def _rt(conn) -> str:
    rt = make_rt(conn, "rt1", W)
    messages.post(conn, rt, "runner", "BRIEFING: split billing?", kind="briefing")
    messages.post(conn, rt, "elena", ELENA, kind="speech", round=1, phase="speak")
    messages.post(conn, rt, "marcus", MARCUS, kind="speech", round=1, phase="speak")
    return rt


def _answer(elena_quote: str, marcus_quote: str) -> str:
    def entry(quote: str) -> dict:
        return {"novelty": 2, "accuracy": 2, "impact": 10, "challenge": 1, "reason": "shifted the debate",
                "penalties": [], "grand_insight": {"axis": "impact", "quote": quote,
                                                   "before": "a broker choice", "after": "a cut-over plan"}}
    return json.dumps({"scores": {"elena": entry(elena_quote), "marcus": entry(marcus_quote)}})


def test_invented_quote_is_stored_as_three_and_an_excerpt_keeps_ten(econ_db, econ_config) -> None:
    rt = _rt(econ_db)
    invented = "we should rewrite billing in Rust before anything else"
    excerpt = "  STRANGLER pattern with a\n shadow period "
    # elena's quote is a real excerpt (case and spacing differ); marcus's is invented
    backend = ScriptedBackend([_answer(excerpt, invented)])
    outcome = judge.judge_score(econ_db, rt, W, backend=backend, config=econ_config, topic="split billing?")
    with transaction(econ_db):
        judge.persist_scores(econ_db, rt, outcome.scores)
        for agent, entry in judge.load_scores(econ_db, rt).items():
            ledger.score_agent(econ_db, rt, agent, int(entry["total"]), entry["penalties"], econ_config)
    stored = judge.load_scores(econ_db, rt)

    assert stored["elena"]["impact"] == 10 and stored["elena"]["total"] == 15
    assert stored["elena"]["grand_insight"]["message_id"] == 2
    assert "grand_insight_rejected" not in stored["elena"]

    assert stored["marcus"]["impact"] == 3 and stored["marcus"]["total"] == 8
    assert stored["marcus"]["grand_insight"] is None
    rejected = stored["marcus"]["grand_insight_rejected"]
    assert rejected["reason"] == "grand_insight_rejected" and rejected["quote"] == invented
    assert "grand_insight_rejected" in stored["marcus"]["reason"]
    row = econ_db.execute("SELECT impact, total FROM scores WHERE rt_id = ? AND agent = 'marcus'", (rt,)).fetchone()
    assert tuple(row) == (3, 8)
    # the sparks follow the stored score, not the Judge's 10
    score_rows = {r["agent"]: r["amount"] for r in ledger.rt_rows(econ_db, rt) if r["category"] == "score"}
    assert score_rows == {"elena": 15, "marcus": 8}


def test_a_quote_from_someone_else_is_rejected(econ_db, econ_config) -> None:
    rt = _rt(econ_db)
    backend = ScriptedBackend([_answer("replay every billing event", "replay every billing event")])
    outcome = judge.judge_score(econ_db, rt, W, backend=backend, config=econ_config)
    assert outcome.scores["elena"].axes["impact"] == 3             # marcus said it, not elena
    assert outcome.scores["elena"].grand_insight_rejected["axis"] == "impact"
    assert outcome.scores["marcus"].axes["impact"] == 10
    assert outcome.scores["elena"].to_dict()["grand_insight_rejected"]["reason"] == "grand_insight_rejected"


def test_stored_scores_match_the_digest_schema(econ_db, econ_config) -> None:
    from pathlib import Path

    import jsonschema

    rt = _rt(econ_db)
    backend = ScriptedBackend([_answer("a strangler pattern with a shadow period", "made up words entirely here")])
    outcome = judge.judge_score(econ_db, rt, W, backend=backend, config=econ_config)
    with transaction(econ_db):
        judge.persist_scores(econ_db, rt, outcome.scores)
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "schemas" / "digest.schema.json").read_text())
    score_schema = {"$defs": schema["$defs"], **schema["$defs"]["score"]}
    stored = judge.load_scores(econ_db, rt)
    for entry in stored.values():
        jsonschema.validate(entry, score_schema)
    assert "grand_insight_rejected" in stored["marcus"] and stored["elena"]["grand_insight"]["message_id"] == 2

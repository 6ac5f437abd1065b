"""The POSITION line parser (lenient to model drift) and the who-moved-whom computation."""

from __future__ import annotations

import pytest
from tests.helpers.decision_fixtures import SPLIT, STAY, seed_roundtable

from amatelier.debate import position_changes as pc
from amatelier.debate.positions import (
    Position,
    load_positions,
    parse_confidence,
    parse_moved_by,
    parse_position,
    same_stance,
    visible_text,
)

PEOPLE = ["elena", "marcus", "clare"]


@pytest.mark.parametrize(("text", "stance", "confidence", "moved_by", "moved_msg"), [
    ("Body.\nPOSITION: split billing | CONFIDENCE: 70 | MOVED BY: clare #41", "split billing", 70, "clare", 41),
    ("**Position:** Stay | confidence: 0.8 | moved by: none", "Stay", 80, None, None),
    ("x\nposition - go\nConfidence: 80%\nMoved by: #12 marcus", "go", 80, "marcus", 12),
    ("> FINAL POSITION = yes | conf=high | MOVED_BY marcus", "yes", 80, "marcus", None),
    ("POSITION: x | MOVED BY: Clare (msg 7)", "x", None, "clare", 7),
    ("POSITION:   spaced   out  |CONFIDENCE:55|MOVED BY:n/a", "spaced out", 55, None, None),
    ("- position: keep it | confidence 7/10 | moved by: nobody", "keep it", 70, None, None),
])
def test_lenient_parsing(text, stance, confidence, moved_by, moved_msg):
    position, _ = parse_position(text, PEOPLE)
    assert position is not None
    assert (position.stance, position.confidence, position.moved_by, position.moved_by_message) == \
        (stance, confidence, moved_by, moved_msg)


def test_no_line_or_empty_stance_is_none():
    assert parse_position("I think we should split. My position matters here.")[0] is None
    assert parse_position("POSITION: | CONFIDENCE: 50")[0] is None
    assert parse_position("")[0] is None


def test_the_last_position_line_wins_and_a_prose_line_is_not_swallowed():
    text = "POSITION: old\nmore\nPOSITION: new | CONFIDENCE: 40\nConfident this holds."
    position, used = parse_position(text)
    assert position.stance == "new" and position.confidence == 40
    assert visible_text(text) == "POSITION: old\nmore\nConfident this holds."
    assert used == [2]


def test_confidence_forms():
    assert [parse_confidence(v) for v in ("80", "80 %", "0.35", "4/5", "150", "low", "?")] == \
        [80, 80, 35, 80, 100, 30, None]


def test_moved_by_with_known_participants_ignores_other_words():
    assert parse_moved_by("the point clare made in #41", PEOPLE) == ("clare", 41)
    assert parse_moved_by("None.", PEOPLE) == (None, None)
    assert parse_moved_by("someone else", PEOPLE) == (None, None)


def test_visible_text_keeps_messages_without_the_line():
    assert visible_text("plain text") == "plain text"
    assert visible_text("Body\nPOSITION: a | CONFIDENCE: 1") == "Body"


def test_same_stance_tolerates_rewording_but_not_a_new_answer():
    assert same_stance("Split billing first, behind a flag", "split billing first behind a flag.")
    assert not same_stance(SPLIT, STAY)


def test_positions_stored_per_turn_with_missing_counted():
    seed = seed_roundtable()
    rows = load_positions(seed.conn, seed.rt_id)
    assert [r["message_id"] for r in rows] == sorted(seed.ids.values())
    missing = [r for r in rows if r["missing"]]
    assert [r["message_id"] for r in missing] == [seed.ids["clare2"]]
    marcus2 = next(r for r in rows if r["message_id"] == seed.ids["marcus2"])
    assert (marcus2["moved_by"], marcus2["moved_by_message"]) == ("clare", seed.ids["clare1"])


def test_who_moved_whom_from_the_stored_rows():
    seed = seed_roundtable()
    summary = pc.summary(load_positions(seed.conn, seed.rt_id))
    assert summary["missing"] == 1 and summary["declared"] == 5
    [change] = summary["changes"]
    assert (change["agent"], change["from_round"], change["round"]) == ("marcus", 1, 2)
    assert (change["from"], change["to"]) == (STAY, SPLIT)
    assert change["cites"] == [seed.ids["marcus2"], seed.ids["clare1"]]
    assert summary["edges"] == [{"from": "clare", "to": "marcus", "message_id": seed.ids["clare1"],
                                 "moved_message": seed.ids["marcus2"], "round": 2}]
    assert pc.who_moved_line(change) == f"marcus r1→r2, moved by clare #{seed.ids['clare1']}"
    # clare's round-2 turn had no line: her round-1 position carries on, marked as carried.
    assert summary["timeline"]["clare"]["2"]["carried"] is True
    assert summary["timeline"]["clare"]["2"]["stance"] == SPLIT
    assert summary["timeline"]["marcus"]["2"]["changed"] is True
    assert summary["timeline"]["elena"]["2"]["changed"] is False


def test_a_change_without_credit_and_a_self_credit_have_no_edge():
    rows = [
        {"message_id": 1, "agent": "a", "round": 1, "stance": "x one", "missing": 0},
        {"message_id": 2, "agent": "a", "round": 2, "stance": "y two", "missing": 0, "moved_by": "a"},
    ]
    [change] = pc.changes(rows)
    assert change["moved_by"] is None and pc.edges([change]) == []
    assert pc.who_moved_line(change) == "a r1→r2, on its own"


def test_position_dataclass_is_plain_data():
    assert Position("s").confidence is None


def test_a_stance_that_starts_like_a_key_is_still_the_stance():
    position, _ = parse_position("POSITION: confidence intervals first | CONFIDENCE: 60")
    assert (position.stance, position.confidence) == ("confidence intervals first", 60)


def test_a_moved_by_id_from_another_roundtable_is_dropped_but_the_credit_kept():
    from amatelier.debate.positions import record_turn_position

    other = seed_roundtable()
    seed = seed_roundtable()
    foreign = other.ids["elena1"]
    message_id = seed.conn.execute("SELECT MAX(id) FROM messages WHERE rt_id = ?", (seed.rt_id,)).fetchone()[0]
    seed.conn.execute("DELETE FROM positions WHERE message_id = ?", (message_id,))
    stored = record_turn_position(seed.conn, rt_id=seed.rt_id, message_id=message_id, agent="elena", round_no=2,
                                  phase="SPEAK", text=f"POSITION: new view | MOVED BY: marcus #{foreign}",
                                  participants=PEOPLE)
    assert (stored.moved_by, stored.moved_by_message) == ("marcus", None)

"""Outcome-block parsing: several blocks, partial and malformed blocks, unknown keys."""

from __future__ import annotations

from amatelier.learning.outcome_blocks import extract_json_blocks, parse_outcomes, strip_blocks

FULL = """To sum up, Elena: keep the synthesis, sharpen the evidence.

```json
{
  "behavioral_deltas": [
    {"action": "add", "behavior": "Quote the briefing line a claim depends on.", "reason": "accuracy 1"},
    {"action": "confirm", "behavior": "Open with the position in one sentence.", "reason": "it worked"}
  ],
  "memory_updates": {"lessons": ["Evidence beats volume."], "beliefs": ["Marcus tests are useful."],
                     "episodes": ["Round 2: repaired the lease design."]},
  "session_summary": "Solid synthesis, thin evidence. Next time: quote sources.",
  "goals": [{"goal": "Earn accuracy 2", "horizon_rts": 3}],
  "store_request": null
}
```
"""


def test_full_block_is_parsed() -> None:
    out = parse_outcomes(FULL)
    assert out.blocks_found == 1 and out.blocks_skipped == 0
    assert [d["action"] for d in out.behavioral_deltas] == ["add", "confirm"]
    assert out.lessons == ["Evidence beats volume."]
    assert out.beliefs == ["Marcus tests are useful."]
    assert out.episodes == ["Round 2: repaired the lease design."]
    assert out.session_summary.startswith("Solid synthesis")
    assert out.goals == [{"goal": "Earn accuracy 2", "horizon_rts": 3}]
    assert out.store_request is None


def test_keys_split_over_several_blocks_are_merged() -> None:
    text = (
        '```json\n{"behavioral_deltas": [{"action": "add", "behavior": "Name a peer.", "reason": "r"}]}\n```\n'
        "some prose\n"
        '```json\n{"session_summary": "Short one."}\n```\n'
        '```\n{"goals": ["Raise impact"], "store_request": {"item_id": "focus-boost", "reason": "goal"}}\n```'
    )
    out = parse_outcomes(text)
    assert out.blocks_found == 3
    assert out.behavioral_deltas[0]["behavior"] == "Name a peer."
    assert out.session_summary == "Short one."
    assert out.goals == [{"goal": "Raise impact", "horizon_rts": 3}]
    assert out.store_request == {"item_id": "focus-boost", "reason": "goal"}


def test_malformed_block_is_skipped_and_the_others_kept() -> None:
    text = (
        '```json\n{"session_summary": "Kept.", }\n```\n'          # trailing comma: repaired
        '```json\n{"behavioral_deltas": [{"action": "add", "behavior": \n```\n'  # broken: skipped
        '```json\n{"goals": [{"goal": "Stay on directive", "horizon_rts": 2}]}\n```'
    )
    out = parse_outcomes(text)
    assert out.blocks_found == 2
    assert out.blocks_skipped == 1
    assert out.session_summary == "Kept."
    assert out.behavioral_deltas == []
    assert out.goals == [{"goal": "Stay on directive", "horizon_rts": 2}]


def test_unterminated_final_block_counts_when_complete_json() -> None:
    text = 'Closing words.\n```json\n{"session_summary": "Cut at the fence.", "goals": []}\n'
    out = parse_outcomes(text)
    assert out.session_summary == "Cut at the fence."
    truncated = 'Closing.\n```json\n{"session_summary": "Cut mid-way", "goals": [{"goal": "x'
    out = parse_outcomes(truncated)
    assert out.is_empty() and out.blocks_skipped == 1


def test_invalid_items_and_unknown_keys_are_ignored() -> None:
    text = """```json
{"behavioral_deltas": [{"action": "rewrite", "behavior": "x"}, {"action": "add", "behavior": ""},
                       "not a dict", {"action": "REMOVE", "behaviour": "Old habit.", "reason": 3}],
 "goals": [{"goal": "Far away", "horizon_rts": 99}, {"goal": "Bad horizon", "horizon_rts": "soon"}, {"text": ""}],
 "store_request": {"reason": "no item"},
 "mood": "great", "memory_updates": {"lessons": "One lesson as a string", "episodes": [{"text": "dict episode"}]}}
```"""
    out = parse_outcomes(text)
    assert out.behavioral_deltas == [{"action": "remove", "behavior": "Old habit.", "reason": ""}]
    assert out.goals == [{"goal": "Far away", "horizon_rts": 20}, {"goal": "Bad horizon", "horizon_rts": 3}]
    assert out.store_request is None
    assert out.lessons == ["One lesson as a string"]
    assert out.episodes == ["dict episode"]


def test_other_languages_and_arrays_are_not_outcome_blocks() -> None:
    text = '```python\n{"session_summary": "no"}\n```\n```json\n[1, 2]\n```\n```\nplain text\n```'
    blocks, skipped = extract_json_blocks(text)
    assert blocks == [] and skipped == 1   # only the json array counts as a bad block
    assert parse_outcomes(text).is_empty()


def test_several_replies_merge_and_later_summary_wins() -> None:
    first = '```json\n{"session_summary": "First.", "memory_updates": {"lessons": ["A"]}}\n```'
    second = '```json\n{"session_summary": "Second.", "memory_updates": {"lessons": ["A", "B"]}}\n```'
    out = parse_outcomes(first, second)
    assert out.session_summary == "Second."
    assert out.lessons == ["A", "B"]


def test_strip_blocks_keeps_the_prose() -> None:
    assert strip_blocks(FULL) == "To sum up, Elena: keep the synthesis, sharpen the evidence."


def test_fields_of_the_wrong_type_are_ignored_not_fatal() -> None:
    # A model may write a number, a boolean or a single object where a list belongs, or a
    # horizon too big for an int; the rest of the block must still count.
    text = """```json
{"behavioral_deltas": 3, "goals": 7, "emerging_traits": true, "session_summary": "Still kept."}
```
```json
{"behavioral_deltas": {"action": "add", "behavior": "Name the peer you build on."},
 "goals": [{"goal": "Huge horizon", "horizon_rts": 1e999}], "trait_adjustments": {"trait": "Direct"}}
```"""
    out = parse_outcomes(text)
    assert out.session_summary == "Still kept."
    assert out.behavioral_deltas == [{"action": "add", "behavior": "Name the peer you build on.", "reason": ""}]
    assert out.goals == [{"goal": "Huge horizon", "horizon_rts": 3}]
    assert out.emerging_traits == [{"trait": "Direct", "note": ""}]

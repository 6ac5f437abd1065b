"""The digest's final_positions: each agent's last declared position, else its clipped last message."""

from __future__ import annotations

import json

import jsonschema
from tests.helpers.decision_fixtures import SPLIT, STAY, WORKERS, seed_roundtable

from amatelier import paths
from amatelier.chat import messages as msgs
from amatelier.debate.digest import FINAL_MESSAGE_CLIP, build_digest, clip, final_positions
from amatelier.debate.positions import load_positions

LONG = "word " * 200


def _digest(seed, workers=WORKERS):
    rt = {"id": seed.rt_id, "topic": "split the monolith?", "status": "closed",
          "created_at": "2026-01-01T00:00:00Z", "closed_at": "2026-01-01T00:01:00Z"}
    return build_digest(rt=rt, messages=msgs.transcript(seed.conn, seed.rt_id), calls=[], workers=list(workers),
                        judge="judge", mode="offline", rounds=2, converged=True, convergence_reason="settled",
                        budget_start={}, budgets={}, stability_scores={}, worker_models={},
                        positions=load_positions(seed.conn, seed.rt_id))


def test_declared_positions_win_over_the_last_message():
    digest = _digest(seed_roundtable())
    # marcus moved to SPLIT in round 2; clare's round-2 rebuttal had no line, so her round-1 stance stands
    assert digest["final_positions"] == {"elena": SPLIT, "marcus": SPLIT, "clare": SPLIT}
    assert digest["final_positions_from"] == {"elena": "position", "marcus": "position", "clare": "position"}
    assert all("POSITION" not in text and "\n" not in text for text in digest["final_positions"].values())


def test_an_agent_that_never_declared_gets_its_clipped_last_message_without_a_position_line():
    seed = seed_roundtable()
    msgs.post(seed.conn, seed.rt_id, "simon", "First thought.", kind="speech", round=1, phase="SPEAK")
    msgs.post(seed.conn, seed.rt_id, "simon", "Ship it\nin  two steps. " + LONG, kind="speech", round=2, phase="FLOOR")
    msgs.post(seed.conn, seed.rt_id, "simon", "PASS", kind="speech", round=2, phase="FLOOR")
    digest = _digest(seed, [*WORKERS, "simon"])
    text = digest["final_positions"]["simon"]
    assert digest["final_positions_from"]["simon"] == "message"
    assert text.startswith("Ship it in two steps. word word") and text.endswith("…")
    assert len(text) <= FINAL_MESSAGE_CLIP and "\n" not in text
    assert list(digest["final_positions"]) == [*WORKERS, "simon"]


def test_without_position_rows_every_agent_falls_back_and_silent_ones_are_left_out():
    messages = [{"kind": "speech", "agent": "elena", "content": f"Long story.\nPOSITION: {STAY} | CONFIDENCE: 40"},
                {"kind": "speech", "agent": "marcus", "content": "PASS"}]
    found, source = final_positions(messages, ["elena", "marcus"], None)
    assert found == {"elena": "Long story."} and source == {"elena": "message"}


def test_clip_keeps_short_text_and_cuts_long_text_at_a_word():
    assert clip("  a  b\nc ") == "a b c"
    cut = clip("alpha beta gamma delta", 12)
    assert cut == "alpha beta…"


def test_the_digest_schema_describes_the_new_key():
    digest = _digest(seed_roundtable())
    schema = json.loads((paths.bundled_docs_dir() / "schemas" / "digest.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(digest)
    bad = {**digest, "final_positions_from": {"elena": "guess"}}
    assert not jsonschema.Draft202012Validator(schema).is_valid(bad)

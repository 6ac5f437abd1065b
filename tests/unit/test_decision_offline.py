"""The offline agents declare positions and move; the offline chair answers with ids it read."""

from __future__ import annotations

import json

from amatelier.backends.offline import OfflineBackend
from amatelier.debate.context import TurnContext, build_prompt
from amatelier.debate.decision_prompt import DecisionInputs, build_chair_prompt
from amatelier.debate.instructions import instructions
from amatelier.debate.positions import parse_position
from amatelier.offline import positions as offline_positions

PEOPLE = ["elena", "marcus", "clare"]


def _turn_prompt(agent: str, phase: str, round_no: int, said: list[dict]) -> str:
    return build_prompt(TurnContext(
        agent=agent, round=round_no, phase=phase, topic="split the monolith?", participants=[*PEOPLE, "judge"],
        briefing="- Team: 8 engineers", messages=said,
        instructions=instructions(phase, round=round_no, max_rounds=3)))


def _ask(agent: str, task: str, prompt: str) -> str:
    return OfflineBackend({}).complete(system="", prompt=prompt, task=task, agent=agent).text


def _round_one() -> list[dict]:
    said = []
    for n, agent in enumerate(PEOPLE, start=10):
        text = _ask(agent, "speak", _turn_prompt(agent, "SPEAK", 1, said))
        said.append({"id": n, "agent": agent, "kind": "speech", "round": 1, "phase": "SPEAK", "content": text})
    return said


def test_every_offline_turn_ends_with_a_parseable_position_line():
    said = _round_one()
    for message in said:
        position, _ = parse_position(message["content"], PEOPLE)
        assert position is not None and 55 <= position.confidence <= 90
        assert position.moved_by is None  # nobody moves in round 1
    rebuttal = _ask("elena", "rebuttal", _turn_prompt("elena", "REBUTTAL", 1, said))
    assert parse_position(rebuttal, PEOPLE)[0] is not None


def test_the_first_speaker_of_round_two_moves_and_credits_a_peer_message():
    said = _round_one()
    stances = {m["agent"]: parse_position(m["content"])[0].stance for m in said}
    assert len(set(stances.values())) > 1, "the three start on different stances"
    # pick a first speaker whose stance differs from someone's, so there is somewhere to move
    mover = next(a for a in PEOPLE if any(stances[o] != stances[a] for o in PEOPLE))
    text = _ask(mover, "speak", _turn_prompt(mover, "SPEAK", 2, said))
    position, _ = parse_position(text, PEOPLE)
    assert position.moved_by in PEOPLE and position.moved_by != mover
    credited = next(m for m in said if m["id"] == position.moved_by_message)
    assert credited["agent"] == position.moved_by
    assert position.stance == stances[position.moved_by] != stances[mover]
    assert "moved me" in text


def test_recent_messages_reads_multi_line_messages_whole():
    prompt = _turn_prompt("elena", "SPEAK", 2, [
        {"id": 3, "agent": "marcus", "kind": "speech", "round": 1, "phase": "SPEAK",
         "content": "first line\nPOSITION: stay | CONFIDENCE: 60 | MOVED BY: none"}])
    [seen] = offline_positions.recent_messages(prompt)
    assert (seen.id, seen.round, seen.agent) == (3, 1, "marcus")
    assert offline_positions.stance_of(seen.text) == "stay"


def test_offline_chair_cites_only_ids_from_its_prompt():
    said = _round_one()
    inputs = DecisionInputs(rt_id="rt1", topic="split the monolith?", messages=said, workers=PEOPLE,
                            positions=[{"message_id": m["id"], "agent": m["agent"], "round": 1, "phase": "SPEAK",
                                        "stance": parse_position(m["content"])[0].stance, "confidence": 70,
                                        "moved_by": None, "moved_by_message": None, "missing": 0} for m in said])
    answer = json.loads(_ask("opus-admin", "decision", build_chair_prompt(inputs, [])))
    ids = {m["id"] for m in said}
    cited = [c for key in ("arguments", "dissent") for item in answer[key] for c in item["cites"]]
    assert cited and set(cited) <= ids
    assert len(answer["arguments"]) >= 2 and answer["outcome"] in ("consensus", "majority", "split")

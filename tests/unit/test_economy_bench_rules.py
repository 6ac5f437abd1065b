"""Relegation and bench rules that need no database: who is seated, how a choice is read."""

from __future__ import annotations

import json
import re

import pytest

from amatelier.economy.bench import seat_workers
from amatelier.learning.outcome_blocks import parse_outcomes, parse_relegation_choice
from amatelier.offline import learning as offline_learning
from amatelier.offline.request import OfflineRequest


def test_default_roster_leaves_benched_agents_out_with_one_note() -> None:
    seated, notes = seat_workers(["elena", "marcus", "clare", "naomi"], ["marcus", "ghost"], explicit=False)
    assert seated == ["elena", "clare", "naomi"]
    assert len(notes) == 1 and "marcus" in notes[0] and "ghost" not in notes[0]
    assert "amatelier bench marcus --off" in notes[0]


def test_named_roster_keeps_benched_agents_with_a_note() -> None:
    seated, notes = seat_workers(["elena", "marcus"], ["marcus"], explicit=True)
    assert seated == ["elena", "marcus"]
    assert len(notes) == 1 and "marcus" in notes[0] and "--workers" in notes[0]


def test_nobody_benched_means_no_note() -> None:
    assert seat_workers(["elena", "marcus"], [], explicit=False) == (["elena", "marcus"], [])
    assert seat_workers(["elena"], ["clare"], explicit=True) == (["elena"], [])


def test_everyone_benched_leaves_an_empty_roster() -> None:
    seated, notes = seat_workers(["elena", "clare"], ["clare", "elena"], explicit=False)
    assert seated == [] and "elena, clare" in notes[0]


@pytest.mark.parametrize("value, expected", [
    ("bench", "bench"), ("Bench.", "bench"), (" STAY ", "stay"), ("I'd rather sit out", "bench"),
    ("keep playing", "stay"), ({"choice": "bench"}, "bench"), ({"decision": "Stay"}, "stay"),
    ("retire", "retire"), ("delete me", "retire"),
    ("stay, not bench", None), ("maybe", None), ("", None), (None, None), (3, None), (["bench"], None),
])
def test_relegation_choice_is_read_leniently(value, expected) -> None:
    assert parse_relegation_choice(value) == expected


def test_relegation_choice_in_outcome_blocks() -> None:
    close = ("Summary.\n```json\n{\"session_summary\": \"ok\", \"relegation_choice\": \"Bench\",}\n```")
    outcomes = parse_outcomes(close)
    assert outcomes.relegation_choice == "bench" and outcomes.session_summary == "ok"
    assert outcomes.to_dict()["relegation_choice"] == "bench"
    assert not outcomes.is_empty()
    # A later block refines an earlier one; a null or unreadable choice does not erase it.
    later = "```json\n{\"relegation_choice\": \"stay\"}\n```\n```json\n{\"relegation_choice\": null}\n```"
    assert parse_outcomes(close, later).relegation_choice == "stay"
    assert parse_outcomes(close, "```json\n{\"relegation_choice\": \"dunno\"}\n```").relegation_choice == "bench"
    # The alias key and a block that is otherwise broken.
    assert parse_outcomes("```json\n{\"relegation\": {\"choice\": \"stay\"}}\n```").relegation_choice == "stay"
    broken = parse_outcomes("```json\n{\"relegation_choice\": \"bench\"\n```")
    assert broken.relegation_choice is None and broken.blocks_skipped == 1
    assert parse_outcomes("no blocks at all").relegation_choice is None


def _agent_request(prompt: str) -> OfflineRequest:
    return OfflineRequest(system="", prompt=prompt, task="therapist-agent", agent="elena", model="sonnet")


@pytest.mark.parametrize("streak, choice", [(3, "bench"), (5, "bench"), (offline_learning.RETIRE_AFTER, "retire")])
def test_offline_agent_makes_its_own_choice_on_watch(streak, choice) -> None:
    prompt = (f"RT: r1\nAGENT: elena\nTURN: 1 of 2\n\nYOUR RESULTS:\nRT: r1\nAGENT: elena\n"
              f"SCORES: novelty=1 accuracy=0 impact=1 challenge=0 total=2\n"
              f"RELEGATION WATCH: {streak} net-negative roundtables in a row (the watch starts at 3).\n")
    answer = offline_learning.therapist_agent(_agent_request(prompt))
    assert parse_outcomes(answer).relegation_choice == choice
    close = offline_learning.therapist_agent(_agent_request(prompt.replace("TURN: 1 of 2", "TURN: 2 of 2")))
    assert parse_outcomes(close).relegation_choice is None          # decided once, at the first answer


def test_offline_agent_off_watch_makes_no_choice() -> None:
    prompt = "RT: r1\nAGENT: elena\nTURN: 1 of 2\n\nYOUR RESULTS:\nSCORES: novelty=2 accuracy=2 impact=2 challenge=2\n"
    answer = offline_learning.therapist_agent(_agent_request(prompt))
    assert parse_outcomes(answer).relegation_choice is None
    assert not re.search(r"```json", answer)
    assert json.dumps({"relegation_choice": "stay"}) not in answer

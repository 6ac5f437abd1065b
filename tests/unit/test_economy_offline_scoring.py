"""The offline Judge: valid, deterministic, calibrated scores and an occasional malformed answer."""

from __future__ import annotations

import statistics

from amatelier.judging import scoring as judge
from amatelier.offline import scoring
from amatelier.offline.request import OfflineRequest

WORKERS = ["elena", "marcus", "clare"]
MESSAGES = [
    {"id": 1, "agent": "runner", "kind": "briefing", "content": "BRIEFING: choose"},
    {"id": 2, "agent": "elena", "kind": "speech", "round": 1, "phase": "speak",
     "content": "Split the service. It halves deploy risk.\nSecond line."},
    {"id": 3, "agent": "marcus", "kind": "speech", "round": 1, "phase": "speak", "content": "Keep the monolith."},
    {"id": 4, "agent": "elena", "kind": "speech", "round": 1, "phase": "rebuttal", "content": "Still split."},
]


def request(rt: str, task: str = "score", workers=WORKERS) -> OfflineRequest:
    prompt = judge.build_scoring_prompt(rt, "t", workers, MESSAGES)
    return OfflineRequest(system="judge", prompt=prompt, model="sonnet", task=task, agent="judge")


def rt_with(variant: int | None) -> str:
    for i in range(10_000):
        rt = f"rt{i:05x}"
        if scoring.malformed_variant(rt) == variant:
            return rt
    raise AssertionError("no such rt id")


def test_reads_workers_and_transcript_from_the_prompt() -> None:
    prompt = request("abc").prompt
    assert scoring.parse_workers(prompt) == WORKERS
    said = scoring.parse_transcript(prompt)
    assert said["elena"][0].startswith("Split the service.") and "Second line." in said["elena"][0]
    assert said["marcus"] == ["Keep the monolith."]


def test_valid_answer_for_every_worker_and_deterministic() -> None:
    rt = rt_with(None)
    text = scoring.respond(request(rt))
    assert text == scoring.respond(request(rt))
    result = judge.parse_judge_output(text, WORKERS)
    assert result.ok, result.problems
    assert result.valid["clare"].total == 0       # clare never spoke


def test_malformed_answers_need_the_repair_and_the_repair_is_valid() -> None:
    for variant in (0, 1, 2):
        rt = rt_with(variant)
        first = judge.parse_judge_output(scoring.respond(request(rt)), WORKERS)
        assert not first.ok, variant
        broken = [w for w in WORKERS if w in first.problems]
        assert broken, (variant, first.problems)   # else the repair below would check nothing
        repair = scoring.respond(OfflineRequest(
            system="judge", model="sonnet", task="score-repair", agent="judge",
            prompt=judge.build_repair_prompt(rt, "t", broken, "x", first.problem_lines(), MESSAGES)))
        fixed = judge.parse_judge_output(repair, broken)
        assert fixed.ok, (variant, fixed.problems)
        # The repair gives the scores the valid answer would have had.
        expected = judge.parse_judge_output(scoring.json.dumps(
            scoring.valid_answer(rt, broken, scoring.parse_transcript(request(rt).prompt))), broken)
        assert {a: s.axes for a, s in fixed.valid.items()} == {a: s.axes for a, s in expected.valid.items()}


def test_about_one_roundtable_in_four_gets_a_malformed_answer() -> None:
    share = sum(scoring.malformed_variant(f"rt{i:05x}") is not None for i in range(2000)) / 2000
    assert 0.15 < share < 0.35


def test_scores_are_calibrated() -> None:
    totals, tens, penalties = [], 0, 0
    for i in range(1500):
        score = scoring.worker_score(f"rt{i}", "elena", ["One point. Another.", "A second message."])
        totals.append(sum(score[a] for a in scoring.AXES))
        tens += any(score[a] == 10 for a in scoring.AXES)
        penalties += bool(score["penalties"])
        assert all(score[a] in (0, 1, 2, 3, 10) for a in scoring.AXES)
        if score["grand_insight"]:
            assert score["grand_insight"]["quote"] in ("One point.", "A second message.")
            assert score[score["grand_insight"]["axis"]] == 10
    assert 4.0 <= statistics.mean(totals) <= 6.5
    assert 0 < tens < 150 and 0 < penalties < 400

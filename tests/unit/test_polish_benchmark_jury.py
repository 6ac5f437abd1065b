"""Benchmark scoring uses the judge's jury when `judging.jury` has two or more seats (issue 15)."""

from __future__ import annotations

import pytest
from tests.helpers.decision_fixtures import WORKERS, seed_roundtable

from amatelier.config import deep_merge, load_config
from amatelier.judging.benchmark import score_only
from amatelier.judging.scale import AXES


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMATELIER_MODE", "offline")


def _calls(seed) -> list[dict]:
    return [dict(r) for r in seed.conn.execute(
        "SELECT role, model FROM llm_calls WHERE rt_id = ? ORDER BY id", (seed.rt_id,))]


def _settled_nothing(seed) -> None:
    for table in ("scores", "judging_results"):
        assert seed.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE rt_id = ?", (seed.rt_id,)).fetchone()[0] == 0


def test_a_two_seat_jury_scores_a_benchmark_run_into_the_digest_only():
    seed = seed_roundtable()
    config = deep_merge(load_config(), {"judging": {"jury": [{"model": "sonnet"}, {"model": "opus"}],
                                                    "swap_audit_share": 0.0}})
    fields = score_only(seed.state(config), {})
    judging = fields["judging"]
    assert [s["model"] for s in judging["seats"]] == ["sonnet", "opus"] and judging["method"] == "median"
    assert all(sorted(s["order"]) == sorted(WORKERS) for s in judging["seats"])
    assert isinstance(judging["alpha"], float)  # the offline seats disagree a little
    assert set(fields["scores"]) == set(WORKERS)
    for agent, score in fields["scores"].items():  # the final scores are the seats' combination
        assert all(score[axis] in (0, 1, 2, 3, 10) for axis in AXES), (agent, score)
    scoring = [c for c in _calls(seed) if c["role"] == "score"]
    assert len(scoring) == 2 and len({c["model"] for c in scoring}) == 2
    _settled_nothing(seed)


def test_a_single_seat_keeps_the_lone_judge_and_adds_no_judging_section():
    seed = seed_roundtable()
    fields = score_only(seed.state(deep_merge(load_config(), {"judging": {"jury": [{"model": "sonnet"}]}})), {})
    assert "judging" not in fields and set(fields["scores"]) == set(WORKERS)
    # one lone Judge call (the offline Judge answers one roundtable in four malformed first, by
    # design, so a repair call may follow); no seat calls
    assert [c["role"] for c in _calls(seed)] in (["score"], ["score", "score-repair"])
    _settled_nothing(seed)

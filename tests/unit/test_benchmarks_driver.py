"""The batch driver's bookkeeping: adopting what a dead driver left, the cost ceiling, the lock.

The engine here is an in-process one that answers each job with a recorded outcome, so the
scheduling rules can be checked exactly; the real engines are exercised end to end in
tests/integration/test_benchmarks_batch_e2e.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from amatelier.benchmarks import batch_store as store
from amatelier.benchmarks import driver
from amatelier.benchmarks.ids import new_batch_id
from amatelier.benchmarks.jobs import Job, Outcome
from amatelier.benchmarks.results import run_result
from amatelier.benchmarks.suite import freeze, load_suite

REPO = Path(__file__).resolve().parents[2]


def digest(rt_id: str, cost: float = 0.0) -> dict:
    return {"rt_id": rt_id, "status": "closed", "workers": ["elena"], "worker_models": {},
            "scores": {"elena": {"novelty": 1, "accuracy": 1, "impact": 1, "challenge": 1, "total": 4}},
            "llm_usage": {"cost_usd": cost}}


def new_batch(persona_sets: list[str] | None = None) -> tuple[str, list[store.RunSpec]]:
    batch_id = new_batch_id()
    suite = load_suite(REPO / "examples" / "suites" / "starter")
    freeze(suite, store.suite_copy_dir(batch_id))
    specs = store.plan_runs([c.id for c in suite.cases], 1, persona_sets or ["current"])
    store.create_batch(batch_id, suite_summary=suite.summary(), options={}, runs=specs, mode="offline")
    return batch_id, specs


class RecordedEngine:
    """Answers every job at once with a finished digest costing `cost` dollars."""

    name = "recorded"

    def __init__(self, cost: float) -> None:
        self.cost = cost
        self.started: list[str] = []

    def start(self, job: Job) -> str:
        self.started.append(job.key)
        return job.key

    def wait(self, handles: list[str], timeout: float) -> list[tuple[str, Outcome]]:
        key = handles[0]
        d = digest(f"rt-{key}", self.cost)
        return [(key, Outcome(key=key, ok=True, exit_code=0, duration_ms=1, digest=d, result=run_result(d)))]

    def stop(self) -> None: ...

    def close(self) -> None: ...


def test_a_finished_orphan_is_adopted_and_a_dead_unfinished_one_is_rerun(monkeypatch: pytest.MonkeyPatch) -> None:
    batch_id, specs = new_batch()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    finished, unfinished = specs[0], specs[1]
    for spec in (finished, unfinished):
        store.write_run(batch_id, spec.to_dict() | {"status": store.RUNNING, "pid": dead.pid})
    store.run_file(batch_id, finished.key, ".out").write_text(json.dumps(digest("rt-orphan")), encoding="utf-8")
    store.run_file(batch_id, unfinished.key, ".out").write_text("", encoding="utf-8")
    engine = RecordedEngine(0.0)
    monkeypatch.setattr(driver, "make_engine", lambda opts, bid, on_started: engine)
    report = driver.drive(batch_id, driver.DriveOptions(parallel=2))
    assert report.adopted == [finished.key]
    assert finished.key not in engine.started and unfinished.key in engine.started
    assert store.read_run(batch_id, finished.key)["rt_id"] == "rt-orphan"
    assert all(r["status"] == store.DONE for r in store.read_runs(batch_id, specs).values())


def test_the_cost_ceiling_stops_new_runs_and_resume_continues(monkeypatch: pytest.MonkeyPatch) -> None:
    batch_id, specs = new_batch()
    engine = RecordedEngine(0.30)
    monkeypatch.setattr(driver, "make_engine", lambda opts, bid, on_started: engine)
    report = driver.drive(batch_id, driver.DriveOptions(parallel=1, max_cost_usd=1.0))
    assert len(report.done) == 4 and report.cost_usd == pytest.approx(1.2)  # stops once 1.0 is reached
    assert "cost ceiling reached" in report.stopped_reason
    assert store.counts(specs, store.read_runs(batch_id, specs))["pending"] == 2
    again = driver.drive(batch_id, driver.DriveOptions(parallel=1, max_cost_usd=5.0))
    assert sorted(again.skipped) == sorted(report.done) and len(again.done) == 2


def test_only_one_driver_at_a_time() -> None:
    batch_id, _ = new_batch()
    with store.driver_lock(batch_id):
        assert store.is_driven(batch_id)
        with pytest.raises(store.BatchBusy, match="being driven"):
            driver.drive(batch_id, driver.DriveOptions())
    assert not store.is_driven(batch_id)

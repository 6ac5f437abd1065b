"""Drive a batch: start it, resume it, keep at most `parallel` runs going, record each end.

The driver holds the batch's lock while it works. Before starting anything it reconciles
what a dead driver left behind: a run recorded as running whose runner already printed a
finished digest is adopted as done; one whose runner is still alive is stopped and re-run;
anything else not done is re-run. So `batch resume` finishes exactly the missing runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from amatelier.benchmarks import batch_store as store
from amatelier.benchmarks.jobs import Job, Outcome, outcome_from
from amatelier.benchmarks.local_engine import process_alive, runner_of_batch, stop_process_group
from amatelier.benchmarks.suite import Suite, load_suite

WAIT_TICK_S = 0.5


@dataclass
class DriveOptions:
    """How to drive this time (may differ between run and resume)."""

    parallel: int = 2
    engine: str = "local"
    max_cost_usd: float | None = None
    ray_address: str | None = None


@dataclass
class DriveReport:
    """What one drive did."""

    batch_id: str
    started: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    stopped_reason: str | None = None
    cost_usd: float = 0.0
    unpriced: int = 0  # finished runs whose cost is unknown (counted as 0 against the ceiling)


class Progress:
    """What the driver tells its display (the CLI's rich bar implements these)."""

    def begin(self, total: int, already_done: int, cost_usd: float) -> None: ...
    def finished(self, key: str, ok: bool, cost_usd: float | None, error: str | None) -> None: ...
    def end(self) -> None: ...


def run_cost(record: dict[str, Any]) -> float:
    """What a run cost, finished or not (a cut roundtable's calls were paid for too)."""
    cost = record.get("cost_usd")
    if cost is None:
        cost = ((record.get("result") or {}).get("telemetry") or {}).get("cost_usd")
    return float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else 0.0


def reconcile(batch_id: str, specs: list[store.RunSpec], runs: dict[str, dict[str, Any]],
              report: DriveReport) -> list[store.RunSpec]:
    """The runs still to do, after adopting or stopping what a dead driver left running."""
    todo = []
    for spec in specs:
        record = runs.get(spec.key)
        status = (record or {}).get("status")
        if status == store.DONE:
            report.skipped.append(spec.key)
            continue
        if status == store.RUNNING and record is not None:
            adopted = _adopt(batch_id, record)
            if adopted is not None:
                runs[spec.key] = adopted
                report.adopted.append(spec.key)
                continue
        todo.append(spec)
    return todo


def _adopt(batch_id: str, record: dict[str, Any]) -> dict[str, Any] | None:
    """A stale `running` record: its result if its runner finished, else stop the runner."""
    key = str(record["key"])
    pid = record.get("pid")
    if isinstance(pid, int) and process_alive(pid) and runner_of_batch(pid, batch_id, key):
        stop_process_group(pid)
        return None
    stdout = _read(store.run_file(batch_id, key, ".out"))
    stderr = _read(store.run_file(batch_id, key, ".err"))
    outcome = outcome_from(key, 0, stdout, stderr, int(record.get("duration_ms") or 0))
    if not outcome.ok:
        return None
    return _finish_record(batch_id, record, outcome, adopted=True)


def _read(path: Any) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _finish_record(batch_id: str, record: dict[str, Any], outcome: Outcome, *, adopted: bool = False) -> dict[str, Any]:
    record = dict(record)
    record.update(status=store.DONE if outcome.ok else store.FAILED, finished_at=store.now_iso(),
                  exit_code=outcome.exit_code, duration_ms=outcome.duration_ms, error=outcome.error)
    if outcome.host:
        record["host"] = outcome.host
    usage = (outcome.digest or {}).get("llm_usage")
    cost = usage.get("cost_usd") if isinstance(usage, dict) else None
    record["cost_usd"] = cost if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None
    if outcome.ok and outcome.result is not None:
        record["result"] = outcome.result
        record["rt_id"] = outcome.result.get("rt_id")
    if adopted:
        record["adopted"] = True
    store.write_run(batch_id, record)
    return record


def jobs_for(batch_id: str, suite: Suite, specs: list[store.RunSpec], options: dict[str, Any]) -> dict[str, Job]:
    """{key: Job} for the runs to do; batch-level --workers/--max-rounds win over the case's."""
    jobs = {}
    for spec in specs:
        case = suite.case(spec.case)
        workers = options.get("workers") or (list(case.workers) if case.workers else None)
        rounds = options.get("max_rounds") or case.rounds
        jobs[spec.key] = Job(batch_id=batch_id, key=spec.key, case=spec.case, persona_set=spec.persona_set,
                             topic=case.topic, briefing_name=case.briefing,
                             briefing_text=suite.briefings[case.briefing],
                             workers=tuple(workers) if workers else None, max_rounds=rounds)
    return jobs


def make_engine(opts: DriveOptions, batch_id: str, on_started: Callable[[str, int], None]) -> Any:
    if opts.engine == "ray":
        from amatelier.benchmarks.ray_engine import RayEngine, ray_address
        from amatelier.config import load_config

        return RayEngine(opts.parallel, address=ray_address(opts.ray_address, load_config()))
    from amatelier.benchmarks.local_engine import LocalEngine

    return LocalEngine(opts.parallel, briefing_dir=store.suite_copy_dir(batch_id), on_started=on_started)


def drive(batch_id: str, opts: DriveOptions, progress: Progress | None = None) -> DriveReport:
    """Run every run of the batch that is not done yet. Holds the batch lock throughout.

    Ctrl-C stops the runners in flight (their roundtables are cut) and re-raises; their
    runs stay not-done, so `batch resume` runs them again.
    """
    progress = progress or Progress()
    report = DriveReport(batch_id=batch_id)
    with store.driver_lock(batch_id):
        batch = store.load_batch(batch_id)
        specs = store.run_specs(batch)
        runs = store.read_runs(batch_id, specs)
        todo = reconcile(batch_id, specs, runs, report)
        suite = load_suite(store.suite_copy_dir(batch_id))
        jobs = jobs_for(batch_id, suite, todo, batch.get("options") or {})
        report.cost_usd = sum(run_cost(r) for r in runs.values())
        store.note_drive(batch_id, {"at": store.now_iso(), "pid": os.getpid(), "engine": opts.engine,
                                    "parallel": opts.parallel, "to_run": len(todo),
                                    "max_cost_usd": opts.max_cost_usd})
        progress.begin(len(specs), len(specs) - len(todo), report.cost_usd)
        if todo:
            _run_all(batch_id, todo, jobs, runs, opts, progress, report)
        progress.end()
    return report


def _run_all(batch_id: str, todo: list[store.RunSpec], jobs: dict[str, Job], runs: dict[str, dict[str, Any]],
             opts: DriveOptions, progress: Progress, report: DriveReport) -> None:
    def record_start(key: str, pid: int | None) -> None:
        record = dict(runs.get(key) or {})
        spec = next(s for s in todo if s.key == key)
        record.update(spec.to_dict(), status=store.RUNNING, pid=pid, started_at=store.now_iso(),
                      engine=opts.engine, attempt=int(record.get("attempt") or 0) + 1, error=None)
        record.pop("result", None)
        runs[key] = record
        store.write_run(batch_id, record)

    engine = make_engine(opts, batch_id, record_start)
    queue = list(todo)
    in_flight: dict[Any, str] = {}
    try:
        while queue or in_flight:
            while queue and len(in_flight) < max(1, opts.parallel) and not report.stopped_reason:
                if opts.max_cost_usd is not None and report.cost_usd >= opts.max_cost_usd:
                    report.stopped_reason = (f"cost ceiling reached: ${report.cost_usd:.4f} of "
                                             f"${opts.max_cost_usd:.4f}")
                    break
                spec = queue.pop(0)
                if engine.name != "local":
                    record_start(spec.key, None)
                in_flight[engine.start(jobs[spec.key])] = spec.key
                report.started.append(spec.key)
            if report.stopped_reason and not in_flight:
                break
            for handle, outcome in engine.wait(list(in_flight), WAIT_TICK_S):
                key = in_flight.pop(handle)
                if engine.name != "local" and outcome.digest is not None:
                    _write_stdout_copy(batch_id, key, outcome)
                record = _finish_record(batch_id, runs.get(key) or {"key": key}, outcome)
                if engine.name != "local" and outcome.ok:
                    _merge_home(batch_id, record, outcome)
                runs[key] = record
                cost = run_cost(record)
                report.cost_usd += cost
                if outcome.ok and ((record.get("result") or {}).get("telemetry") or {}).get("cost_usd") is None:
                    report.unpriced += 1
                if outcome.ok:
                    report.done.append(key)
                else:
                    report.failed[key] = outcome.error or "failed"
                progress.finished(key, outcome.ok, report.cost_usd, outcome.error)
    except BaseException:
        engine.stop()
        raise
    finally:
        engine.close()
    if report.stopped_reason:
        store.note_drive(batch_id, {"at": store.now_iso(), "stopped": report.stopped_reason})


def _merge_home(batch_id: str, record: dict[str, Any], outcome: Outcome) -> None:
    """Record a remote run's roundtable and model calls in the user's workspace (never fatal)."""
    import sqlite3

    from amatelier.benchmarks.merge import import_run

    if not outcome.export or outcome.digest is None:
        return
    try:
        import_run(outcome.export, outcome.digest, store.run_file(batch_id, record["key"], ".transcript.json"))
    except (OSError, sqlite3.Error) as exc:
        record["merge_error"] = f"{type(exc).__name__}: {exc}"[:300]
        store.write_run(batch_id, record)


def _write_stdout_copy(batch_id: str, key: str, outcome: Outcome) -> None:
    """A Ray run's digest lands in runs/<key>.out too, like a local run's stdout."""
    import json

    from amatelier.atomicio import write_text_atomic

    write_text_atomic(store.run_file(batch_id, key, ".out"),
                      json.dumps(outcome.digest, indent=2, ensure_ascii=False) + "\n")

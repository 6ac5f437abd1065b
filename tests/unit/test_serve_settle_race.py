"""A job the watcher has just finished is never 'settled' again from a stale read (its exit code kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

from amatelier.atomicio import read_json, write_json_atomic
from amatelier.serve import jobs
from amatelier.serve.jobs import JobManager


def test_load_does_not_overwrite_a_just_finished_job_with_a_stale_copy(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "ws"))
    manager = JobManager()
    path = manager.record_path("job-1")
    path.parent.mkdir(parents=True)
    finished = {"id": "job-1", "status": "done", "exit_code": 0, "pid": 999_999_999, "error": None,
                "ended_at": "2026-01-01T00:00:01Z", "log_path": str(path.parent / "runner.log")}
    write_json_atomic(path, finished)
    stale = {**finished, "status": "running", "exit_code": None, "ended_at": None}
    reads = []

    def first_read_is_stale(where, default=None):   # the watcher finished between load's read and its lock
        reads.append(where)
        return dict(stale) if len(reads) == 1 else read_json(where, default)

    monkeypatch.setattr(jobs, "read_json", first_read_is_stale)
    shown = manager.load("job-1")
    assert (shown["status"], shown["exit_code"]) == ("done", 0)
    assert read_json(path, None)["exit_code"] == 0          # nothing wrote the stale copy back

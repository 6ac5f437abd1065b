"""A batch on disk: `<user data>/batches/<id>/` holds everything needed to finish it.

    batch.json          the plan: suite summary, options, every run (case x repeat x persona set)
    suite/              a frozen copy of the suite (suite.json and briefings)
    runs/<key>.json     one record per run: running / done / failed, the result when done
    runs/<key>.out      the runner's stdout (its digest JSON), runs/<key>.err its stderr
    .driver.lock        held (flock) by the one process driving the batch

Every file is written atomically and each run has its own record, so a driver killed at
any instant loses at most the runs in flight, and those are re-run by `batch resume`.
The lock is released by the kernel when its holder dies, so a crashed driver never
blocks a resume.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import locked_json, read_json, write_json_atomic
from amatelier.benchmarks.ids import is_batch_id

SCHEMA_VERSION = 1
RUNNING, DONE, FAILED = "running", "done", "failed"
PERSONA_SETS = ("seed", "current")


class BatchError(RuntimeError):
    """A batch cannot be found, read or driven; the message says which and why."""


@dataclass(frozen=True)
class RunSpec:
    """One roundtable of a batch: a case, a repeat number and a persona set."""

    case: str
    repeat: int
    persona_set: str

    @property
    def key(self) -> str:
        """A file-name-safe key, unique in the batch (case ids cannot contain dots)."""
        return f"{self.case}.{self.persona_set}.{self.repeat}"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "case": self.case, "repeat": self.repeat, "persona_set": self.persona_set}


def plan_runs(case_ids: list[str], repeats: int, persona_sets: list[str]) -> list[RunSpec]:
    """Every run of a batch, interleaved so that each persona set progresses together."""
    return [RunSpec(case, repeat, persona_set)
            for repeat in range(1, repeats + 1)
            for case in case_ids
            for persona_set in persona_sets]


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --------------------------------------------------------------------------- locations


def batch_dir(batch_id: str) -> Path:
    """The batch's folder; BatchError for anything that is not a well-formed batch id."""
    if not is_batch_id(batch_id):
        raise BatchError(f"not a batch id: {batch_id!r} (expected batch-<13 digits>-<9 base36 chars>)")
    return paths.user_batches_dir() / batch_id


def batch_file(batch_id: str) -> Path:
    return batch_dir(batch_id) / "batch.json"


def suite_copy_dir(batch_id: str) -> Path:
    return batch_dir(batch_id) / "suite"


def runs_dir(batch_id: str) -> Path:
    return batch_dir(batch_id) / "runs"


def run_file(batch_id: str, key: str, suffix: str = ".json") -> Path:
    return runs_dir(batch_id) / f"{key}{suffix}"


# --------------------------------------------------------------------------- batch.json


def create_batch(batch_id: str, *, suite_summary: dict[str, Any], options: dict[str, Any],
                 runs: list[RunSpec], mode: str) -> dict[str, Any]:
    """Write batch.json for a new batch (the suite copy is written by the caller first)."""
    record = {
        "schema_version": SCHEMA_VERSION,
        "batch_id": batch_id,
        "created_at": now_iso(),
        "mode": mode,
        "suite": suite_summary,
        "options": options,
        "runs": [spec.to_dict() for spec in runs],
        "drives": [],
    }
    target = batch_file(batch_id)
    if target.exists():
        raise BatchError(f"batch {batch_id} already exists")
    runs_dir(batch_id).mkdir(parents=True, exist_ok=True)
    write_json_atomic(target, record)
    return record


def load_batch(batch_id: str) -> dict[str, Any]:
    """batch.json of a batch; BatchError when it is missing or unreadable."""
    path = batch_file(batch_id)
    try:
        data = read_json(path, None)
    except (OSError, ValueError) as exc:
        raise BatchError(f"batch {batch_id} is unreadable ({path}: {exc})") from None
    if data is None:
        raise BatchError(f"no batch {batch_id} (looked in {paths.user_batches_dir()})")
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise BatchError(f"batch {batch_id} is corrupt ({path} has no run list)")
    return data


def run_specs(batch: dict[str, Any]) -> list[RunSpec]:
    """The planned runs of a loaded batch."""
    specs = []
    for entry in batch.get("runs", []):
        try:
            specs.append(RunSpec(str(entry["case"]), int(entry["repeat"]), str(entry["persona_set"])))
        except (KeyError, TypeError, ValueError):
            raise BatchError(f"batch {batch.get('batch_id')} has a malformed run entry: {entry!r}") from None
    return specs


def note_drive(batch_id: str, entry: dict[str, Any]) -> None:
    """Append one line to batch.json's `drives` (who ran or resumed it, when, how)."""
    with locked_json(batch_file(batch_id), {}) as data:
        data.setdefault("drives", []).append(entry)


def list_batch_ids() -> list[str]:
    """Every batch id in the workspace, oldest first (ids sort by start time)."""
    root = paths.user_batches_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and is_batch_id(p.name))


# --------------------------------------------------------------------------- run records


def read_run(batch_id: str, key: str) -> dict[str, Any] | None:
    """One run's record; a corrupt record is set aside (kept as .corrupt) and read as missing."""
    path = run_file(batch_id, key)
    try:
        data = read_json(path, None)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            os.replace(path, path.with_suffix(f".corrupt-{int(time.time())}"))
        return None
    return data if isinstance(data, dict) else None


def read_runs(batch_id: str, specs: list[RunSpec]) -> dict[str, dict[str, Any]]:
    """{key: record} for every planned run that has a record."""
    found = {}
    for spec in specs:
        record = read_run(batch_id, spec.key)
        if record is not None:
            found[spec.key] = record
    return found


def write_run(batch_id: str, record: dict[str, Any]) -> None:
    """Replace one run's record atomically."""
    write_json_atomic(run_file(batch_id, str(record["key"])), record)


# --------------------------------------------------------------------------- the driver lock


class BatchBusy(BatchError):
    """Another live process is driving this batch."""


@contextlib.contextmanager
def driver_lock(batch_id: str) -> Iterator[None]:
    """Hold the batch's driver lock; BatchBusy at once when another process holds it."""
    target = batch_dir(batch_id) / ".driver.lock"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a+") as handle:
        if not _try_lock(handle.fileno()):
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise BatchBusy(f"batch {batch_id} is being driven by {holder}; wait for it or stop it "
                            "first")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _try_lock(fd: int, attempts: int = 6) -> bool:
    """Take the lock without blocking, retrying briefly: `is_driven` may hold it for a moment."""
    delay = 0.01
    for attempt in range(attempts):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt == attempts - 1:
                return False
            time.sleep(delay)  # a probe's hold lasts microseconds; a driver's lasts the whole batch
            delay *= 2
    return False


def is_driven(batch_id: str) -> bool:
    """Whether some live process holds the batch's driver lock right now."""
    target = batch_dir(batch_id) / ".driver.lock"
    if not target.exists():
        return False
    with open(target, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


# --------------------------------------------------------------------------- status


def counts(specs: list[RunSpec], runs: dict[str, dict[str, Any]]) -> dict[str, int]:
    """How many planned runs are done, failed, running and not started."""
    tally = {"total": len(specs), DONE: 0, FAILED: 0, RUNNING: 0, "pending": 0}
    for spec in specs:
        status = (runs.get(spec.key) or {}).get("status")
        tally[status if status in (DONE, FAILED, RUNNING) else "pending"] += 1
    return tally


def batch_status(tally: dict[str, int], *, driven: bool) -> str:
    """One word for a batch: running, complete, failed (some runs), interrupted, stopped."""
    if driven:
        return "running"
    if tally[DONE] == tally["total"]:
        return "complete"
    if tally[DONE] + tally[FAILED] == tally["total"]:
        return "failed"
    return "interrupted"


def load_json_file(path: Path) -> Any:
    """JSON from a file, or None when it is missing, empty or not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None

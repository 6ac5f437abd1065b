"""Jobs: roundtables started over HTTP, each an ordinary `amatelier roundtable` runner process.

A job's record lives in `<user data>/runs/<id>/job.json` beside the run manifest, so a restarted
server still lists the jobs it started. At most `max_jobs` runners run at once; the rest wait
`queued` and start, oldest first, as runners finish. A runner is started in its own session
(a Ctrl-C in the server's terminal never reaches it) with its output in runs/<id>/runner.log.
Cancelling cuts the roundtable row first (so the reason on record is ours) and then sends the
runner SIGTERM; the runner stops its workers and keeps the transcript and digest.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import read_json, write_json_atomic, write_text_atomic
from amatelier.serve.requests import BadRequest, JobRequest, runner_args
from amatelier.telemetry.events import iso_now

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINAL = (DONE, FAILED, CANCELLED)
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CANCEL_REASON = "cancelled through the jobs API"


class JobNotFound(LookupError):
    """No job with that id."""


class JobConflict(RuntimeError):
    """The job is in a state that does not allow the request (e.g. cancel a finished job)."""


@dataclass
class _Running:
    process: subprocess.Popen
    log: Any


def valid_id(job_id: str) -> bool:
    """Ids come from URLs: only safe path components are looked up."""
    return bool(JOB_ID.match(job_id or ""))


def last_error_line(log_path: Path) -> str | None:
    """The runner's last `amatelier: error:` line (why it failed), if it printed one."""
    try:
        lines = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("amatelier: error:"):
            return line[len("amatelier: error:"):].strip()[:1000]
    # a usage error is drawn in a box: take its last line of text
    for line in reversed(lines):
        text = line.strip().strip("│╭╮╰╯─ ").strip()
        if text and not set(text) <= set("─╭╮╰╯│"):
            return text[:1000]
    return None


def outcome(exit_code: int | None, *, cancel_requested: bool, digest_exists: bool) -> str:
    """A finished runner's job status from its exit code (pure)."""
    if cancel_requested:
        return CANCELLED
    if exit_code == 0 and digest_exists:
        return DONE
    return FAILED


class JobManager:
    """Starts, tracks and cancels job runners; thread-safe."""

    def __init__(self, *, max_jobs: int = 2, max_queued: int = 100, python: str | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
        self.max_jobs = max(1, int(max_jobs))
        self.max_queued = max(0, int(max_queued))
        self.python = python or sys.executable
        self.extra_env = dict(extra_env or {})
        self._lock = threading.RLock()
        self._running: dict[str, _Running] = {}

    # ------------------------------------------------------------------ records

    @staticmethod
    def run_dir(job_id: str) -> Path:
        return paths.user_run_dir(job_id)

    def record_path(self, job_id: str) -> Path:
        return self.run_dir(job_id) / "job.json"

    def load(self, job_id: str) -> dict[str, Any]:
        """A job's record, with a runner that died while no server watched it settled (JobNotFound)."""
        if not valid_id(job_id):
            raise JobNotFound(job_id)
        try:
            record = read_json(self.record_path(job_id), None)
        except ValueError:
            record = None
        if not isinstance(record, dict) or record.get("id") != job_id:
            raise JobNotFound(job_id)
        with self._lock:
            if record.get("status") == RUNNING and job_id not in self._running:
                # Read again under the lock: this server's watcher may have just finished the job
                # (status, exit_code) between the read above and here; never settle a stale copy.
                try:
                    fresh = read_json(self.record_path(job_id), None)
                except ValueError:
                    fresh = None
                if isinstance(fresh, dict) and fresh.get("id") == job_id:
                    record = fresh
                if record.get("status") == RUNNING:
                    record = self._settle_orphan(record)
        return record

    def _save(self, record: dict[str, Any]) -> None:
        write_json_atomic(self.record_path(record["id"]), record)

    def _settle_orphan(self, record: dict[str, Any]) -> dict[str, Any]:
        """A `running` job whose runner this server did not start (a previous server's)."""
        from amatelier.chat.roundtables import pid_alive

        if pid_alive(record.get("pid")):
            return record
        try:
            manifest = read_json(self.run_dir(record["id"]) / "manifest.json", None)
        except ValueError:
            manifest = None
        finished = isinstance(manifest, dict) and manifest.get("status") == "done"
        digest = paths.user_digest_dir() / f"digest-{record['id']}.json"
        status = outcome(0 if finished else None, cancel_requested=bool(record.get("cancel_requested")),
                         digest_exists=digest.exists())
        record.update(status=status, ended_at=record.get("ended_at") or iso_now(),
                      error=record.get("error") or (None if status != FAILED else
                                                    last_error_line(Path(record["log_path"]))
                                                    or "the runner ended while no server watched it"))
        self._save(record)
        return record

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """Job records, newest first."""
        root = paths.user_runs_dir()
        found = []
        with contextlib.suppress(OSError):
            for entry in root.iterdir():
                if (entry / "job.json").is_file():
                    with contextlib.suppress(JobNotFound):
                        found.append(self.load(entry.name))
        found.sort(key=lambda r: (r.get("created_at") or "", r["id"]), reverse=True)
        return found[:limit]

    # ------------------------------------------------------------------ submit

    def new_id(self) -> str:
        """A roundtable id used by no roundtable and no run directory."""
        from amatelier.chat.roundtables import new_rt_id

        for _ in range(100):
            candidate = new_rt_id()
            if not self.run_dir(candidate).exists() and not (
                    paths.user_digest_dir() / f"digest-{candidate}.json").exists():
                return candidate
        raise RuntimeError("could not find a free roundtable id")

    def submit(self, request: JobRequest) -> dict[str, Any]:
        """Write the briefing and the job record, then start it (or leave it queued)."""
        self._check_workers(request)
        with self._lock:
            waiting = sum(1 for r in self.list(limit=100_000) if r.get("status") == QUEUED)
        if waiting >= self.max_queued:
            raise BadRequest(f"{waiting} jobs are already queued; try again when some have run", 429)
        job_id = self.new_id()
        directory = self.run_dir(job_id)
        briefing = directory / "briefing.md"
        try:
            directory.mkdir(parents=True, exist_ok=False)
            write_text_atomic(briefing, request.briefing.rstrip() + "\n")
        except OSError as exc:  # a full or read-only disk: say so, leave nothing half-made
            shutil.rmtree(directory, ignore_errors=True)
            raise BadRequest(f"cannot write the job under {paths.user_runs_dir()}: "
                             f"{exc.strerror or exc}", 507) from None
        record = {"id": job_id, "status": QUEUED, "created_at": iso_now(), "started_at": None,
                  "ended_at": None, "request": request.public(), "briefing_path": str(briefing),
                  "args": runner_args(request, str(briefing), job_id), "pid": None, "exit_code": None,
                  "cancel_requested": False, "error": None, "log_path": str(directory / "runner.log")}
        with self._lock:
            try:
                self._save(record)
            except OSError as exc:
                shutil.rmtree(directory, ignore_errors=True)
                raise BadRequest(f"cannot write the job record: {exc.strerror or exc}", 507) from None
            self._start_queued()
        return self.load(job_id)

    @staticmethod
    def _check_workers(request: JobRequest) -> None:
        """Unknown agents are refused up front, with the same words as the CLI."""
        workers = request.options.get("workers")
        if not workers:
            return
        from amatelier.config import ConfigError, load_config

        try:
            known = sorted((load_config().get("team") or {}).get("workers") or {})
        except ConfigError as exc:
            raise BadRequest(f"the server's config is broken: {exc}", 500) from None
        unknown = [w for w in workers if w not in known]
        if unknown:
            raise BadRequest(f"workers: unknown worker {', '.join(repr(u) for u in unknown)} "
                             f"(known agents: {', '.join(known)})", 422)

    def _start_queued(self) -> None:
        """Start the oldest queued jobs while there are free slots (lock held)."""
        if len(self._running) >= self.max_jobs:
            return
        queued = [r for r in self.list(limit=10_000) if r.get("status") == QUEUED]
        queued.sort(key=lambda r: (r.get("created_at") or "", r["id"]))
        for record in queued[: self.max_jobs - len(self._running)]:
            self._launch(record)

    def _launch(self, record: dict[str, Any]) -> None:
        job_id = record["id"]
        env = dict(os.environ, PYTHONIOENCODING="utf-8", **self.extra_env)
        env.pop("AMATELIER_SERVE_TOKEN", None)  # the runner, its workers and their tools never need it
        log = open(record["log_path"], "ab")  # noqa: SIM115 - closed when the runner exits
        try:
            process = subprocess.Popen([self.python, "-m", "amatelier", *record["args"]],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       cwd=str(self.run_dir(job_id)), env=env, start_new_session=True)
        except (OSError, ValueError) as exc:
            log.close()
            record.update(status=FAILED, ended_at=iso_now(), error=f"could not start the runner: {exc}")
            self._save(record)
            return
        self._running[job_id] = _Running(process=process, log=log)
        record.update(status=RUNNING, started_at=iso_now(), pid=process.pid)
        self._save(record)
        threading.Thread(target=self._wait, args=(job_id, process), name=f"job-{job_id}", daemon=True).start()

    def _wait(self, job_id: str, process: subprocess.Popen) -> None:
        code = process.wait()
        with self._lock:
            running = self._running.pop(job_id, None)
            if running is not None:
                with contextlib.suppress(OSError):
                    running.log.close()
            try:
                record = read_json(self.record_path(job_id), None) or {}
            except ValueError:
                record = {}
            if record.get("id") == job_id:
                digest = paths.user_digest_dir() / f"digest-{job_id}.json"
                status = outcome(code, cancel_requested=bool(record.get("cancel_requested")),
                                 digest_exists=digest.exists())
                error = None
                if status == FAILED:
                    error = last_error_line(Path(record["log_path"])) or f"the runner exited with code {code}"
                record.update(status=status, exit_code=code, ended_at=iso_now(), error=error)
                self._save(record)
            self._start_queued()

    # ------------------------------------------------------------------ cancel

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a queued or running job (JobConflict when it already finished)."""
        with self._lock:
            record = self.load(job_id)
            if record["status"] in FINAL:
                raise JobConflict(f"job {job_id} already finished: {record['status']}")
            record["cancel_requested"] = True
            if record["status"] == QUEUED:
                record.update(status=CANCELLED, ended_at=iso_now())
                self._save(record)
                return record
            self._save(record)
            self._cut_row(job_id)
            running = self._running.get(job_id)
            pid = running.process.pid if running is not None else record.get("pid")
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(pid), signal.SIGTERM)
        return self.load(job_id)

    @staticmethod
    def _cut_row(job_id: str) -> None:
        """Record the cancel as the roundtable's cut reason (when its row exists and is open)."""
        if not paths.user_db_path().exists():
            return
        from amatelier.chat import roundtables
        from amatelier.chat.db import connect

        try:
            conn = connect()
        except Exception:  # noqa: BLE001 - the SIGTERM still stops the runner
            return
        try:
            roundtables.cut_roundtable(conn, job_id, CANCEL_REASON)
        except Exception:  # noqa: BLE001
            pass
        finally:
            conn.close()

    def say(self, job_id: str, text: str, name: str) -> dict[str, Any]:
        """Post a person's message into the job's live roundtable (JobConflict when it is not live)."""
        from amatelier.chat import human, roundtables
        from amatelier.chat.db import connect
        from amatelier.config import load_config

        self.load(job_id)
        if not paths.user_db_path().exists():
            raise JobConflict(f"job {job_id} has not started its roundtable yet")
        conn = connect()
        try:
            rt = roundtables.get_roundtable(conn, job_id)
            if rt is None or rt["status"] != roundtables.OPEN or roundtables.runner_gone(rt):
                state = rt["status"] if rt else "not started"
                raise JobConflict(f"job {job_id}'s roundtable is not running ({state}); "
                                  "only a live roundtable takes messages")
            try:
                return human.say(conn, job_id, text, name=name, config=load_config())
            except human.HumanMessageRefused as exc:
                raise BadRequest(str(exc), 422) from None
        finally:
            conn.close()

    def running_ids(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def shutdown(self) -> None:
        """Stop watching (runners keep going; a later server settles their records)."""
        with self._lock:
            for running in self._running.values():
                with contextlib.suppress(OSError):
                    running.log.close()

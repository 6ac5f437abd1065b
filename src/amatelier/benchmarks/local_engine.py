"""The `local` engine: a pool of `amatelier roundtable --benchmark` subprocesses on this machine.

Each run is one runner process (which starts its own workers) in its own session, so a
Ctrl-C in the terminal reaches only the batch driver, which then stops its runners itself.
Output goes straight to files in the batch folder, so a run that finishes after its
driver died still leaves its digest where `batch resume` finds it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from amatelier.benchmarks import batch_store
from amatelier.benchmarks.jobs import Job, Outcome, outcome_from, runner_command
from amatelier.pids import pid_alive as process_alive

STOP_GRACE_S = 5.0


class LocalEngine:
    """Runs jobs as runner subprocesses, at most `parallel` at once."""

    name = "local"

    def __init__(self, parallel: int, *, briefing_dir: Path,
                 on_started: Callable[[str, int], None] | None = None) -> None:
        self.parallel = max(1, parallel)
        self.briefing_dir = Path(briefing_dir)
        self.on_started = on_started
        self.pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="batch-run")
        self.procs: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def _run(self, job: Job) -> Outcome:
        if self.stopping:
            return Outcome(key=job.key, ok=False, exit_code=None, duration_ms=0, error="batch stopped")
        out_path = batch_store.run_file(job.batch_id, job.key, ".out")
        err_path = batch_store.run_file(job.batch_id, job.key, ".err")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONIOENCODING="utf-8")
        started = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(runner_command(job, str(self.briefing_dir / job.briefing_name)),
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                    start_new_session=True, cwd=str(self.briefing_dir))  # as on Ray: the
            # launch directory holds only the briefings, so a relative registration reads nothing else
            self.procs[job.key] = proc
            if self.on_started is not None:
                self.on_started(job.key, proc.pid)
            exit_code = proc.wait()
        self.procs.pop(job.key, None)
        duration_ms = int((time.monotonic() - started) * 1000)
        return outcome_from(job.key, exit_code, _read(out_path), _read(err_path), duration_ms,
                            host=os.uname().nodename)

    def start(self, job: Job) -> Future:
        """Queue a job; its future resolves to an Outcome."""
        return self.pool.submit(self._run, job)

    def wait(self, handles: list[Future], timeout: float) -> list[tuple[Future, Outcome]]:
        """The handles that finished within `timeout` seconds, with their outcomes."""
        done, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return [(future, future.result()) for future in done]

    def stop(self) -> None:
        """Stop every running runner (SIGTERM to its group: it cuts its roundtable cleanly)."""
        self.stopping = True
        for proc in list(self.procs.values()):
            stop_process_group(proc.pid, wait=False)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in list(self.procs.values()):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def stop_process_group(pid: int, *, wait: bool = True, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM a runner's process group; with `wait`, SIGKILL it if it outlives the grace."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    if not wait:
        return
    deadline = time.monotonic() + grace_s
    delay = 0.02
    while time.monotonic() < deadline and process_alive(pid):
        time.sleep(delay)  # polling a process that is not our child: there is nothing to wait on
        delay = min(0.25, delay * 1.5)
    if process_alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def runner_of_batch(pid: int, batch_id: str, key: str) -> bool:
    """Whether `pid` is (still) the runner this batch started for `key` (not a reused pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return batch_id.encode() in argv and key.encode() in argv

"""Worker processes of one roundtable: spawn, watch, restart, stop — no orphans.

Each worker runs in its own session (process group), so a Ctrl-C in the terminal reaches
only the runner, which then stops every worker itself; stopping a worker signals its whole
group, so anything it started (a `claude` CLI call) goes with it. Workers also exit on
their own when the runner disappears.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


@dataclass
class WorkerProc:
    """One agent's worker process and its restart history."""

    agent: str
    proc: Any                          # subprocess.Popen, or debate.warm.ForkedWorker
    log_handle: IO[bytes]
    generation: int = 0
    restarts: int = 0
    pids: list[int] = field(default_factory=list)


class WorkerPool:
    """The runner's worker processes, keyed by agent name."""

    def __init__(self, rt_id: str, logs_dir: Path, *, max_restarts: int = 2,
                 starter: Any = None) -> None:
        self.rt_id = rt_id
        self.logs_dir = Path(logs_dir)
        self.max_restarts = max_restarts
        self.workers: dict[str, WorkerProc] = {}
        self.all_pids: list[int] = []
        self.starter = starter  # a debate.warm.WarmStarter: fork workers warm (None: spawn commands)

    def log_path(self, agent: str) -> Path:
        """Where this agent's worker writes its log."""
        return self.logs_dir / f"{self.rt_id}-{agent}.log"

    def _launch(self, agent: str, generation: int) -> tuple[Any, IO[bytes]]:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.log_path(agent), "ab")  # noqa: SIM115 - kept open for the child's life
        args = ["--rt", self.rt_id, "--agent", agent, "--generation", str(generation),
                "--parent-pid", str(os.getpid())]
        if self.starter is not None:
            try:
                forked = self.starter.launch(args, self.log_path(agent), env={"PYTHONIOENCODING": "utf-8"})
                self.all_pids.append(forked.pid)
                return forked, handle
            except Exception as exc:  # noqa: BLE001 - a broken fork server must not stop the debate
                handle.write(f"fork server unavailable ({type(exc).__name__}: {exc}); "
                             "starting workers as commands\n".encode())
                handle.flush()
                self.starter = None
        env = dict(os.environ)
        env["PYTHONIOENCODING"] = "utf-8"
        cmd = [sys.executable, "-m", "amatelier.engine.worker", *args]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        self.all_pids.append(proc.pid)
        return proc, handle

    def start(self, agent: str) -> WorkerProc:
        """Launch an agent's first worker."""
        proc, handle = self._launch(agent, 0)
        worker = WorkerProc(agent=agent, proc=proc, log_handle=handle, pids=[proc.pid])
        self.workers[agent] = worker
        return worker

    def start_all(self, agents: list[str]) -> None:
        """Launch a worker for each agent."""
        for agent in agents:
            self.start(agent)

    def alive(self, agent: str) -> bool:
        """Whether the agent's worker process is running."""
        worker = self.workers.get(agent)
        return worker is not None and worker.proc.poll() is None

    def can_restart(self, agent: str) -> bool:
        """Whether the agent's worker may still be restarted."""
        worker = self.workers.get(agent)
        return worker is not None and worker.restarts < self.max_restarts

    def restart(self, agent: str, *, count: bool = True) -> WorkerProc:
        """Stop (if needed) and relaunch an agent's worker with the same agent and model."""
        worker = self.workers[agent]
        self._stop_one(worker, grace=1.0)
        proc, handle = self._launch(agent, worker.generation + 1)
        worker.proc = proc
        worker.log_handle = handle
        worker.generation += 1
        worker.pids.append(proc.pid)
        if count:
            worker.restarts += 1
        return worker

    def stop(self, agent: str, grace: float = 1.0) -> None:
        """Stop one agent's worker (it stays down: no restart is counted or made)."""
        worker = self.workers.get(agent)
        if worker is not None:
            self._stop_one(worker, grace)
            worker.restarts = self.max_restarts

    def pid(self, agent: str) -> int | None:
        """The agent's current worker pid."""
        worker = self.workers.get(agent)
        return worker.proc.pid if worker else None

    # ------------------------------------------------------------------ stopping

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    def _stop_one(self, worker: WorkerProc, grace: float) -> None:
        self._signal(worker.proc, signal.SIGTERM)
        self._wait([worker.proc], grace)
        if worker.proc.poll() is None:
            self._signal(worker.proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(worker.proc.pid, signal.SIGKILL)  # anything the worker left in its group
        with contextlib.suppress(OSError):
            worker.log_handle.close()

    @staticmethod
    def _wait(procs: list[subprocess.Popen], grace: float) -> None:
        end = time.monotonic() + grace
        delay = 0.005
        while time.monotonic() < end and any(p.poll() is None for p in procs):
            time.sleep(delay)
            delay = min(0.05, delay * 1.5)

    def wait_all(self, timeout: float) -> bool:
        """Give workers a chance to exit by themselves (the roundtable closed); True if all did."""
        procs = [w.proc for w in self.workers.values()]
        self._wait(procs, timeout)
        return all(p.poll() is not None for p in procs)

    def stop_all(self, grace: float = 3.0) -> None:
        """SIGTERM every worker group, wait up to `grace`, then SIGKILL what is left."""
        workers = list(self.workers.values())
        for worker in workers:
            self._signal(worker.proc, signal.SIGTERM)
        self._wait([w.proc for w in workers], grace)
        for worker in workers:
            self._stop_one(worker, grace=0.0)

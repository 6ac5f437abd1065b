"""The `ray` engine (extra `ray`): each benchmark roundtable is one Ray task.

A task gets the job, the text of the agents' current persona state and the user's config
override as data, builds a temporary workspace from them on whatever node it lands on, runs
the same benchmark runner command as the local engine there, and returns the runner's
output. Nothing on the node outlives the task; the driver writes what came back into the
user's workspace. Provider keys are never shipped: a cluster's nodes need their own.

`ray.init(address=...)` uses, in order, `--ray-address`, `RAY_ADDRESS`, config
`benchmarks.ray_address`; with none, a local Ray with `parallel` CPUs is started.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.benchmarks.jobs import Job, Outcome, outcome_from

#: Files of an agent's user-data dir that make up its current persona state.
STATE_FILES = ("CLAUDE.md", "IDENTITY.md", "MEMORY.md", "MEMORY.json", "behaviors.json", "metrics.json")
MAX_STATE_BYTES = 2_000_000
#: Environment a task passes on to its runner (never provider keys).
PASSED_ENV = ("AMATELIER_MODE", "AMATELIER_OFFLINE_DELAY_MS")


class RayUnavailable(RuntimeError):
    """Ray is not installed or cannot be started; the message says how to fix it."""


def require_ray() -> None:
    """RayUnavailable (with the install line) unless Ray can be imported."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise RayUnavailable("--engine ray needs Ray: pip install '.[ray]' from your amatelier checkout")


def persona_state() -> dict[str, str]:
    """{relative path: text} of every agent's current persona state (no sessions, no history)."""
    root = paths.user_agents_dir()
    state: dict[str, str] = {}
    used = 0
    if not root.is_dir():
        return state
    for agent_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        candidates = [agent_dir / name for name in STATE_FILES]
        skills = agent_dir / "skills"
        if skills.is_dir():
            candidates += sorted(skills.glob("*.md"))
        for path in candidates:
            if not path.is_file() or path.is_symlink():
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            used += len(text)
            if used > MAX_STATE_BYTES:
                raise RayUnavailable(f"agents' persona state is larger than {MAX_STATE_BYTES} bytes; "
                                     "cannot ship it to Ray tasks")
            state[path.relative_to(root.parent).as_posix()] = text
    override = paths.user_config_override()
    if override.is_file():
        state["config.json"] = override.read_text(encoding="utf-8")
    return state


def run_in_temp_workspace(job: dict[str, Any], state: dict[str, str], env_extra: dict[str, str]) -> dict[str, Any]:
    """Body of a Ray task: build a workspace from `state`, run the job's runner, return its output.

    Plain data in, plain data out, so it runs the same on the driver's machine and on a node.
    """
    import shutil
    import socket
    import subprocess
    import tempfile
    import time

    from amatelier.benchmarks.jobs import Job, parse_stdout, runner_command
    from amatelier.benchmarks.merge import export_run

    spec = Job(**{**job, "workers": tuple(job["workers"]) if job.get("workers") else None})
    root = Path(tempfile.mkdtemp(prefix="amatelier-ray-"))
    try:
        for rel, text in state.items():
            target = (root / rel).resolve()
            if not target.is_relative_to(root.resolve()):
                continue  # never write outside the temporary workspace
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        briefing = root / "briefings" / spec.briefing_name
        briefing.parent.mkdir(parents=True, exist_ok=True)
        briefing.write_text(spec.briefing_text, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMATELIER_")}
        env.update(env_extra)
        env.update({"AMATELIER_WORKSPACE": str(root), "PYTHONIOENCODING": "utf-8"})
        started = time.monotonic()
        proc = subprocess.run(runner_command(spec, str(briefing)), env=env, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, cwd=str(root))
        duration_ms = int((time.monotonic() - started) * 1000)
        digest = parse_stdout(proc.stdout) or {}
        db_rel = paths.user_db_path().relative_to(paths.user_data_dir())  # the workspace layout
        exported = export_run(root / db_rel, str(digest.get("rt_id"))) if digest.get("rt_id") else None
        return {"key": spec.key, "exit_code": proc.returncode, "stdout": proc.stdout,
                "stderr": proc.stderr[-4000:], "duration_ms": duration_ms, "host": socket.gethostname(),
                "export": exported}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def ray_address(option: str | None, config: dict[str, Any]) -> str | None:
    """Where the Ray cluster is: the option, then RAY_ADDRESS, then config benchmarks.ray_address."""
    for value in (option, os.environ.get("RAY_ADDRESS"), (config.get("benchmarks") or {}).get("ray_address")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


class RayEngine:
    """Runs jobs as Ray tasks; the driver merges what they return."""

    name = "ray"

    def __init__(self, parallel: int, *, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise RayUnavailable("--engine ray needs Ray: pip install '.[ray]' from your amatelier checkout") from None
        self.ray = ray
        self.parallel = max(1, parallel)
        self.started_here = not ray.is_initialized()
        if self.started_here:
            try:
                if address:
                    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
                else:
                    ray.init(num_cpus=self.parallel, include_dashboard=False, logging_level="ERROR",
                             log_to_driver=False)
            except Exception as exc:  # noqa: BLE001 - any start-up failure is one clear line
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise RayUnavailable(f"cannot start {where}: {type(exc).__name__}: {exc}") from None
        self.task = ray.remote(num_cpus=1, max_retries=0)(run_in_temp_workspace)
        self.state_ref = ray.put(persona_state())
        self.env_extra = {k: os.environ[k] for k in PASSED_ENV if os.environ.get(k)}
        self.pending: dict[Any, str] = {}

    def start(self, job: Job) -> Any:
        ref = self.task.remote(job.to_dict(), self.state_ref, self.env_extra)
        self.pending[ref] = job.key
        return ref

    def wait(self, handles: list[Any], timeout: float) -> list[tuple[Any, Outcome]]:
        ready, _ = self.ray.wait(list(handles), num_returns=1, timeout=timeout)
        finished = []
        for ref in ready:
            key = self.pending.pop(ref, "?")
            try:
                raw = self.ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - a lost node or task is a failed run, not a crash
                finished.append((ref, Outcome(key=key, ok=False, exit_code=None, duration_ms=0,
                                              error=f"ray task failed: {type(exc).__name__}: {exc}"[:300])))
                continue
            outcome = outcome_from(raw["key"], raw["exit_code"], raw["stdout"], raw["stderr"],
                                   raw["duration_ms"], host=raw.get("host"))
            outcome.export = raw.get("export")
            finished.append((ref, outcome))
        return finished

    def stop(self) -> None:
        for ref in list(self.pending):
            with contextlib.suppress(Exception):  # best effort on the way out
                self.ray.cancel(ref, force=True)

    def close(self) -> None:
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()

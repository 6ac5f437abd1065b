"""Workers that start warm: a fork server imports the provider SDK once, then forks each worker.

Starting a worker as `python -m amatelier.engine.worker` costs an interpreter start plus,
on its first model call, the provider SDK's import (anthropic ~1.7 s, openai ~0.7 s). With
six workers starting together on a small machine those imports queue up on the critical
path. Here the runner starts Python's `multiprocessing` fork server early, preloading the
worker's modules and the SDKs its backends need, while the runner is still setting up; each
worker is then a fork of that warm process. Every worker is still its own process in its own
session (crash-isolated, stopped with its process group) and talks to the runner only
through SQLite, exactly like a worker started from the command line.

`ForkedWorker` gives the pool the small part of `subprocess.Popen` it uses (pid, poll,
wait, send_signal), so the pool treats both kinds of worker alike. Where fork servers are
not available (not POSIX), `warm_available()` is False and the pool keeps spawning commands.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

#: modules a worker needs on every turn, whatever its backend
WORKER_MODULES = ("amatelier.config", "amatelier.chat.db", "amatelier.chat.llm_calls",
                  "amatelier.llm_backend", "amatelier.pricing")
#: the provider SDK modules each backend imports on its first call
SDK_MODULES: dict[str, tuple[str, ...]] = {
    "anthropic-sdk": ("anthropic", "anthropic.resources.messages"),
    "openai-compat": ("openai", "openai.resources.chat.completions"),
    "gemini": ("google.genai", "google.genai.types", "google.genai.models"),
    "claude-code": (),
    "offline": ("amatelier.offline.debate",),
}


def warm_available() -> bool:
    """Whether this platform can fork workers from a warm server."""
    return os.name == "posix" and "forkserver" in multiprocessing.get_all_start_methods()


def preload_modules(backends: Iterable[str], worker_module: str) -> list[str]:
    """What the fork server imports before it forks anything (pure).

    The worker module and its per-turn modules, then each backend's SDK. When the runner
    was started as a script path (the `amatelier` console script), the CLI module too: a
    forked child re-imports the runner's main script, which then finds the CLI loaded.
    """
    modules = [worker_module, *WORKER_MODULES]
    for backend in backends:
        modules += SDK_MODULES.get(backend, ())
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    if spec_name is None and getattr(main, "__file__", None):
        modules.append("amatelier.cli")
    return list(dict.fromkeys(modules))


def _child(worker_module: str, argv: list[str], log_path: str, env: dict[str, str]) -> None:
    """Body of a forked worker: own session, output to its log, then the worker's main()."""
    os.setsid()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for target in (1, 2):
        os.dup2(fd, target)
    os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.environ.update(env)
    sys.argv = [worker_module, *argv]
    module = importlib.import_module(worker_module)
    code = module.main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    raise SystemExit(code)


class ForkedWorker:
    """A forked worker process, with the slice of the Popen interface the pool uses."""

    def __init__(self, process: Any) -> None:
        self._process = process
        self.pid: int = int(process.pid)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once the process ended, else None."""
        if self.returncode is None and not self._process.is_alive():
            code = self._process.exitcode
            self.returncode = int(code) if code is not None else None
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end; TimeoutExpired like Popen.wait."""
        self._process.join(timeout)
        code = self.poll()
        if code is None:
            raise subprocess.TimeoutExpired(["forked worker", str(self.pid)], timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)


class WarmStarter:
    """Owns the fork server of one runner: start it early, then fork workers from it."""

    def __init__(self, backends: Iterable[str], worker_module: str = "amatelier.engine.worker") -> None:
        self.worker_module = worker_module
        self.modules = preload_modules(backends, worker_module)
        self._context = multiprocessing.get_context("forkserver")
        self._started = False

    def start(self) -> None:
        """Start the fork server now (it imports in the background while the runner sets up)."""
        if self._started:
            return
        self._context.set_forkserver_preload(self.modules)
        from multiprocessing import forkserver

        # The fork server (and the resource tracker it starts) must not hold our stdout: a
        # caller reading the digest from it would wait for them to exit too.
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            forkserver.ensure_running()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        self._started = True

    def launch(self, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> ForkedWorker:
        """Fork one worker running `<worker_module>.main(argv)`, its output appended to log_path."""
        self.start()
        process = self._context.Process(
            target=_child, name=f"amatelier-worker {' '.join(argv)}",
            args=(self.worker_module, list(argv), str(log_path), dict(env or {})), daemon=True)
        process.start()
        return ForkedWorker(process)

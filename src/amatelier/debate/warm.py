"""Workers that start warm: the SDK is imported once, then each worker is forked with it loaded.

Starting a worker as `python -m amatelier.engine.worker` costs an interpreter start plus,
on its first model call, the provider SDK's import (anthropic ~1.7 s, openai ~0.7 s); with
six workers starting together on a small machine those imports queue up on the critical
path, and the runner pays the import again for judge scoring. Here the runner imports the
worker's modules and the SDKs its backends need once, at the start, and forks a small
"zygote" process before it opens the database or starts anything else; the zygote forks one
worker per request. Every worker is still its own process in its own session (crash-isolated,
stopped with its process group) and talks to the runner only through SQLite, exactly like a
worker started from the command line; the runner keeps the SDK for its own calls.

Protocol (pipes, one line each): runner -> zygote `{"args": [...], "log": path, "env": {...}}`;
zygote -> runner `started <pid>` after each fork and `exit <pid> <code>` when it reaps a
worker (code as subprocess reports it: negative for a signal). The zygote exits when the
runner's end of the request pipe closes. `ForkedWorker` gives the pool the part of
`subprocess.Popen` it uses (pid, poll, wait, send_signal). Without `os.fork` (Windows)
`warm_available()` is False and the pool spawns commands as before.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from amatelier.pids import pid_alive

START_TIMEOUT_S = 30.0
REAP_EVERY_S = 0.05

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
    """Whether this platform can fork warm workers."""
    return os.name == "posix" and hasattr(os, "fork")


def preload_modules(backends: Iterable[str], worker_module: str) -> list[str]:
    """What is imported before the zygote is forked: the worker and each backend's SDK (pure)."""
    modules = [worker_module, *WORKER_MODULES]
    for backend in backends:
        modules += SDK_MODULES.get(backend, ())
    return list(dict.fromkeys(modules))


def _fresh_stdio() -> None:
    """New sys.stdout/stderr objects on fds 1/2 (a lock another thread held at fork time stays held)."""
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)  # noqa: SIM115


def _redirect(fd_out: int) -> None:
    for target in (1, 2):
        os.dup2(fd_out, target)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def retitle(args: Sequence[str]) -> bool:
    """Make `ps` and /proc/<pid>/cmdline show `args` (Linux; best effort, False when it cannot).

    A forked worker would otherwise show the runner's command line; with this it reads like
    the command it stands for (`python -m amatelier.engine.worker --rt ... --agent ...`), so
    people and tools can find a roundtable's workers by their arguments. The original argv
    area (/proc/self/stat fields 48-49) is rewritten in place, never grown.
    """
    try:
        import ctypes

        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48, 49)
        title = b"\0".join(a.encode() for a in args) + b"\0"
        if not start or end <= start or len(title) > end - start:
            return False
        ctypes.memmove(start, title + b"\0" * (end - start - len(title)), end - start)
        name = ("amtl-" + (args[args.index("--agent") + 1] if "--agent" in args else "worker"))[:15]
        libc = ctypes.CDLL(None)
        libc.prctl(15, ctypes.c_char_p(name.encode()), 0, 0, 0)  # PR_SET_NAME: the `comm` ps shows
        return True
    except Exception:  # noqa: BLE001 - a title is a convenience; the worker runs without it
        return False


def _worker(request: dict[str, Any], worker_module: str) -> int:
    """In a forked child: own session, output to its log, then `<worker_module>.main(args)`."""
    os.setsid()
    module = str(request.get("title_module") or worker_module)
    args = [str(a) for a in request.get("args") or []]
    key = [a for i, a in enumerate(args) if a in ("--rt", "--agent") or (i and args[i - 1] in ("--rt", "--agent"))]
    for title in ([sys.executable, "-m", module, *args], ["python", "-m", module, *args],
                  ["python", "-m", module, *key]):  # the longest that fits the runner's argv area
        if retitle(title):
            break
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    fd = os.open(str(request["log"]), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    _redirect(fd)
    os.close(fd)
    _fresh_stdio()
    os.environ.update({str(k): str(v) for k, v in (request.get("env") or {}).items()})
    args = [str(a) for a in request.get("args") or []]
    sys.argv = [worker_module, *args]
    try:
        code = importlib.import_module(worker_module).main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report it in the worker's log, never in the runner
        traceback.print_exc()
        code = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    return int(code or 0)


def _zygote(requests: int, events: int, worker_module: str) -> None:
    """The zygote's loop: fork a worker per request, report forks and exits, end with the runner."""
    os.setsid()  # a Ctrl-C in the terminal is the runner's to handle
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    _redirect(devnull)
    os.close(devnull)
    # Hold nothing of the runner's but our two pipes: an inherited pipe end (a caller's stdout,
    # another zygote's request pipe) would keep its reader waiting on us.
    low, high = sorted((requests, events))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, _max_fd())
    _fresh_stdio()
    pending = b""
    while True:
        readable, _, _ = select.select([requests], [], [], REAP_EVERY_S)
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            os.write(events, f"exit {pid} {os.waitstatus_to_exitcode(status)}\n".encode())
        if not readable:
            continue
        data = os.read(requests, 65536)
        if not data:
            return  # the runner is gone or done; workers notice and exit on their own
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                os.close(requests)
                os.close(events)
                os._exit(_worker(request, worker_module))
            os.write(events, f"started {pid}\n".encode())


class ForkedWorker:
    """A worker forked by the zygote, with the slice of the Popen interface the pool uses."""

    def __init__(self, starter: WarmStarter, pid: int) -> None:
        self._starter = starter
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once the process ended, else None."""
        if self.returncode is None:
            self.returncode = self._starter.exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end; TimeoutExpired like Popen.wait."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(["forked worker", str(self.pid)], timeout or 0)
            self._starter.read_events(min(REAP_EVERY_S * 2, left) if left is not None else REAP_EVERY_S * 2)
        return int(self.returncode or 0)

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)


class WarmStarter:
    """Imports the SDKs once in this process, forks the zygote, and asks it for workers."""

    def __init__(self, backends: Iterable[str], worker_module: str = "amatelier.debate.worker") -> None:
        self.worker_module = worker_module
        #: the module named in a worker's process title (the stable command line people know)
        self.title_module = "amatelier.engine.worker" if worker_module == "amatelier.debate.worker" \
            else worker_module
        self.modules = preload_modules(backends, worker_module)
        self.zygote_pid: int | None = None
        self._requests: int | None = None
        self._events: int | None = None
        self._buffer = b""
        self._exits: dict[int, int] = {}
        self._started: list[int] = []

    def start(self) -> None:
        """Import the modules (once, here) and fork the zygote; call before opening the database."""
        if self.zygote_pid is not None:
            return
        for name in self.modules:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        request_r, request_w = os.pipe()
        event_r, event_w = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(request_w)
                os.close(event_r)
                _zygote(request_r, event_w, self.worker_module)
            except BaseException:  # noqa: BLE001 - the zygote must never return into the runner
                code = 1
            os._exit(code)
        os.close(request_r)
        os.close(event_w)
        self.zygote_pid, self._requests, self._events = pid, request_w, event_r

    def read_events(self, timeout: float = 0.0) -> None:
        """Take in what the zygote reported (forks, exits), waiting up to `timeout` for a line."""
        if self._events is None:
            return
        readable, _, _ = select.select([self._events], [], [], max(0.0, timeout))
        if not readable:
            return
        data = os.read(self._events, 65536)
        if not data:  # the zygote is gone: nothing more will be reported
            os.close(self._events)
            self._events = None
            return
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            parts = line.decode().split()
            if parts[0] == "started":
                self._started.append(int(parts[1]))
            elif parts[0] == "exit":
                self._exits[int(parts[1])] = int(parts[2])

    def exit_code(self, pid: int) -> int | None:
        """A forked worker's exit code once the zygote reaped it; -9 when the zygote is gone."""
        if pid not in self._exits:
            self.read_events(0.0)
        if pid not in self._exits and self._events is None and not pid_alive(pid):
            self._exits[pid] = -signal.SIGKILL
        return self._exits.get(pid)

    def launch(self, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> ForkedWorker:
        """Fork one worker running `<worker_module>.main(argv)`, its output appended to log_path."""
        self.start()
        if self._requests is None:
            raise RuntimeError("the zygote was closed")
        line = json.dumps({"args": list(argv), "log": str(log_path), "env": dict(env or {}),
                           "title_module": self.title_module}) + "\n"
        os.write(self._requests, line.encode())
        end = time.monotonic() + START_TIMEOUT_S
        while not self._started:
            if self._events is None or time.monotonic() > end:
                raise RuntimeError("the zygote did not fork a worker")
            self.read_events(end - time.monotonic())
        return ForkedWorker(self, self._started.pop(0))

    def close(self) -> None:
        """Let the zygote end (workers already stopped keep their exit codes) and reap it."""
        if self._requests is not None:
            os.close(self._requests)
            self._requests = None
        if self.zygote_pid is not None:
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                try:
                    if os.waitpid(self.zygote_pid, os.WNOHANG)[0]:
                        break
                except ChildProcessError:
                    break
                self.read_events(REAP_EVERY_S)
            self.zygote_pid = None


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (OSError, ValueError):
        return 65536

"""Starting and cutting roundtables for the MCP server.

A roundtable started from Claude Code runs as a detached `amatelier roundtable` process
(its own session and process group, output to a log under the user logs dir), so it keeps
going when the MCP server restarts and a Ctrl-C in the client never reaches it. Cutting
records the reason on the roundtable row first and then sends the runner SIGTERM; the
runner's own SIGTERM handling then stops the workers and writes the digest.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amatelier.briefing_format import entries_outside
from amatelier.chat import roundtables
from amatelier.chat.messages import utc_now
from amatelier.mcp.tools import ToolFailure, one_line

BRIEFING_SUFFIXES = (".md", ".markdown", ".txt")
MAX_REASON_CHARS = 500


@dataclass
class StartRequest:
    """The arguments of roundtable_start, as the runner's CLI flags will carry them."""

    topic: str
    briefing: Path
    workers: list[str] | None = None
    max_rounds: int | None = None
    budget: int | None = None
    skip_naomi: bool = False
    skip_post: bool = False
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    max_minutes: float | None = None


@dataclass
class Launched:
    """A runner process we started and where its output goes."""

    process: subprocess.Popen
    log_path: Path
    started_at: str


# --------------------------------------------------------------------------- briefing


def looks_like_file_name(text: str) -> bool:
    """A single line that names a file (ends in .md/.txt) rather than holding a briefing."""
    value = text.strip()
    return "\n" not in value and value.lower().endswith(BRIEFING_SUFFIXES)


def looks_like_path(text: str) -> bool:
    """A single word that reads as a file reference (a slash, a leading dot or ~, a .md name)."""
    value = text.strip()
    if not value or any(ch.isspace() for ch in value):
        return False
    return ("/" in value or "\\" in value or value.startswith((".", "~"))
            or re.search(r"\.[A-Za-z0-9]{1,10}$", value) is not None)


def resolve_briefing(briefing: str, *, cwd: Path, briefing_dir: Path) -> Path:
    """The briefing file to hand the runner; from MCP only inline text or the briefing dir.

    The caller is a model that may be prompt-injected, so a briefing may never name an
    arbitrary host file: a file reference must be a plain relative name inside
    `briefing_dir` (no absolute path, no `~`, no `..`, no dot-file component, no symlink
    resolving outside the directory). Anything that is not a file reference is the
    briefing text itself and is saved under the briefing dir. `cwd` is not searched.
    """
    del cwd  # kept in the signature: the server passes its working directory, which is never read
    text = briefing or ""
    if not text.strip():
        raise ToolFailure("briefing must not be empty: pass the briefing text or a file name in "
                          f"{briefing_dir}")
    if looks_like_path(text) and len(text) < 4096:
        return briefing_file(text.strip(), briefing_dir)
    outside = entries_outside(text)
    if outside:
        raise ToolFailure(f"briefing refused: its Steward-Registered Files section names {one_line(outside[0], 120)}; "
                          "a briefing from MCP may register only paths relative to the working directory, "
                          "without '..', '~' or a leading '/'")
    return save_inline_briefing(text, briefing_dir)


def briefing_file(name: str, briefing_dir: Path) -> Path:
    """The real path of `name` inside `briefing_dir`; ToolFailure naming the rule it breaks."""
    rule = (f"a briefing from MCP is inline text or a file inside the briefing dir {briefing_dir} "
            "named without '..'")
    posix = name.replace("\\", "/")
    parts = [part for part in posix.split("/") if part not in ("", ".")]
    if os.path.isabs(name) or posix.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", posix):
        raise ToolFailure(f"briefing refused: {one_line(name, 120)} is an absolute path; {rule}")
    if ".." in parts:
        raise ToolFailure(f"briefing refused: {one_line(name, 120)} contains '..'; {rule}")
    if any(part.startswith(".") for part in parts) or not parts:
        raise ToolFailure(f"briefing refused: {one_line(name, 120)} is a dot-file; {rule}")
    if not posix.lower().endswith(BRIEFING_SUFFIXES):
        raise ToolFailure(f"briefing refused: {one_line(name, 120)} is not a .md or .txt file; {rule}")
    root = os.path.realpath(briefing_dir)
    candidate = os.path.join(briefing_dir, *parts)
    real = os.path.realpath(candidate)
    if not (real.startswith(root.rstrip(os.sep) + os.sep)):
        raise ToolFailure(f"briefing refused: {one_line(name, 120)} is a symlink leading out of the "
                          f"briefing dir; {rule}")
    try:
        info = os.stat(real)
    except OSError:
        raise ToolFailure(f"briefing not found: {one_line(name, 120)} (looked in {briefing_dir}); "
                          "pass a file in that directory or the briefing text itself") from None
    if not stat.S_ISREG(info.st_mode):
        raise ToolFailure(f"briefing refused: {one_line(name, 120)} is not a regular file; {rule}")
    if info.st_nlink > 1:
        raise ToolFailure(f"briefing refused: {one_line(name, 120)} is a hard link; {rule}")
    return Path(real)


def save_inline_briefing(text: str, briefing_dir: Path) -> Path:
    """Write briefing text passed inline to `<briefing dir>/mcp-<stamp>-<token>.md`."""
    from amatelier.atomicio import write_text_atomic

    briefing_dir.mkdir(parents=True, exist_ok=True)
    path = briefing_dir / f"mcp-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.md"
    write_text_atomic(path, text.strip() + "\n")
    return path


# --------------------------------------------------------------------------- start


def runner_command(request: StartRequest, python: str | None = None) -> list[str]:
    """The `amatelier roundtable ...` command line for a start request."""
    cmd = [python or sys.executable, "-m", "amatelier", "roundtable", "--topic", request.topic,
           "--briefing", str(request.briefing), "--summary"]
    if request.workers:
        cmd += ["--workers", ",".join(w.strip() for w in request.workers if w.strip())]
    if request.max_rounds is not None:
        cmd += ["--max-rounds", str(int(request.max_rounds))]
    if request.budget is not None:
        cmd += ["--budget", str(int(request.budget))]
    if request.skip_naomi:
        cmd.append("--skip-naomi")
    if request.skip_post:
        cmd.append("--skip-post")
    for flag, value in (("--max-cost-usd", request.max_cost_usd), ("--max-tokens", request.max_tokens),
                        ("--max-minutes", request.max_minutes)):
        if value is not None:
            cmd += [flag, repr(float(value)) if flag != "--max-tokens" else str(int(value))]
    return cmd


def resume_command(rt_id: str, python: str | None = None) -> list[str]:
    """The `amatelier roundtable --resume ID` command line (roundtable_resume)."""
    return [python or sys.executable, "-m", "amatelier", "roundtable", "--resume", rt_id, "--summary"]


def find_resumed(conn: sqlite3.Connection, launched: Launched, rt_id: str) -> str | None:
    """The roundtable's id once our resuming runner has opened it again."""
    row = conn.execute("SELECT id FROM roundtables WHERE id = ? AND status = 'open' AND runner_pid = ?",
                       (rt_id, launched.process.pid)).fetchone()
    return row[0] if row else None


def check_request(request: StartRequest) -> None:
    """Refuse what is plainly wrong before a process is spawned (the runner checks the rest)."""
    if not request.topic or not request.topic.strip():
        raise ToolFailure("topic must not be empty")
    if request.workers is not None and not [w for w in request.workers if w.strip()]:
        raise ToolFailure("workers is empty: leave it out for the default team")
    for name in ("max_cost_usd", "max_tokens", "max_minutes"):
        value = getattr(request, name)
        if value is not None and not value >= 0:  # also refuses NaN
            raise ToolFailure(f"{name} must be 0 (no limit) or more (got {value})")


def launch(cmd: list[str], logs_dir: Path, *, cwd: Path) -> Launched:
    """Start the runner detached: new session, stdin closed, stdout and stderr to a log file."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = logs_dir / f"mcp-roundtable-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.log"
    started_at = utc_now()
    extra: dict[str, Any] = {}
    if os.name == "posix":
        extra["start_new_session"] = True
    else:  # pragma: no cover - Windows
        extra["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   cwd=str(cwd), env=env, **extra)
    # Reap the child when it exits so it never lingers as a zombie under the server.
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
    return Launched(process=process, log_path=log_path, started_at=started_at)


def find_started(conn: sqlite3.Connection, launched: Launched) -> str | None:
    """The id of the roundtable our runner opened, once its row exists."""
    row = conn.execute(
        "SELECT id FROM roundtables WHERE runner_pid = ? AND runner_host = ? AND created_at >= ?"
        " ORDER BY rowid DESC LIMIT 1",
        (launched.process.pid, roundtables.this_host(), launched.started_at),
    ).fetchone()
    return row[0] if row else None


def failure_line(log_path: Path, returncode: int | None) -> str:
    """Why a runner stopped before opening its roundtable: its `amatelier: error:` line, if any."""
    try:
        lines = [line.strip() for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        lines = []
    lines = [line for line in lines if line]
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("amatelier: error:"):
            # an error may carry guidance on the lines after it (e.g. which backends to enable)
            message = " ".join([lines[index][len("amatelier: error:"):], *lines[index + 1:]])
            return one_line(message, 1000)
    tail = lines[-1] if lines else "no output"
    return f"the roundtable exited with code {returncode} before it opened: {tail} (log: {log_path})"


def stop_launched(launched: Launched) -> None:
    """Terminate a runner that never opened its roundtable (used when start gives up)."""
    with contextlib.suppress(OSError):
        if os.name == "posix":
            os.killpg(launched.process.pid, signal.SIGTERM)
        else:  # pragma: no cover - Windows
            launched.process.terminate()


# --------------------------------------------------------------------------- cut


def looks_like_runner(pid: int) -> bool:
    """Guard against a recycled pid: on Linux the process must be an amatelier one."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return True  # no /proc: trust the pid the runner recorded
    try:
        return b"amatelier" in cmdline.read_bytes()
    except OSError:
        return False


def clean_reason(reason: str) -> str:
    """The cut reason as one short line (ToolFailure when empty)."""
    text = one_line(reason or "", MAX_REASON_CHARS)
    if not text:
        raise ToolFailure("reason must not be empty: say why the roundtable is cut")
    return text


def cut(conn: sqlite3.Connection, rt_id: str, reason: str) -> dict[str, Any]:
    """Mark an open roundtable cut with `reason` and ask its runner to stop (SIGTERM).

    The row is cut first, so the reason on record is the caller's, not the runner's generic
    "terminated"; a runner that already closed the roundtable wins and nothing is changed.
    """
    rt = roundtables.get_roundtable(conn, rt_id)
    if rt is None:
        raise ToolFailure(f"no roundtable with id {rt_id} (see roundtable_list)")
    if rt["status"] != roundtables.OPEN:
        tail = f" ({rt['cut_reason']})" if rt.get("cut_reason") else ""
        raise ToolFailure(f"roundtable {rt_id} is not running: it is already {rt['status']}{tail}")
    host = rt.get("runner_host")
    if host not in (None, roundtables.this_host()):
        raise ToolFailure(f"roundtable {rt_id} runs on host {host}; cut it there")
    if not roundtables.cut_roundtable(conn, rt_id, reason):
        now = roundtables.get_roundtable(conn, rt_id) or {}
        raise ToolFailure(f"roundtable {rt_id} is not running: it is already {now.get('status')}")
    pid = rt.get("runner_pid")
    signalled = False
    if roundtables.pid_alive(pid) and pid != os.getpid() and looks_like_runner(int(pid)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(pid), signal.SIGTERM)
            signalled = True
    return {"rt_id": rt_id, "status": roundtables.CUT, "cut_reason": reason, "runner_pid": pid,
            "runner_signalled": signalled}

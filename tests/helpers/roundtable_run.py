"""Helpers for roundtable end-to-end tests: run the real CLI in a temp workspace, read its DB."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BRIEFING = REPO / "examples" / "briefings" / "hello-world.md"
AMATELIER = [sys.executable, "-m", "amatelier"]


def rt_env(workspace: Path, **extra: str) -> dict[str, str]:
    """A clean environment: temp workspace, offline mode, no provider keys."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and not k.startswith("AMATELIER_")}
    env.update({"AMATELIER_WORKSPACE": str(workspace), "AMATELIER_MODE": "offline",
                "PYTHONIOENCODING": "utf-8"})
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*AMATELIER, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=str(REPO))


def roundtable_args(topic: str = "split the monolith?", *extra: str,
                    briefing: Path | str = BRIEFING) -> list[str]:
    return ["roundtable", "--topic", topic, "--briefing", str(briefing), *extra]


def start_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([*AMATELIER, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=str(REPO))


def db(workspace: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(Path(workspace) / "roundtable-server" / "roundtable.db"), timeout=15)
    conn.row_factory = sqlite3.Row
    return conn


def rows(workspace: Path, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = db(workspace)
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def messages(workspace: Path, rt_id: str) -> list[dict[str, Any]]:
    return rows(workspace, "SELECT * FROM messages WHERE rt_id = ? ORDER BY id", rt_id)


def digest_file(workspace: Path, rt_id: str) -> dict[str, Any]:
    path = Path(workspace) / "roundtable-server" / f"digest-{rt_id}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy (short, growing intervals)."""
    end = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < end:
        try:
            value = predicate()
        except sqlite3.OperationalError:
            value = None
        if value:
            return value
        time.sleep(delay)
        delay = min(0.2, delay * 1.5)
    raise AssertionError(f"timed out waiting for {what}")


def children_of(pid: int) -> list[int]:
    """Direct child pids of `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def dead_pid() -> int:
    """The pid of a process that has already exited: a runner that died, for orphan tests."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def processes_with_args(*args: str) -> list[int]:
    """Live (not zombie) processes whose command line has every one of `args` as an argument."""
    wanted = [arg.encode() for arg in args]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(arg in cmd for arg in wanted) and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def write_config(workspace: Path, override: dict[str, Any]) -> None:
    Path(workspace).mkdir(parents=True, exist_ok=True)
    (Path(workspace) / "config.json").write_text(json.dumps(override), encoding="utf-8")

"""atomicio.file_lock: one hidden lock file per state file, shared by every process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from amatelier.atomicio import file_lock, lock_path, locked_json, read_json

# Another process asks, without waiting, whether it could take the lock on argv[1].
PROBE = """
import fcntl, sys
from pathlib import Path
from amatelier.atomicio import lock_path
with open(lock_path(Path(sys.argv[1])), "a+") as handle:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("busy")
    else:
        print("free")
"""


def probe(path: Path) -> str:
    result = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True,
                            text=True, check=True, timeout=60)
    return result.stdout.strip()


def test_lock_file_is_hidden_beside_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "agents" / "elena" / "MEMORY.json"
    assert lock_path(state) == state.parent / ".MEMORY.json.lock"
    with locked_json(state, {}) as data:
        data["n"] = 1
    assert read_json(state, {}) == {"n": 1}
    visible = sorted(p.name for p in state.parent.iterdir() if not p.name.startswith("."))
    assert visible == ["MEMORY.json"]


def test_same_file_same_lock_across_processes(tmp_path: Path) -> None:
    state = tmp_path / "metrics.json"
    other = tmp_path / "behaviors.json"
    with file_lock(state):
        assert probe(state) == "busy"
        assert probe(other) == "free"  # a different file has its own lock
    assert probe(state) == "free"

"""Crash-safe JSON state files: atomic replace plus an inter-process lock.

State files under the user-data dir are written by the runner, the therapist and the
store from different processes; a torn write would lose an agent's evolved state.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write bytes so readers see either the old or the new file, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see `write_bytes_atomic`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: Path, default: Any) -> Any:
    """Read JSON, returning `default` when the file is missing or empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    if not text.strip():
        return default
    try:
        return json.loads(text)
    except RecursionError:  # nested too deep to parse: as damaged as any other bad JSON
        raise ValueError(f"{path} is nested too deeply to read as JSON") from None


def lock_path(path: Path) -> Path:
    """The lock file guarding `path`: a hidden `.<name>.lock` beside it.

    Derived from the path alone, so every process locking the same file agrees on it;
    hidden, so a user's agent and workspace directories show only their real files.
    """
    path = Path(path)
    return path.parent / f".{path.name}.lock"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on `lock_path(path)`, held for the duration of the block."""
    target = lock_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def locked_json(path: Path, default: Any) -> Iterator[dict[str, Any]]:
    """Read-modify-write a JSON file under its lock; the dict yielded is saved on exit."""
    with file_lock(path):
        data = read_json(path, default)
        yield data
        write_json_atomic(path, data)

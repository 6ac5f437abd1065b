"""Persona history: every earlier text of an agent's persona files, numbered and never lost.

Whenever CLAUDE.md or IDENTITY.md (or behaviors.json, on a snapshot restore) is about to
change, the text it had is kept as `agents/<name>/history/<FILE>.<NNN>`: three digits,
zero-padded, the highest number the latest. A number is claimed with an exclusive create,
so two processes changing the same file at once each keep their own copy and nothing is
ever overwritten. Writes go through `write_persona_file`, so no persona change skips it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from amatelier.atomicio import file_lock, write_bytes_atomic

HISTORY_DIR = "history"
_ENTRY = re.compile(r"^(?P<file>.+)\.(?P<num>\d{3,})$")


def history_dir(agent_dir: Path) -> Path:
    return Path(agent_dir) / HISTORY_DIR


def versions(agent_dir: Path, filename: str) -> list[tuple[int, Path]]:
    """(number, path) of every kept version of `filename`, oldest first."""
    folder = history_dir(agent_dir)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _ENTRY.match(path.name)
        if match and match.group("file") == filename and path.is_file():
            found.append((int(match.group("num")), path))
    return sorted(found)


def _claim(folder: Path, filename: str, data: bytes) -> Path:
    """Write `data` to the next free <filename>.<NNN> with an exclusive create; never overwrites."""
    folder.mkdir(parents=True, exist_ok=True)
    taken = [n for n, _ in versions(folder.parent, filename)]
    number = (max(taken) if taken else 0) + 1
    while True:
        target = folder / f"{filename}.{number:03d}"
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            number += 1
            continue
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target


def keep_previous(agent_dir: Path, filename: str, new: bytes | str) -> Path | None:
    """Keep the current text of agent_dir/filename in history if `new` differs from it.

    Returns the history file written, or None (no current file, or no change).
    """
    current_path = Path(agent_dir) / filename
    new_bytes = new.encode("utf-8") if isinstance(new, str) else new
    try:
        current = current_path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if current == new_bytes:
        return None
    return _claim(history_dir(agent_dir), filename, current)


def write_persona_file(agent_dir: Path, filename: str, new: bytes | str) -> Path | None:
    """Replace agent_dir/filename atomically, keeping its previous text in history first.

    Returns the history file written (None when the file is new or unchanged). The file's
    lock is held across both steps, so history and file never disagree.
    """
    target = Path(agent_dir) / filename
    new_bytes = new.encode("utf-8") if isinstance(new, str) else new
    with file_lock(target):
        kept = keep_previous(agent_dir, filename, new_bytes)
        try:
            unchanged = target.read_bytes() == new_bytes
        except OSError:
            unchanged = False
        if not unchanged:
            write_bytes_atomic(target, new_bytes)
    return kept

"""Who changed a persona file: a record of the seed bytes copied and the therapist's writes.

`refresh-seeds` must tell a file the therapist evolved from one the user edited. Each
agent dir keeps `.seed-hashes.json`: the sha256 of every seed file amatelier copied there
(`seeded`) and of the last version the therapist's loop wrote (`evolved`). A file whose
hash matches neither was edited by the user.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from amatelier.atomicio import file_lock, read_json, write_json_atomic

RECORD_NAME = ".seed-hashes.json"

CURRENT = "current"          # identical to the shipped seed
MISSING = "missing"          # not in the user-data dir
UNEDITED = "unedited"        # the seed we copied, untouched; a newer one has shipped
EVOLVED = "evolved"          # last written by the therapist's loop
EDITED = "edited"            # changed by the user (or by anything amatelier did not record)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_path(agent_dir: Path) -> Path:
    return Path(agent_dir) / RECORD_NAME


def load(agent_dir: Path) -> dict[str, dict[str, str]]:
    """The agent's record ({"seeded": {...}, "evolved": {...}}); empty when absent or unreadable."""
    try:
        data = read_json(record_path(agent_dir), default={})
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    return {key: dict(data.get(key) or {}) for key in ("seeded", "evolved")}


def _note(agent_dir: Path, kind: str, filename: str, data: bytes) -> None:
    path = record_path(agent_dir)
    with file_lock(path):
        record = load(agent_dir)
        record[kind][filename] = sha256(data)
        write_json_atomic(path, record)


def note_seeded(agent_dir: Path, filename: str, data: bytes) -> None:
    """Record that amatelier copied these seed bytes into the agent dir."""
    _note(agent_dir, "seeded", filename, data)


def note_evolved(agent_dir: Path, filename: str, data: bytes) -> None:
    """Record that the therapist's loop wrote these bytes (called by the evolver)."""
    _note(agent_dir, "evolved", filename, data)


def origin(current: bytes | None, bundled: bytes, record: dict[str, dict[str, str]], filename: str) -> str:
    """What the user's copy of a seed file is, relative to the shipped one (pure)."""
    if current is None:
        return MISSING
    if current == bundled:
        return CURRENT
    digest = sha256(current)
    if record.get("evolved", {}).get(filename) == digest:
        return EVOLVED
    if record.get("seeded", {}).get(filename) == digest:
        return UNEDITED
    return EDITED

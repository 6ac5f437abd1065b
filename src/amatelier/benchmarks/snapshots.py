"""Snapshots on disk: `<user data>/snapshots/<agent>/<seed version>/snapshot-NNN.json`.

Minting claims the next free number with a hard link from a fully written temp file, which
fails if the name exists: a snapshot is never overwritten, and a crash leaves either no
snapshot or a whole one. Loading checks the schema and the content hash, so a hand-edited
or truncated snapshot is refused rather than restored.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from amatelier import paths, schemas
from amatelier.atomicio import file_lock, write_bytes_atomic
from amatelier.benchmarks import snapshot_doc
from amatelier.learning.persona_history import keep_previous, write_persona_file

SNAPSHOT_NAME = re.compile(r"^snapshot-(\d{3,})\.json$")
SEED_DIR = re.compile(r"^seed-[0-9a-f]{12}$")
AGENT = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
MAX_SNAPSHOT_BYTES = 20_000_000


class SnapshotError(RuntimeError):
    """A snapshot cannot be minted, found, read or restored; one line says why."""


def check_agent(agent: str) -> str:
    if not isinstance(agent, str) or not AGENT.match(agent):
        raise SnapshotError(f"not an agent name: {agent!r}")
    return agent


def agent_root(agent: str) -> Path:
    return paths.user_snapshots_dir() / check_agent(agent)


def snapshot_path(agent: str, seed_version: str, number: int) -> Path:
    return agent_root(agent) / seed_version / f"snapshot-{number:03d}.json"


def numbers_in(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := SNAPSHOT_NAME.match(p.name)))


# --------------------------------------------------------------------------- schema


def schema() -> dict[str, Any]:
    path = schemas.bundled_schema_path("snapshot.schema.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"snapshot schema unreadable ({path}): {exc}") from None


def schema_problems(doc: Any) -> list[str]:
    """Every way `doc` breaks docs/schemas/snapshot.schema.json (empty when valid)."""
    return schemas.schema_problems(schema(), doc, root="(root)", max_message=200)


def verify(doc: Any, where: str) -> dict[str, Any]:
    """The document if it is schema-valid and its hashes match; SnapshotError otherwise."""
    problems = schema_problems(doc)
    if problems:
        raise SnapshotError(f"{where} is not a valid snapshot: {problems[0]}")
    if snapshot_doc.content_sha256(doc) != doc["content_sha256"]:
        raise SnapshotError(f"{where} was changed after it was minted (content_sha256 does not match)")
    for name, entry in doc["persona"].items():
        if snapshot_doc.sha256_text(entry["text"]) != entry["sha256"]:
            raise SnapshotError(f"{where}: {name} does not match its sha256")
    return doc


# --------------------------------------------------------------------------- mint


def mint(agent: str, *, batch_ids: list[str], notes: str = "") -> tuple[Path, dict[str, Any]]:
    """Write the agent's next snapshot; returns its path and document."""
    check_agent(agent)
    if not paths.user_agent_dir(agent).is_dir() and not paths.bundled_agent_dir(agent).is_dir():
        raise SnapshotError(f"unknown agent {agent!r} (no {paths.user_agent_dir(agent)})")
    folder = agent_root(agent) / snapshot_doc.seed_version(agent)
    folder.mkdir(parents=True, exist_ok=True)
    taken = numbers_in(folder)
    number = (taken[-1] if taken else 0) + 1
    created = None
    while True:
        doc = snapshot_doc.build(agent, batch_ids=batch_ids, notes=notes, number=number, created_at=created)
        created = doc["snapshot_metadata"]["created_at"]
        problems = schema_problems(doc)
        if problems:
            raise SnapshotError(f"the snapshot would not be valid: {problems[0]}")
        target = folder / f"snapshot-{number:03d}.json"
        if _link_new(target, json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"):
            return target, doc
        number += 1


def _link_new(target: Path, data: bytes) -> bool:
    """Create `target` with `data` only if it does not exist yet (False when it does)."""
    fd, tmp = tempfile.mkstemp(prefix=".snapshot-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


# --------------------------------------------------------------------------- find and read


def listing(agent: str | None = None) -> list[dict[str, Any]]:
    """Every snapshot (or one agent's): agent, seed version, number, path, created, runs, improvement."""
    root = paths.user_snapshots_dir()
    agents = [check_agent(agent)] if agent else (
        sorted(p.name for p in root.iterdir() if p.is_dir() and AGENT.match(p.name)) if root.is_dir() else [])
    rows = []
    for name in agents:
        base = agent_root(name)
        seeds = sorted(p for p in base.iterdir() if p.is_dir() and SEED_DIR.match(p.name)) if base.is_dir() else []
        for seed in seeds:
            for number in numbers_in(seed):
                path = seed / f"snapshot-{number:03d}.json"
                row: dict[str, Any] = {"agent": name, "seed_version": seed.name, "snapshot": number,
                                       "path": str(path)}
                try:
                    doc = json.loads(path.read_text(encoding="utf-8"))
                    comparison = doc["benchmarks"]["comparison"]
                    row.update(created_at=doc["snapshot_metadata"]["created_at"],
                               runs=len(doc["benchmarks"]["runs"]), improvement=comparison.get("improvement"),
                               notes=doc["snapshot_metadata"].get("notes", ""))
                except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
                    row["problem"] = "unreadable"
                rows.append(row)
    return rows


def parse_number(text: str) -> int:
    match = re.fullmatch(r"(?:snapshot-)?0*(\d{1,6})(?:\.json)?", str(text).strip())
    if not match or int(match.group(1)) < 1:
        raise SnapshotError(f"not a snapshot number: {text!r} (e.g. 1, 001 or snapshot-001)")
    return int(match.group(1))


def locate(agent: str, number: int | str, seed_version: str | None = None) -> Path:
    """The snapshot file for agent + number (current seed version unless one is named)."""
    num = parse_number(str(number))
    if seed_version is not None and not SEED_DIR.match(seed_version):
        raise SnapshotError(f"not a seed version: {seed_version!r} (e.g. seed-0123456789ab)")
    version = seed_version or snapshot_doc.seed_version(check_agent(agent))
    path = snapshot_path(agent, version, num)
    if not path.is_file():
        others = [r for r in listing(agent) if r["snapshot"] == num and r["seed_version"] != version]
        hint = f"; found under {others[0]['seed_version']} (pass --seed-version)" if others else ""
        raise SnapshotError(f"no snapshot {num:03d} for {agent} under {version}{hint}")
    return path


def resolve_ref(ref: str, seed_version: str | None = None) -> Path:
    """A snapshot named `AGENT:NNN` (e.g. elena:1) or by the path of its file."""
    if ":" in ref and not ref.startswith(("/", ".")):
        agent, _, number = ref.partition(":")
        return locate(agent.strip().lower(), number, seed_version)
    path = Path(ref).expanduser()
    if path.is_file():
        return path
    raise SnapshotError(f"no snapshot {ref!r} (use AGENT:NNN, e.g. elena:1, or a snapshot file path)")


def load(path: Path) -> dict[str, Any]:
    """A verified snapshot document from a file."""
    try:
        if path.stat().st_size > MAX_SNAPSHOT_BYTES:
            raise SnapshotError(f"{path} is larger than {MAX_SNAPSHOT_BYTES} bytes")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SnapshotError(f"cannot read snapshot {path}: {exc}") from None
    return verify(doc, str(path))


# --------------------------------------------------------------------------- diff and restore


def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What changed from snapshot A to snapshot B: persona text, behaviours, skills, numbers."""
    persona = {}
    for name in sorted(set(a["persona"]) | set(b["persona"])):
        old = (a["persona"].get(name) or {}).get("text", "")
        new = (b["persona"].get(name) or {}).get("text", "")
        if old != new:
            persona[name] = "".join(difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True),
                fromfile=f"{a['agent']}:{a['snapshot']:03d}/{name}", tofile=f"{b['agent']}:{b['snapshot']:03d}/{name}"))

    def behaviour_texts(doc: dict[str, Any]) -> set[str]:
        active = (doc.get("behaviors") or {}).get("behaviors", [])
        if not isinstance(active, list):
            return set()
        return {str(x.get("text")) for x in active if isinstance(x, dict) and x.get("text")}

    ca, cb = a["benchmarks"]["comparison"], b["benchmarks"]["comparison"]
    keys = ("baseline_avg_score", "specialist_avg_score", "improvement", "improvement_pct")
    return {
        "a": {"agent": a["agent"], "snapshot": a["snapshot"], "seed_version": a["seed_version"]},
        "b": {"agent": b["agent"], "snapshot": b["snapshot"], "seed_version": b["seed_version"]},
        "persona": persona,
        "behaviors_added": sorted(behaviour_texts(b) - behaviour_texts(a)),
        "behaviors_removed": sorted(behaviour_texts(a) - behaviour_texts(b)),
        "skills_added": sorted(set(b["skills_owned"]) - set(a["skills_owned"])),
        "skills_removed": sorted(set(a["skills_owned"]) - set(b["skills_owned"])),
        "comparison": {key: {"a": ca.get(key), "b": cb.get(key)} for key in keys},
        "runs": {"a": len(a["benchmarks"]["runs"]), "b": len(b["benchmarks"]["runs"])},
    }


def restore(doc: dict[str, Any]) -> dict[str, Any]:
    """Put a (verified) snapshot's persona files and behaviours back; the current ones go to history.

    Returns {file: history path or None} for each file written.
    """
    agent = check_agent(doc["agent"])
    agent_dir = paths.user_agent_dir(agent)
    agent_dir.mkdir(parents=True, exist_ok=True)
    kept: dict[str, Any] = {}
    behaviors_path = agent_dir / "behaviors.json"
    # The evolver edits CLAUDE.md and behaviors.json under the behaviors.json lock; hold it too.
    with file_lock(behaviors_path):
        for name, entry in doc["persona"].items():
            if name not in snapshot_doc.PERSONA_FILES:
                continue
            path = write_persona_file(agent_dir, name, entry["text"])
            kept[name] = str(path) if path else None
        if isinstance(doc.get("behaviors"), dict) and doc["behaviors"]:
            data = (json.dumps(doc["behaviors"], indent=2, ensure_ascii=False) + "\n").encode("utf-8")
            path = keep_previous(agent_dir, "behaviors.json", data)
            write_bytes_atomic(behaviors_path, data)
            kept["behaviors.json"] = str(path) if path else None
    return kept

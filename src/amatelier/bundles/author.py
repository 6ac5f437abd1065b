"""Write or update `agents/<name>/manifest.json` from what the agent is now.

The manifest lists the agent's current files (persona, behaviours, memory summary, score
history, skills, licence, snapshot) and the models it has variants for. An update keeps
what the author edited: the description, role, version and each model's variant files.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

from amatelier import __version__, paths
from amatelier.atomicio import write_bytes_atomic, write_text_atomic
from amatelier.bundles import BundleError
from amatelier.bundles.files import MANIFEST, MAX_FILE_BYTES, SIGNATURE
from amatelier.bundles.manifest import (
    SHARED_PERSONA,
    V1,
    V2,
    check_manifest,
    model_entries,
    shared_persona,
)
from amatelier.bundles.names import (
    check_agent_name,
    check_version,
    guess_provider,
    normalise_model,
    same_model,
)

DEFAULT_VERSION = "0.1.0"
SHARED_FILES = {"behaviors": "behaviors.json", "memory": "MEMORY.md", "memory_json": "MEMORY.json",
                "metrics": "metrics.json", "license": "LICENSE", "snapshot": "snapshot.json"}


def agent_dir(name: str) -> Path:
    """The agent's user-data directory, seeded from the bundled persona when it has none yet."""
    check_agent_name(name)
    paths.ensure_user_data()
    directory = paths.user_agent_dir(name)
    if not directory.is_dir() and paths.bundled_agent_dir(name).is_dir():
        paths.seed_agent(name)
    if not directory.is_dir():
        known = sorted(p.name for p in paths.user_agents_dir().iterdir()
                       if p.is_dir() and not p.name.startswith("."))
        raise BundleError(f"no agent named {name!r} in {paths.user_agents_dir()} "
                          f"(agents: {', '.join(known) or 'none'})")
    return directory


def read_manifest_file(directory: Path) -> dict[str, Any] | None:
    """The agent's manifest.json as JSON (None when absent); unchecked."""
    path = directory / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BundleError(f"{path} is not valid JSON ({exc}); fix it or delete it to start over") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path} is not a JSON object; fix it or delete it to start over")
    return data


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def config_role(config: dict[str, Any], name: str) -> tuple[str, str]:
    """(role, specialty) of an agent from the team config."""
    team = config.get("team", {})
    worker = team.get("workers", {}).get(name)
    if isinstance(worker, dict):
        return "worker", str(worker.get("role", "roundtable worker"))
    for role in ("judge", "therapist", "admin"):
        if team.get(role, {}).get("name") == name:
            return role, role
    return "worker", "roundtable worker"


def shared_from_state(directory: Path, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The shared section for the files the agent has now (the author's persona paths kept)."""
    previous = previous or {}
    persona = dict(previous.get("persona") or SHARED_PERSONA)
    persona = {key: rel for key, rel in persona.items() if _is_file(directory / rel)}
    if "claude_md" not in persona:
        raise BundleError(f"{directory} has no persona file (CLAUDE.md); nothing to package")
    shared: dict[str, Any] = {"persona": persona}
    for key, default in SHARED_FILES.items():
        rel = previous.get(key) or default
        if _is_file(directory / rel):
            shared[key] = rel
    skills_dir = directory / "skills"
    if skills_dir.is_dir():
        skills = sorted(f"skills/{p.name}" for p in skills_dir.glob("*.md") if _is_file(p))
        if skills:
            shared["skills"] = skills
    return shared


def _model_entry(model: str, previous: list[dict[str, Any]]) -> dict[str, Any]:
    for entry in previous:
        if same_model(str(entry.get("model", "")), model):
            return dict(entry)
    return {"model": model, "provider": guess_provider(model), "persona": "shared"}


def make_variant_files(directory: Path, entry: dict[str, Any], persona: dict[str, str]) -> list[str]:
    """Give a model its own persona files (copies of the shared ones) unless it has them already."""
    if isinstance(entry.get("persona"), dict):
        return []
    folder = f"variants/{normalise_model(str(entry['model']))}"
    made: dict[str, str] = {}
    for key, rel in persona.items():
        target_rel = f"{folder}/{Path(rel).name}"
        target = directory / target_rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(directory / rel, target)
        made[key] = target_rel
    entry["persona"] = made
    return list(made.values())


def copy_snapshot(directory: Path, ref: str) -> None:
    """Carry a benchmark snapshot (`AGENT:NNN` or a snapshot file) with the agent as snapshot.json.

    The snapshot is checked first (schema and content hash, by the benchmarks area), so a
    package never carries one that was altered after it was minted.
    """
    from amatelier.benchmarks.snapshots import SnapshotError, load, resolve_ref

    try:
        path = resolve_ref(str(ref))
        load(path)
        data = path.read_bytes()
    except SnapshotError as exc:
        raise BundleError(str(exc)) from None
    except OSError as exc:
        raise BundleError(f"cannot read snapshot {ref}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise BundleError(f"snapshot {ref} is larger than {MAX_FILE_BYTES} bytes")
    write_bytes_atomic(directory / SHARED_FILES["snapshot"], data)


def author_manifest(name: str, config: dict[str, Any], *, models: list[str] | None = None,
                    version: str | None = None, variant_files: bool = False,
                    snapshot: str | None = None) -> tuple[dict[str, Any], Path]:
    """Build the manifest from the agent's state, write it, and return (manifest, path)."""
    directory = agent_dir(name)
    if snapshot is not None:
        copy_snapshot(directory, snapshot)
    previous = read_manifest_file(directory) or {}
    if version is not None:
        check_version(version)
    old_entries = model_entries(previous) if isinstance(previous, dict) else []
    if models:
        entries = [_model_entry(m.strip(), old_entries) for m in models if m.strip()]
    elif old_entries:
        entries = [dict(e) for e in old_entries]
    else:
        from amatelier.config import worker_model

        entries = [_model_entry(worker_model(config, name), [])]
    role, specialty = config_role(config, name)
    manifest: dict[str, Any] = {
        "schema_version": V2 if len(entries) > 1 else V1,
        "name": name,
        "version": version or previous.get("version") or DEFAULT_VERSION,
        "description": previous.get("description") or f"{name}, an amatelier roundtable agent: {specialty}",
        "role": previous.get("role") or role,
        "specialty": previous.get("specialty") or specialty,
    }
    shared = shared_from_state(directory, previous.get("shared"))
    if variant_files:
        for entry in entries:
            make_variant_files(directory, entry, shared_persona({"shared": shared}))
    if len(entries) > 1:
        manifest["base_models"] = entries
    else:
        manifest["base_model"] = entries[0]
    manifest["shared"] = shared
    manifest["created_with"] = f"amatelier {__version__}"
    check_manifest(manifest, f"{directory / MANIFEST}")
    path = directory / MANIFEST
    write_text_atomic(path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    # an installed agent's signature covered the manifest just replaced; it vouches for nothing now
    (directory / SIGNATURE).unlink(missing_ok=True)
    return manifest, path

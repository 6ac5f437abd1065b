"""Where amatelier reads and writes.

Two layers: bundled assets shipped inside the package (read-only, replaced by every
upgrade) and the per-user data dir (all mutable state: the chat database, evolved
personas, memory, ledgers). Upgrades must never clobber what agents have learned, so
nothing here ever writes into the bundled layer, and nothing runs at import time.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

APP_NAME = "amatelier"
WORKSPACE_ENV = "AMATELIER_WORKSPACE"
BOOTSTRAP_SENTINEL = ".bootstrap-complete"
SEED_FILES = ("CLAUDE.md", "IDENTITY.md")
# Agent names become directory names and --workers entries: lower-case, no separators.
AGENT_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"

_PACKAGE_DIR = Path(__file__).resolve().parent


class WorkspaceNotWritable(RuntimeError):
    """The user-data dir cannot be created or written; the message says which and why."""


# --------------------------------------------------------------------------- bundled


def bundled_assets_dir() -> Path:
    """The read-only bundled-assets root. Inside the installed package."""
    return _PACKAGE_DIR


def bundled_docs_dir() -> Path:
    """The bundled human docs (tutorials, guides, reference, explanation)."""
    packaged = _PACKAGE_DIR / "docs"
    if packaged.is_dir():
        return packaged
    # Editable install from a checkout: docs/ sits at the repository root.
    return _PACKAGE_DIR.parent.parent / "docs"


def bundled_agents_dir() -> Path:
    return _PACKAGE_DIR / "agents"


def bundled_agent_dir(name: str) -> Path:
    """Seed persona directory for an agent (ships in the wheel, read-only)."""
    return bundled_agents_dir() / name


def bundled_store_catalog() -> Path:
    """Default store catalog."""
    return _PACKAGE_DIR / "store" / "catalog.json"


def bundled_config() -> Path:
    """Default config.json."""
    return _PACKAGE_DIR / "config.json"


def bundled_migrations_dir() -> Path:
    return _PACKAGE_DIR / "migrations"


# --------------------------------------------------------------------------- user data


def user_data_dir() -> Path:
    """The user-writable root for runtime state (AMATELIER_WORKSPACE wins when set)."""
    override = os.environ.get(WORKSPACE_ENV, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    from platformdirs import user_data_dir as _platform_user_data_dir

    return Path(_platform_user_data_dir(APP_NAME, appauthor=False))


def user_agents_dir() -> Path:
    return user_data_dir() / "agents"


def user_agent_dir(name: str) -> Path:
    """Per-agent mutable state (persona, MEMORY, metrics, behaviors, sessions, skills)."""
    return user_agents_dir() / name


def user_agent_registry() -> Path:
    """Installed (packaged) agents: name, version, model, source, sha256, key, installed_at."""
    return user_agents_dir() / "registry.json"


def user_trusted_keys_dir() -> Path:
    """Public keys whose signatures `amatelier agent install` accepts without --trust."""
    return user_data_dir() / "trusted_keys"


def user_signing_keys_dir() -> Path:
    """Default home of the key pair `amatelier agent keygen` makes (amatelier.key, amatelier.pub)."""
    return user_data_dir() / "keys"


def user_agent_backups_dir() -> Path:
    """Where `agent install --force` moves the agent directory it replaces."""
    return user_data_dir() / "backups" / "agents"


def user_server_dir() -> Path:
    return user_data_dir() / "roundtable-server"


def user_db_path() -> Path:
    """SQLite database for the roundtable chat, scores and the spark ledger."""
    return user_server_dir() / "roundtable.db"


def user_logs_dir() -> Path:
    """Runtime logs (worker logs, gemini errors, runner logs)."""
    return user_server_dir() / "logs"


def user_digest_dir() -> Path:
    """Where digest-<rt_id>.json, latest-result.md and therapist reports land."""
    return user_server_dir()


def user_briefing_dir() -> Path:
    """Where user-authored briefing-*.md files are looked up first."""
    return user_server_dir()


def user_store_dir() -> Path:
    return user_data_dir() / "store"


def user_store_ledger() -> Path:
    """Pending/consumed purchase state and the bulletin board (lock-protected JSON)."""
    return user_store_dir() / "ledger.json"


def user_novel_concepts() -> Path:
    """DERIVE skill concepts accumulated across roundtables."""
    return user_data_dir() / "novel_concepts.json"


def user_shared_skills_dir() -> Path:
    return user_data_dir() / "shared-skills"


def user_shared_skills_index() -> Path:
    """The distilled skill index shared by the whole team."""
    return user_shared_skills_dir() / "index.json"


def user_runs_dir() -> Path:
    """Per-roundtable machine-readable records: runs/<rt_id>/manifest.json, telemetry.jsonl."""
    return user_data_dir() / "runs"


def user_run_dir(rt_id: str) -> Path:
    """The directory of one roundtable's run manifest, telemetry and (for jobs) briefing."""
    return user_runs_dir() / rt_id


def user_benchmarks_dir() -> Path:
    return user_data_dir() / "benchmarks"


def user_batches_dir() -> Path:
    """Benchmark batches: one folder per batch id (plan, frozen suite, one file per run)."""
    return user_data_dir() / "batches"


def user_snapshots_dir() -> Path:
    """Minted persona snapshots: snapshots/<agent>/<seed version>/snapshot-NNN.json."""
    return user_data_dir() / "snapshots"


def user_config_override() -> Path:
    """Optional user-level override for config.json, deep-merged over the bundled one."""
    return user_data_dir() / "config.json"


# --------------------------------------------------------------------------- bootstrap


def _team_agent_names() -> set[str]:
    """Agent names named by config (user override first), without failing on bad JSON."""
    names: set[str] = set()
    for source in (user_config_override(), bundled_config()):
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        team = data.get("team", {}) if isinstance(data, dict) else {}
        workers = team.get("workers", {}) if isinstance(team, dict) else {}
        if isinstance(workers, dict):
            names.update(workers)
        for role in ("judge", "therapist", "admin"):
            entry = team.get(role) if isinstance(team, dict) else None
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                names.add(entry["name"])
        break
    return names


def _all_agent_names() -> list[str]:
    bundled = bundled_agents_dir()
    names = {p.name for p in bundled.iterdir() if p.is_dir()} if bundled.is_dir() else set()
    return sorted(names | _team_agent_names())


def _init_json(path: Path, default: object) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(default, indent=2) + "\n", encoding="utf-8")


def seed_agent(name: str) -> Path:
    """Create an agent's user-data dir; copy persona seeds only where none exist yet."""
    target = user_agent_dir(name)
    (target / "sessions").mkdir(parents=True, exist_ok=True)
    (target / "skills").mkdir(parents=True, exist_ok=True)
    source = bundled_agent_dir(name)
    for filename in SEED_FILES:
        seed = source / filename
        if seed.is_file() and not (target / filename).exists():
            shutil.copy2(seed, target / filename)
            from amatelier.seed_hashes import note_seeded

            note_seeded(target, filename, (target / filename).read_bytes())
    memory_md = target / "MEMORY.md"
    if not memory_md.exists():
        memory_md.write_text("", encoding="utf-8")
    for filename in ("MEMORY.json", "metrics.json", "behaviors.json"):
        _init_json(target / filename, {})
    return target


def ensure_user_data(force: bool = False) -> Path:
    """Create the user-data tree on first use; cheap and idempotent afterwards.

    Never overwrites an existing file, so user and therapist edits survive. Raises
    WorkspaceNotWritable with the path and the reason when the tree cannot be written.
    """
    root = user_data_dir()
    sentinel = root / BOOTSTRAP_SENTINEL
    if sentinel.exists() and not force:
        return root
    try:
        for directory in (
            user_server_dir(),
            user_logs_dir(),
            user_agents_dir(),
            user_store_dir(),
            user_shared_skills_dir() / "entries",
            user_benchmarks_dir(),
        ):
            directory.mkdir(parents=True, exist_ok=True)
        for name in _all_agent_names():
            seed_agent(name)
        _init_json(user_store_ledger(), {})
        _init_json(user_novel_concepts(), [])
        _init_json(user_shared_skills_index(), {"entries": []})
        sentinel.write_text("1", encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        where = exc.filename or root
        hint = f" (set by {WORKSPACE_ENV})" if os.environ.get(WORKSPACE_ENV) else ""
        raise WorkspaceNotWritable(
            f"cannot write the amatelier workspace {root}{hint}: {reason}: {where}"
        ) from exc
    return root

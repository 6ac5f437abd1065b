"""Install and uninstall agents: verify, check trust, stage, swap into place, record.

Order matters for safety: the whole bundle is read and verified in memory, trust is
decided, and only then are files written, into a hidden staging directory that is
renamed into place in one step. An agent being replaced is moved aside as a backup
first and put back if the swap fails, so no step loses an agent.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import file_lock
from amatelier.bundles import BundleError, registry
from amatelier.bundles.files import MANIFEST, SIGNATURE, write_tree
from amatelier.bundles.manifest import model_entries, model_names
from amatelier.bundles.names import check_agent_name, role_token_for
from amatelier.bundles.pack import utc_now
from amatelier.bundles.signing import fingerprint, load_public_key_b64
from amatelier.bundles.sources import Progress, load_source
from amatelier.bundles.verify import Bundle, VerifyReport, verify_bundle


@dataclass
class InstallResult:
    name: str
    path: str
    version: str
    model: str | None
    run_model: str
    role: str
    source: str
    sha256: str
    signed: bool
    fingerprint: str | None
    trusted_by: str | None  # "trusted keys", "--trust", or None for an unsigned package
    backup: str | None
    in_roster: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide_trust(report: VerifyReport, trust_key: str | None, allow_unsigned: bool) -> str | None:
    """How the signer is trusted ("trusted keys" / "--trust"); BundleError when it is not."""
    if not report.signed:
        if not allow_unsigned:
            raise BundleError(f"{report.name} {report.version} is unsigned; pass --allow-unsigned to "
                              "install it anyway")
        return None
    key = report.public_key or ""
    if registry.is_trusted(key):
        return "trusted keys"
    if trust_key is None:
        raise BundleError(f"{report.name} {report.version} is signed by {fingerprint(key)}, a key you have "
                          "not trusted; check it with the author and pass --trust THEIR.pub")
    if trust_key != key:
        raise BundleError(f"{report.name} {report.version} is signed by {fingerprint(key)}, not by the key "
                          f"given with --trust ({fingerprint(trust_key)}); refused")
    return "--trust"


def _hidden_sibling(kind: str, name: str) -> Path:
    return paths.user_agents_dir() / f".{kind}-{name}-{secrets.token_hex(4)}"


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _stage(bundle: Bundle, name: str) -> Path:
    files = dict(bundle.files)
    files[MANIFEST] = bundle.manifest_bytes
    if bundle.signature_file is not None:
        files[SIGNATURE] = bundle.signature_file
    staging = _hidden_sibling("install", name)
    try:
        write_tree(staging, files)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise BundleError(f"cannot write {staging}: {exc.strerror or exc}") from None
        raise
    return staging


def _swap_in(staging: Path, target: Path, name: str) -> Path | None:
    """Move staging to target; an existing target goes to the backups dir first (returned)."""
    backup = None
    if _exists(target):
        backups = paths.user_agent_backups_dir()
        backup = backups / f"{name}-{utc_now().replace(':', '')}-{secrets.token_hex(2)}"
        try:
            backups.mkdir(parents=True, exist_ok=True)
            os.replace(target, backup)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise BundleError(f"cannot move {target} aside to {backup}: {exc.strerror or exc}; "
                              "nothing was changed") from None
    try:
        os.replace(staging, target)
    except OSError as exc:
        if backup is not None:
            os.replace(backup, target)
        shutil.rmtree(staging, ignore_errors=True)
        raise BundleError(f"cannot move the agent into {target}: {exc.strerror or exc}") from None
    return backup


def install(spec: str, *, as_name: str | None = None, trust_path: Path | None = None,
            allow_unsigned: bool = False, force: bool = False,
            progress: Progress | None = None) -> InstallResult:
    """Install an agent from PACKAGE, DIR or git+URL[#tag]; see the module docstring for the order."""
    trust_key = load_public_key_b64(trust_path) if trust_path is not None else None
    name = check_agent_name(as_name) if as_name is not None else None
    bundle = load_source(spec, progress)
    report = verify_bundle(bundle)
    trusted_by = decide_trust(report, trust_key, allow_unsigned)
    manifest = bundle.manifest
    name = name or check_agent_name(manifest["name"])
    paths.ensure_user_data()
    target = paths.user_agent_dir(name)
    with file_lock(target):  # two installs of one name: the second sees the first's agent
        if (_exists(target) or registry.get_entry(name) is not None) and not force:
            raise BundleError(f"an agent named {name} already exists ({target}); pass --force to replace "
                              "it (the old directory is kept as a backup) or --as NEWNAME")
        staging = _stage(bundle, name)
        backup = _swap_in(staging, target, name)
        with contextlib.suppress(OSError):
            paths.seed_agent(name)  # the empty state files (sessions/, MEMORY.json...) the package left out
        if trusted_by == "--trust" and report.public_key:
            registry.trust(report.public_key)
        entry = _registry_entry(name, bundle, report, backup)
        registry.record(entry)
    return InstallResult(name=name, path=str(target), version=entry["version"], model=report.model,
                         run_model=entry["run_model"], role=entry["role"], source=bundle.source,
                         sha256=bundle.sha256, signed=report.signed, fingerprint=report.fingerprint,
                         trusted_by=trusted_by, backup=entry["backup"], in_roster=entry["role"] == "worker")


def _registry_entry(name: str, bundle: Bundle, report: VerifyReport, backup: Path | None) -> dict[str, Any]:
    """What registry.json records about one install."""
    manifest = bundle.manifest
    entries = model_entries(manifest)
    return {
        "name": name, "manifest_name": manifest["name"], "version": manifest["version"],
        "schema_version": report.schema_version, "model": report.model, "models": model_names(manifest),
        "provider": str(entries[0].get("provider")) if len(entries) == 1 else None,
        "run_model": role_token_for(report.model or "sonnet"), "role": str(manifest.get("role", "worker")),
        "specialty": str(manifest.get("specialty") or manifest.get("description") or "installed agent"),
        "source": bundle.source, "sha256": bundle.sha256, "signed": report.signed,
        "key": report.public_key, "key_fingerprint": report.fingerprint, "signed_at": report.signed_at,
        "installed_at": utc_now(), "backup": str(backup) if backup else None,
    }


def list_installed() -> list[dict[str, Any]]:
    """Installed agents, sorted by name, each with a `signature` status line and `trusted` flag."""
    rows = []
    for name, entry in sorted(registry.installed_agents().items()):
        row = dict(entry)
        row["trusted"] = bool(entry.get("signed") and entry.get("key") and registry.is_trusted(entry["key"]))
        row["signature"] = registry.describe_entry(entry)
        row["present"] = paths.user_agent_dir(name).is_dir()
        rows.append(row)
    return rows


def _own_backup(entry: dict[str, Any]) -> Path | None:
    """The backup an install recorded, only if it really is one of ours (inside the backups dir)."""
    if not entry.get("backup"):
        return None
    backup = Path(str(entry["backup"]))
    backups = paths.user_agent_backups_dir().resolve()
    return backup if backup.is_dir() and backup.resolve().parent == backups else None


def uninstall(name: str, *, keep_state: bool = False) -> dict[str, Any]:
    """Remove an installed agent from the registry and (unless keep_state) its directory.

    When its install replaced an agent (--force), the replaced agent is moved back.
    """
    check_agent_name(name)
    target = paths.user_agent_dir(name)
    with file_lock(target):
        entry = registry.get_entry(name)
        if entry is None:
            installed = ", ".join(sorted(registry.installed_agents())) or "none"
            raise BundleError(f"{name} is not an installed agent (installed: {installed}); "
                              "bundled agents cannot be uninstalled")
        trash = None
        if not keep_state and _exists(target):
            trash = _hidden_sibling("uninstall", name)
            os.replace(target, trash)  # one step: the agent is there or gone, never half-deleted
        try:
            registry.remove(name)
        except BaseException:
            if trash is not None:
                os.replace(trash, target)
            raise
        restored = None
        backup = _own_backup(entry)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
            if backup is not None and not _exists(target):
                os.replace(backup, target)  # put back the agent this install replaced
                restored = str(backup)
    return {"name": name, "version": entry.get("version"), "removed_files": trash is not None,
            "kept": str(target) if keep_state and target.exists() else None,
            "restored_from": restored}

"""Pack an agent into `<name>[-<model>].v<version>.amatelier`, hashed and optionally signed.

A 2.0 manifest with several models needs a model: the package carries that model's
variant and the shared files only, and its manifest lists that one model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amatelier.bundles import BundleError
from amatelier.bundles.archive import SUFFIX, build_package, write_package
from amatelier.bundles.author import agent_dir, read_manifest_file
from amatelier.bundles.files import MANIFEST, read_tree, sha256_hex
from amatelier.bundles.manifest import (
    V2,
    check_manifest,
    files_for,
    packaged_manifest,
    schema_version,
    select_model,
)
from amatelier.bundles.names import normalise_model
from amatelier.bundles.signing import fingerprint, load_private_key, sign_manifest


@dataclass
class PackResult:
    path: str
    size: int
    sha256: str
    name: str
    version: str
    model: str | None
    files: int
    signed: bool
    fingerprint: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def package_name(manifest: dict[str, Any], entry: dict[str, Any] | None) -> str:
    """`<name>-<model>.v<version>.amatelier` for schema 2.0, `<name>.v<version>.amatelier` for 1.0."""
    base = manifest["name"]
    if schema_version(manifest) == V2 and entry is not None:
        base = f"{base}-{normalise_model(str(entry['model']))}"
    return f"{base}.v{manifest['version']}{SUFFIX}"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def pack_agent(name: str, out_dir: Path, *, model: str | None = None, key_path: Path | None = None,
               signed_at: str | None = None) -> PackResult:
    """Build and write the package; returns where it went, its size and its SHA-256."""
    private_key = load_private_key(key_path) if key_path is not None else None  # fail before any work
    directory = agent_dir(name)
    manifest = read_manifest_file(directory)
    if manifest is None:
        raise BundleError(f"{name} has no manifest yet; run `amatelier agent manifest {name}` first")
    check_manifest(manifest, str(directory / MANIFEST))
    if manifest["name"] != name:
        raise BundleError(f"{directory / MANIFEST} names the agent {manifest['name']!r}, not {name!r}; "
                          f"run `amatelier agent manifest {name}` to update it")
    entry = select_model(manifest, model)
    packed = packaged_manifest(manifest, entry)
    files = read_tree(directory, files_for(packed, entry))
    packed["integrity"] = {"algorithm": "sha256",
                           "files": {path: sha256_hex(files[path]) for path in sorted(files)}}
    signature = None
    if private_key is not None:
        signature = sign_manifest(packed, private_key, signed_at or utc_now())
    check_manifest(packed, "packed manifest", require_integrity=True)
    data = build_package(manifest_bytes(packed), files, signature)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BundleError(f"{out_dir} is not a directory")
    target = out_dir / package_name(packed, entry)
    try:
        write_package(target, data)
    except OSError as exc:
        raise BundleError(f"cannot write {target}: {exc.strerror or exc}") from None
    key = packed["integrity"].get("signature", {}).get("public_key")
    return PackResult(path=str(target), size=len(data), sha256=sha256_hex(data), name=name,
                      version=packed["version"], model=str(entry["model"]) if entry else None,
                      files=len(files), signed=signature is not None,
                      fingerprint=fingerprint(key) if key else None)

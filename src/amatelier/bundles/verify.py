"""Check a bundle: the manifest is valid, every file's SHA-256 matches, the signature holds.

Runs on contents held in memory, so a bundle is judged before anything is written. The
first problem found is raised as a BundleError that names the file or key at fault.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from amatelier.bundles import BundleError
from amatelier.bundles.files import sha256_hex
from amatelier.bundles.manifest import check_manifest, files_for, model_entries, schema_version
from amatelier.bundles.signing import fingerprint, signature_valid


@dataclass
class Bundle:
    """An agent read from a package, a directory or a git checkout; not yet trusted."""

    manifest: dict[str, Any]
    manifest_bytes: bytes
    files: dict[str, bytes]
    signature_file: bytes | None
    source: str
    sha256: str  # of the package file, or of the sorted `path:sha256` lines for a directory


@dataclass
class VerifyReport:
    name: str
    version: str
    schema_version: str
    model: str | None
    files: int
    signed: bool
    public_key: str | None
    fingerprint: str | None
    signed_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_manifest(data: bytes, label: str = "manifest.json", *, require_integrity: bool = True) -> dict[str, Any]:
    """manifest.json bytes to a checked manifest; BundleError on bad JSON or a broken rule."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{label} is not valid JSON: {exc}") from None
    except RecursionError:
        raise BundleError(f"{label} is nested too deeply to be a manifest") from None
    return check_manifest(manifest, label, require_integrity=require_integrity)


def check_hashes(manifest: dict[str, Any], files: dict[str, bytes]) -> None:
    """Every listed file present with its hash, nothing unlisted, everything referenced listed."""
    listed: dict[str, str] = manifest["integrity"]["files"]
    for path in sorted(listed):
        if path not in files:
            raise BundleError(f"{path} is listed in the manifest but missing from the package")
        if sha256_hex(files[path]) != listed[path]:
            raise BundleError(f"{path} was modified: its SHA-256 does not match the manifest")
    extra = sorted(set(files) - set(listed))
    if extra:
        raise BundleError(f"{extra[0]} is in the package but not in the manifest's integrity list")
    unlisted = [p for p in files_for(manifest, all_models=True) if p not in listed]
    if unlisted:
        raise BundleError(f"the manifest refers to {unlisted[0]}, which the package does not carry")


def check_signature(manifest: dict[str, Any], signature_file: bytes | None,
                    expected_key: str | None = None) -> dict[str, Any] | None:
    """The signature block when it holds (None for an unsigned bundle); BundleError otherwise."""
    signature = manifest["integrity"].get("signature")
    if signature is None:
        if signature_file is not None:
            raise BundleError("signature.sig is present but the manifest carries no signature")
        if expected_key is not None:
            raise BundleError(f"the package is unsigned; expected a signature by {fingerprint(expected_key)}")
        return None
    if signature_file is None:
        raise BundleError("the manifest is signed but signature.sig is missing")
    if signature_file.decode("ascii", "replace").strip() != signature["value"]:
        raise BundleError("signature.sig does not match the manifest's signature")
    if not signature_valid(manifest):
        raise BundleError("the signature does not verify: the manifest was changed after signing")
    if expected_key is not None and signature["public_key"] != expected_key:
        raise BundleError(f"signed by key {fingerprint(signature['public_key'])}, not by the expected key "
                          f"{fingerprint(expected_key)}")
    return signature


def verify_bundle(bundle: Bundle, expected_key: str | None = None) -> VerifyReport:
    """Verify hashes then signature; the report says what was checked and who signed."""
    manifest = bundle.manifest
    check_hashes(manifest, bundle.files)
    signature = check_signature(manifest, bundle.signature_file, expected_key)
    entries = model_entries(manifest)
    key = signature["public_key"] if signature else None
    return VerifyReport(
        name=manifest["name"], version=manifest["version"], schema_version=schema_version(manifest),
        model=str(entries[0]["model"]) if len(entries) == 1 else None, files=len(bundle.files),
        signed=signature is not None, public_key=key, fingerprint=fingerprint(key) if key else None,
        signed_at=signature["signed_at"] if signature else None,
    )

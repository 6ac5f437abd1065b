"""The manifest rules the JSON Schema cannot say, and the questions asked of a manifest.

Schema 1.0 names one `base_model`, 2.0 a non-empty `base_models` list; both at once is an
error, neither means 1.0 with no model pinned. Every file path is a safe relative path and
belongs to exactly one owner: the shared resources, or one model's variant.
"""

from __future__ import annotations

import copy
from typing import Any

from amatelier.bundles import BundleError
from amatelier.bundles.files import RESERVED_PATHS, check_rel_path
from amatelier.bundles.names import check_agent_name, check_version, same_model
from amatelier.bundles.schema import validate_schema

V1, V2 = "1.0", "2.0"
SHARED_PERSONA = {"claude_md": "CLAUDE.md", "identity_md": "IDENTITY.md"}
SHARED_SINGLE = ("behaviors", "memory", "memory_json", "metrics", "license", "snapshot")


def schema_version(manifest: dict[str, Any]) -> str:
    return str(manifest.get("schema_version", V1))


def check_manifest(manifest: Any, label: str = "manifest", *, require_integrity: bool = False) -> dict[str, Any]:
    """Validate a manifest (schema + rules); returns it unchanged, or raises one clear BundleError."""
    if not isinstance(manifest, dict):
        raise BundleError(f"{label}: the top level must be a JSON object")
    if "base_model" in manifest and "base_models" in manifest:
        raise BundleError(f"{label}: has both base_model and base_models; use base_model with "
                          "schema_version 1.0 or base_models with schema_version 2.0, not both")
    version = manifest.get("schema_version", V1)
    if version == V1 and "base_models" in manifest:
        raise BundleError(f"{label}: schema_version 1.0 takes one base_model; a base_models list "
                          "needs schema_version 2.0")
    if version == V2 and "base_models" not in manifest:
        raise BundleError(f"{label}: schema_version 2.0 needs a non-empty base_models list")
    validate_schema(manifest, label)
    check_agent_name(manifest["name"], what=f"{label} name")
    check_version(manifest["version"])
    _check_models_unique(manifest, label)
    _check_paths(manifest, label)
    if require_integrity and "integrity" not in manifest:
        raise BundleError(f"{label}: has no integrity section (make packages with `amatelier agent pack`)")
    for path in manifest.get("integrity", {}).get("files", {}):
        check_rel_path(path, what=f"{label}: integrity path")
        if path in RESERVED_PATHS:
            raise BundleError(f"{label}: integrity lists {path}, a name the package itself uses")
    return manifest


def model_entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    if "base_models" in manifest:
        return list(manifest["base_models"])
    if "base_model" in manifest:
        return [manifest["base_model"]]
    return []


def model_names(manifest: dict[str, Any]) -> list[str]:
    return [str(entry["model"]) for entry in model_entries(manifest)]


def select_model(manifest: dict[str, Any], model: str | None) -> dict[str, Any] | None:
    """The entry to pack: the one named, or the only one; several and none named is an error."""
    entries = model_entries(manifest)
    name = manifest.get("name", "the agent")
    if model is None:
        if len(entries) > 1:
            raise BundleError(f"{name} has persona variants for {len(entries)} models; choose one with "
                              f"--model: {', '.join(model_names(manifest))}")
        return entries[0] if entries else None
    for entry in entries:
        if same_model(str(entry["model"]), model):
            return entry
    known = ", ".join(model_names(manifest)) or "none (the manifest pins no model)"
    raise BundleError(f"{name} has no model {model!r} in its manifest (models: {known})")


def shared_persona(manifest: dict[str, Any]) -> dict[str, str]:
    return dict(manifest.get("shared", {}).get("persona") or SHARED_PERSONA)


def shared_paths(manifest: dict[str, Any]) -> list[str]:
    """Every shared resource path, persona first, in manifest order."""
    shared = manifest.get("shared", {})
    found = list(shared_persona(manifest).values())
    found += [shared[key] for key in SHARED_SINGLE if shared.get(key)]
    found += list(shared.get("skills", []))
    return found


def variant_paths(entry: dict[str, Any] | None) -> list[str]:
    """The files one model's entry adds: its persona variant files and prompt template."""
    if not entry:
        return []
    persona = entry.get("persona", "shared")
    found = list(persona.values()) if isinstance(persona, dict) else []
    if entry.get("prompt_template"):
        found.append(entry["prompt_template"])
    return found


def files_for(manifest: dict[str, Any], entry: dict[str, Any] | None = None, *,
              all_models: bool = False) -> list[str]:
    """The files a package carries: shared ones plus the chosen model's (or every model's) variant."""
    found = shared_paths(manifest)
    entries = model_entries(manifest) if all_models else ([entry] if entry else [])
    for item in entries:
        found += variant_paths(item)
    return list(dict.fromkeys(found))


def packaged_manifest(manifest: dict[str, Any], entry: dict[str, Any] | None) -> dict[str, Any]:
    """The manifest as it goes into a package: only the packed model, no stale integrity."""
    packed = copy.deepcopy(manifest)
    packed.pop("integrity", None)
    if "base_models" in packed and entry is not None:
        packed["base_models"] = [copy.deepcopy(entry)]
    return packed


def _check_models_unique(manifest: dict[str, Any], label: str) -> None:
    seen: list[str] = []
    for model in model_names(manifest):
        if any(same_model(model, other) for other in seen):
            raise BundleError(f"{label}: model {model!r} is listed twice")
        seen.append(model)


def _check_paths(manifest: dict[str, Any], label: str) -> None:
    owner: dict[str, str] = {}

    def claim(path: str, who: str) -> None:
        clean = check_rel_path(path, what=f"{label}: path")
        if clean in RESERVED_PATHS:
            raise BundleError(f"{label}: {who} uses {clean}, a name the package itself uses")
        if clean in owner and owner[clean] != who:
            raise BundleError(f"{label}: {clean} is used by both {owner[clean]} and {who}; "
                              "paths must be unique across models and shared files")
        if clean in owner:
            raise BundleError(f"{label}: {clean} is listed twice by {who}")
        owner[clean] = who

    for path in shared_paths(manifest):
        claim(path, "the shared files")
    for entry in model_entries(manifest):
        for path in variant_paths(entry):
            claim(path, f"model {entry['model']}")

"""Which persona files an agent uses on the model it runs on.

An installed agent may carry persona variants per model (its manifest.json lists them).
A worker asks for the variant matching the model it runs on (the role token or the id it
resolves to) and falls back to the shared CLAUDE.md / IDENTITY.md. This is read at run
time, so it is tolerant: a missing, corrupt or hostile manifest means the shared persona,
and no path may lead outside the agent's directory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 1024 * 1024


@dataclass(frozen=True)
class PersonaFiles:
    """The files a system prompt is built from; `variant` names the model whose variant is used."""

    claude_md: Path
    identity_md: Path
    prompt_template: Path | None = None
    variant: str | None = None


def model_key(model: str) -> str:
    """A model name normalised for comparison and file names: lower-case, '/' and spaces -> '-'."""
    lowered = str(model).strip().lower().replace("/", "-").replace(" ", "-")
    cleaned = re.sub(r"[^a-z0-9._-]", "-", lowered)
    return re.sub(r"\.{2,}", ".", cleaned).strip(".-")


def _inside(agent_dir: Path, rel: Any) -> Path | None:
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel:
        return None
    if ".." in rel.split("/"):
        return None
    base = agent_dir.resolve()
    target = (base / rel).resolve()
    return target if base in target.parents else None


def _read_manifest(agent_dir: Path) -> dict[str, Any] | None:
    path = agent_dir / MANIFEST_NAME
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    entries = manifest.get("base_models")
    if not isinstance(entries, list):
        entries = [manifest.get("base_model")]
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("model"), str)]


def _pick(manifest: dict[str, Any], models: Iterable[str]) -> dict[str, Any] | None:
    wanted = [model_key(m) for m in models if m]
    for key in wanted:  # the first name asked for wins (the role token, then the resolved id)
        for entry in _entries(manifest):
            if model_key(entry["model"]) == key:
                return entry
    return None


def persona_files(agent_dir: Path, models: Iterable[str] = ()) -> PersonaFiles:
    """The persona files for an agent running on any of `models`; the shared ones otherwise."""
    agent_dir = Path(agent_dir)
    shared = PersonaFiles(agent_dir / "CLAUDE.md", agent_dir / "IDENTITY.md")
    manifest = _read_manifest(agent_dir)
    if manifest is None:
        return shared
    declared = manifest.get("shared", {}).get("persona") if isinstance(manifest.get("shared"), dict) else None
    if isinstance(declared, dict):
        shared = PersonaFiles(_inside(agent_dir, declared.get("claude_md")) or shared.claude_md,
                              _inside(agent_dir, declared.get("identity_md")) or shared.identity_md)
    entry = _pick(manifest, models)
    if entry is None:
        return shared
    persona = entry.get("persona")
    persona = persona if isinstance(persona, dict) else {}
    claude = _inside(agent_dir, persona.get("claude_md"))
    identity = _inside(agent_dir, persona.get("identity_md"))
    template = _inside(agent_dir, entry.get("prompt_template"))
    claude = claude if claude is not None and claude.is_file() else None
    identity = identity if identity is not None and identity.is_file() else None
    template = template if template is not None and template.is_file() else None
    if claude is None and identity is None and template is None:
        return shared
    return PersonaFiles(claude or shared.claude_md, identity or shared.identity_md, template,
                        variant=str(entry["model"]))


def variant_persona_files(agent_dir: Path) -> list[Path]:
    """Every model's own CLAUDE.md variant that exists (inside the agent dir), in manifest order.

    The learning loop edits the shared persona; it uses this to carry the same evolved
    sections into each variant, so an agent learns whichever model it runs on.
    """
    agent_dir = Path(agent_dir)
    manifest = _read_manifest(agent_dir)
    if manifest is None:
        return []
    shared = (agent_dir / "CLAUDE.md").resolve()
    found: list[Path] = []
    for entry in _entries(manifest):
        persona = entry.get("persona")
        path = _inside(agent_dir, persona.get("claude_md")) if isinstance(persona, dict) else None
        if path is not None and path.is_file() and path != shared and path not in found:
            found.append(path)
    return found

"""Export an agent's persona to other tools' formats (for now: a Claude Code subagent file).

A Claude Code subagent is one markdown file: YAML front matter (name, description, model)
and the system prompt as the body. Values are written as JSON strings, which are valid
YAML double-quoted scalars, so a description can never break out of the front matter.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from amatelier.atomicio import write_text_atomic
from amatelier.bundles import BundleError
from amatelier.bundles.author import agent_dir, config_role, read_manifest_file
from amatelier.bundles.names import role_token_for
from amatelier.persona_files import persona_files

FORMATS = ("claude-subagent",)
CLAUDE_MODELS = ("sonnet", "opus", "haiku")


def subagent_name(name: str) -> str:
    """Claude Code names are lower-case letters, digits and hyphens."""
    return re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-") or "agent"


def subagent_model(model: str | None) -> str:
    """A Claude Code model alias for the agent's model, or `inherit` for non-Claude models."""
    if not model:
        return "inherit"
    lowered = model.lower()
    if lowered in CLAUDE_MODELS or lowered.startswith("claude"):
        return role_token_for(lowered)
    return "inherit"


def render_subagent(name: str, description: str, model: str | None, persona: str, identity: str) -> str:
    """The subagent file's text: front matter, then persona and identity."""
    front = [
        "---",
        f"name: {json.dumps(subagent_name(name))}",
        f"description: {json.dumps(' '.join(description.split()), ensure_ascii=False)}",
        f"model: {subagent_model(model)}",
        "---",
        "",
    ]
    body = persona.strip()
    if identity.strip():
        body += "\n\n## Identity\n\n" + identity.strip()
    return "\n".join(front) + body + "\n"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def export_agent(name: str, config: dict[str, Any], *, fmt: str = "claude-subagent",
                 output: str | Path | None = None, model: str | None = None, force: bool = False) -> Path:
    """Write the agent in `fmt` to `output`: a file, or a directory (existing, or ending in /) for `<name>.md`."""
    if fmt not in FORMATS:
        raise BundleError(f"unknown export format {fmt!r} (formats: {', '.join(FORMATS)})")
    directory = agent_dir(name)
    manifest = read_manifest_file(directory) or {}
    _, specialty = config_role(config, name)
    description = str(manifest.get("description") or
                      f"{name}, an amatelier roundtable persona ({specialty}). Use for a second "
                      "opinion argued from this perspective.")
    if model is None:
        from amatelier.config import worker_model

        model = worker_model(config, name)
    files = persona_files(directory, [model])
    persona = _read(files.claude_md)
    if not persona.strip():
        raise BundleError(f"{name} has no persona text in {files.claude_md}")
    text = render_subagent(name, description, model, persona, _read(files.identity_md))
    target = Path(output) if output else Path(".claude") / "agents"
    if not output or target.is_dir() or str(output).endswith("/"):
        target = target / f"{subagent_name(name)}.md"
    if target.exists() and not force:
        raise BundleError(f"{target} already exists; pass --force to overwrite it")
    if target.exists() and not target.is_file():  # /dev/null, a pipe: renaming over it would destroy it
        raise BundleError(f"{target} is not a regular file; give a file or a directory")
    try:
        write_text_atomic(target, text)
    except OSError as exc:
        raise BundleError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target

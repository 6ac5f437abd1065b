"""Names that end up in paths and rosters: agent names, model names, versions.

An agent name becomes a directory under the workspace and a `--workers` entry, and a
model name becomes part of a package file name, so both are checked or normalised here
before they touch the file system.
"""

from __future__ import annotations

import re

from amatelier.bundles import BundleError
from amatelier.paths import AGENT_NAME_PATTERN
from amatelier.persona_files import model_key

AGENT_NAME = re.compile(AGENT_NAME_PATTERN)
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
ROLE_TOKENS = ("sonnet", "haiku", "opus", "flash")
# Names that are not agents: directories and files the workspace keeps beside them.
RESERVED_NAMES = frozenset({"registry", "trusted_keys", "backups", "shared-skills"})


def check_agent_name(name: str, *, what: str = "agent name") -> str:
    """The name itself when it is a valid agent name; a BundleError saying why otherwise."""
    if not isinstance(name, str) or not AGENT_NAME.match(name):
        raise BundleError(f"invalid {what} {name!r}: use 1-40 lower-case letters, digits, '-' or '_', "
                          "starting with a letter")
    if name in RESERVED_NAMES:
        raise BundleError(f"invalid {what} {name!r}: the name is reserved")
    return name


def check_version(version: str) -> str:
    """The version when it is semver (1.2.3, 1.2.3-rc.1, 1.2.3+build)."""
    if not isinstance(version, str) or not SEMVER.match(version):
        raise BundleError(f"invalid version {version!r}: use semantic versioning, e.g. 1.0.0")
    return version


def normalise_model(model: str) -> str:
    """A model name fit for a file name: lower-case, '/' and spaces become '-'.

    Anything else outside [a-z0-9._-] also becomes '-', so a hostile model id can never
    add a path separator or a '..' to a package name.
    """
    cleaned = model_key(model)
    if not cleaned:
        raise BundleError(f"model name {model!r} has nothing usable in a file name")
    return cleaned


def same_model(a: str, b: str) -> bool:
    """Whether two model names name the same model once normalised."""
    try:
        return normalise_model(a) == normalise_model(b)
    except BundleError:
        return False


def guess_provider(model: str) -> str:
    """Who serves a model, from its name (the author can edit the manifest afterwards)."""
    lowered = model.lower()
    if "/" in lowered:
        return "openrouter"
    if lowered in ("sonnet", "haiku", "opus") or lowered.startswith("claude"):
        return "anthropic"
    if lowered == "flash" or lowered.startswith("gemini"):
        return "google"
    if lowered.startswith(("gpt", "o1", "o3", "o4", "chatgpt")):
        return "openai"
    return "other"


def role_token_for(model: str) -> str:
    """The role token an installed agent runs on, for a package built for `model`.

    Role tokens resolve to a real model per backend (config llm.model_map), so an agent
    packed for gpt-4o still runs under the Claude CLI; its gpt-4o variant is chosen when
    the token resolves to gpt-4o.
    """
    lowered = model.lower()
    if lowered in ROLE_TOKENS and lowered != "flash":
        return lowered
    if "opus" in lowered:
        return "opus"
    if "haiku" in lowered or re.search(r"(?:^|[-_./])mini(?:$|[-_./])", lowered):
        return "haiku"
    return "sonnet"

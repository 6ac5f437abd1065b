"""The installed-agents registry and the set of trusted signing keys.

`<user data>/agents/registry.json` records every installed agent (name, version, model,
source, sha256, key, installed_at); it is written atomically under its lock, and
config loading reads it so an installed agent joins the roster at once. Trusted keys
are PEM files in `<user data>/trusted_keys/`, one per key, named by fingerprint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import locked_json, read_json, write_bytes_atomic
from amatelier.bundles import BundleError
from amatelier.bundles.signing import fingerprint, load_public_key_b64, public_pem

REGISTRY_VERSION = 1


def _empty() -> dict[str, Any]:
    return {"schema_version": REGISTRY_VERSION, "agents": {}}


def load_registry() -> dict[str, Any]:
    """The registry ({"schema_version", "agents": {name: entry}}); empty when none exists yet."""
    path = paths.user_agent_registry()
    try:
        data = read_json(path, _empty())
    except (ValueError, OSError) as exc:
        raise BundleError(f"the agent registry {path} is unreadable ({exc}); fix or remove it") from None
    if not isinstance(data, dict) or not isinstance(data.get("agents"), dict):
        raise BundleError(f"the agent registry {path} is not a registry object; fix or remove it")
    return data


def installed_agents() -> dict[str, dict[str, Any]]:
    return dict(load_registry()["agents"])


def get_entry(name: str) -> dict[str, Any] | None:
    return installed_agents().get(name)


def record(entry: dict[str, Any]) -> None:
    """Add or replace one agent's entry, atomically and under the registry's lock."""
    load_registry()  # refuse to overwrite a corrupt registry with a fresh one
    with locked_json(paths.user_agent_registry(), _empty()) as data:
        data.setdefault("schema_version", REGISTRY_VERSION)
        data.setdefault("agents", {})[entry["name"]] = entry


def remove(name: str) -> dict[str, Any] | None:
    """Drop an agent's entry; returns it (None when it was not there)."""
    load_registry()
    with locked_json(paths.user_agent_registry(), _empty()) as data:
        return data.setdefault("agents", {}).pop(name, None)


# --------------------------------------------------------------------------- trusted keys


def trusted_keys() -> dict[str, str]:
    """{fingerprint: public key (base64)} for every readable key in the trusted set."""
    directory = paths.user_trusted_keys_dir()
    found: dict[str, str] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.pub")):
        try:
            key = load_public_key_b64(path)
        except BundleError:
            continue  # an unreadable file trusts nobody
        found[fingerprint(key)] = key
    return found


def is_trusted(public_key_b64: str) -> bool:
    return public_key_b64 in trusted_keys().values()


def trust(public_key_b64: str) -> Path:
    """Add a key to the trusted set (idempotent); returns the file that holds it."""
    name = fingerprint(public_key_b64).split(":", 1)[1] + ".pub"
    target = paths.user_trusted_keys_dir() / name
    if not target.exists():
        write_bytes_atomic(target, public_pem(public_key_b64))
    return target


def describe_entry(entry: dict[str, Any]) -> str:
    """One line about an installed agent's signature, for lists and messages."""
    if not entry.get("signed"):
        return "unsigned"
    state = "trusted" if entry.get("key") and is_trusted(entry["key"]) else "untrusted key"
    return f"signed by {entry.get('key_fingerprint', '?')} ({state})"


"""Configuration: the bundled config.json deep-merged with the user's override.

A user override is checked against the bundled defaults' shape so that a typo fails
with one line naming the file and key instead of a traceback deep in a roundtable.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from amatelier import paths

MODES = ("auto", "claude-code", "anthropic-sdk", "openai-compat", "offline")


class ConfigError(ValueError):
    """A config file is malformed or holds a value of the wrong type."""

    def __init__(self, file: Path | str, key: str, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        where = f" at key '{key}'" if key else ""
        super().__init__(f"config error in {self.file}{where}: {problem}")


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return base with override applied recursively; neither input is modified."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null"


def _check_shape(default: Any, value: Any, key: str, file: Path) -> None:
    """The override must keep the bundled value's type; null defaults accept string or null."""
    if default is None:
        if value is not None and not isinstance(value, str):
            raise ConfigError(file, key, f"expected string or null, got {_type_name(value)}")
        return
    want, got = _type_name(default), _type_name(value)
    if want != got:
        raise ConfigError(file, key, f"expected {want}, got {got}")
    if isinstance(default, dict):
        # Open-ended maps (workers, model maps, fees) may add keys; known keys keep their type.
        for sub_key, sub_value in value.items():
            if sub_key in default:
                _check_shape(default[sub_key], sub_value, f"{key}.{sub_key}", file)


def validate(config: dict[str, Any], file: Path | str = "config") -> None:
    """Semantic checks that the shape check cannot express."""
    mode = config.get("llm", {}).get("mode", "auto")
    if mode not in MODES:
        raise ConfigError(file, "llm.mode", f"unknown mode '{mode}' (choose one of {', '.join(MODES)})")
    human = config.get("roundtable", {}).get("human_messages", "allow")
    if human not in ("allow", "deny"):
        raise ConfigError(file, "roundtable.human_messages", f"expected 'allow' or 'deny', got {human!r}")
    workers = config.get("team", {}).get("workers", {})
    for name, spec in workers.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("model"), str):
            raise ConfigError(file, f"team.workers.{name}.model", "expected a model role string")


def _load_json_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", exc.strerror or str(exc)) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(path, "", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ConfigError(path, "", "top level must be a JSON object")
    return data


def load_bundled_config() -> dict[str, Any]:
    return _load_json_file(paths.bundled_config())


def load_config() -> dict[str, Any]:
    """Bundled defaults deep-merged with the user override, validated, plus installed agents."""
    config = load_bundled_config()
    override_path = paths.user_config_override()
    if override_path.is_file():
        override = _load_json_file(override_path)
        for key, value in override.items():
            if key in config:
                _check_shape(config[key], value, key, override_path)
        config = deep_merge(config, override)
        validate(config, override_path)
    else:
        validate(config, paths.bundled_config())
    return add_installed_workers(config)


def add_installed_workers(config: dict[str, Any]) -> dict[str, Any]:
    """Installed worker agents (agents/registry.json) join team.workers, so --workers knows them.

    Settings the config gives an agent win (a store tier unlock records a new model there);
    the registry fills in the rest. The registry is written by `amatelier agent install`;
    an unreadable one adds nobody rather than stopping a run.
    """
    try:
        data = json.loads(paths.user_agent_registry().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return config
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, dict):
        return config
    workers = config.setdefault("team", {}).setdefault("workers", {})
    for name, entry in agents.items():
        if (not isinstance(entry, dict) or entry.get("role", "worker") != "worker"
                or not re.match(paths.AGENT_NAME_PATTERN, str(name))
                or not paths.user_agent_dir(name).is_dir()):
            continue
        spec = {"model": str(entry.get("run_model") or "sonnet"), "backend": "default",
                "role": str(entry.get("specialty") or "installed agent"), "installed": True}
        configured = workers.get(name)
        workers[name] = {**spec, **configured} if isinstance(configured, dict) else spec
    return config


def source_of(key: str) -> Path:
    """The config file a dotted key's value comes from: the user override if it sets it, else bundled.

    For error messages about a value that is well-typed but unusable (out of range), so
    they name the file the user has to edit.
    """
    override = paths.user_config_override()
    try:
        node: Any = json.loads(override.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return paths.bundled_config()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return paths.bundled_config()
        node = node[part]
    return override


def worker_model(config: dict[str, Any], agent: str) -> str:
    """The model role (sonnet/haiku/opus/flash) configured for an agent."""
    team = config.get("team", {})
    workers = team.get("workers", {})
    if agent in workers:
        return workers[agent].get("model", "sonnet")
    for role in ("judge", "therapist", "admin"):
        entry = team.get(role, {})
        if entry.get("name") == agent:
            return entry.get("model", "sonnet")
    return "sonnet"


def worker_backend(config: dict[str, Any], agent: str) -> str:
    """'gemini' for agents pinned to Gemini, else 'default' (the resolved mode)."""
    return config.get("team", {}).get("workers", {}).get(agent, {}).get("backend", "default")

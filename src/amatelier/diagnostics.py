"""What `amatelier config` reports: the active backend, every mode, keys, paths.

The report is plain data (JSON-ready) so `config --json` and the human view show the same
facts. It never contains a secret: for key variables only whether they are set, and URLs
lose any user:password part.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from amatelier import __version__, paths

#: environment variables reported as set / not set (never their values)
ENV_VARS = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
    "GEMINI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_BASE_URL",
    "GOOGLE_GEMINI_BASE_URL",
    "AMATELIER_MODE",
    "AMATELIER_WORKSPACE",
    "AMATELIER_CLAUDE_BIN",
)

PATH_FUNCTIONS = (
    "bundled_assets_dir",
    "bundled_docs_dir",
    "bundled_agents_dir",
    "bundled_config",
    "bundled_store_catalog",
    "bundled_migrations_dir",
    "user_data_dir",
    "user_config_override",
    "user_agents_dir",
    "user_server_dir",
    "user_db_path",
    "user_logs_dir",
    "user_digest_dir",
    "user_briefing_dir",
    "user_store_dir",
    "user_store_ledger",
    "user_novel_concepts",
    "user_shared_skills_dir",
    "user_shared_skills_index",
    "user_benchmarks_dir",
    "user_batches_dir",
    "user_snapshots_dir",
    "user_agent_registry",
    "user_trusted_keys_dir",
    "user_signing_keys_dir",
    "user_agent_backups_dir",
)


def safe_url(url: str | None) -> str | None:
    """A URL without credentials or query string (either could carry a secret)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def env_report(config: dict[str, Any]) -> dict[str, bool]:
    """Which relevant environment variables are set, including configured key variables."""
    names = list(ENV_VARS)
    for section in ("openai_compat", "gemini"):
        extra = (config.get("llm", {}).get(section) or {}).get("api_key_env")
        if extra and extra not in names:
            names.append(str(extra))
    return {name: bool(os.environ.get(name, "").strip()) for name in names}


def paths_report() -> dict[str, str]:
    return {name: str(getattr(paths, name)()) for name in PATH_FUNCTIONS}


def workspace_report(bootstrap: bool) -> dict[str, Any]:
    """Whether the user-data tree exists; with `bootstrap`, try to create it (never raises)."""
    root = paths.user_data_dir()
    error = None
    if bootstrap:
        try:
            paths.ensure_user_data()
        except paths.WorkspaceNotWritable as exc:
            error = str(exc)
    return {
        "root": str(root),
        "override_env": paths.WORKSPACE_ENV if os.environ.get(paths.WORKSPACE_ENV, "").strip() else None,
        "bootstrapped": (root / paths.BOOTSTRAP_SENTINEL).is_file(),
        "error": error,
    }


def llm_report(config: dict[str, Any]) -> dict[str, Any]:
    from amatelier import llm_backend
    from amatelier.backends.base import BackendUnavailable
    from amatelier.backends.gemini import GeminiBackend, gemini_base_url, gemini_key_env
    from amatelier.backends.openai_compat import OpenAICompatBackend

    llm = config.get("llm", {})
    active: str | None
    error: str | None = None
    try:
        active = llm_backend.resolve_mode(config)
        llm_backend.make_backend(active, config)
    except BackendUnavailable as exc:
        active, error = None, str(exc)

    modes: dict[str, Any] = {}
    model_maps: dict[str, dict[str, str]] = {}
    for mode, cls in llm_backend.BACKENDS.items():
        available, how = cls.detect(config)
        backend = cls(config)
        tokens = ("flash", "sonnet", "haiku", "opus") if mode == "gemini" else llm_backend.ROLE_TOKENS
        model_maps[mode] = {token: backend.resolve_model(token) for token in tokens}
        modes[mode] = {
            "available": available,
            "detected_via": how,
            "auto_detected": mode in llm_backend.AUTO_ORDER,
            "model_map": model_maps[mode],
        }

    compat = OpenAICompatBackend(config)
    compat_section = llm.get("openai_compat") or {}
    gemini = GeminiBackend(config)
    gemini_url, gemini_url_source = gemini_base_url(config)
    return {
        "active_mode": active,
        "active_mode_error": error,
        "explicit_override": llm_backend.explicit_override(),
        "configured_mode": llm.get("mode", "auto"),
        "auto_order": list(llm_backend.AUTO_ORDER),
        "modes": modes,
        "model_map": model_maps,
        "openai_compat": {
            "base_url": safe_url(compat.base_url),
            "base_url_source": compat.base_url_source,
            "configured_base_url": safe_url(compat_section.get("base_url")),
            "api_key_env": compat.key_env,
            "configured_api_key_env": compat_section.get("api_key_env"),
            "routed_to_openrouter": compat.routed_to_openrouter,
            "model_map": compat.model_map(),
        },
        "gemini": {
            "model": gemini.resolve_model("flash"),
            "api_key_env": gemini_key_env(config),
            "base_url": safe_url(gemini_url),
            "base_url_source": gemini_url_source,
        },
        "max_tokens": llm.get("max_tokens"),
        "timeout_s": llm.get("timeout_s"),
        "retry": dict(llm.get("retry") or {}),
    }


def config_report(bootstrap: bool = True) -> dict[str, Any]:
    """Everything `amatelier config` shows. Raises ConfigError for a broken config file."""
    from amatelier.config import load_config

    config = load_config()
    override = paths.user_config_override()
    return {
        "version": __version__,
        "llm": llm_report(config),
        "env": env_report(config),
        "config": {
            "bundled": str(paths.bundled_config()),
            "user_override": str(override),
            "user_override_exists": override.is_file(),
        },
        "workspace": workspace_report(bootstrap),
        "paths": paths_report(),
    }

"""Gemini backend (google-genai) for Naomi, the cross-model blind-spot catcher.

Every role token (flash, sonnet, haiku, opus) maps to `llm.gemini.model`; a literal
Gemini model id passes through. The key comes from `llm.gemini.api_key_env`
(GEMINI_API_KEY); the base URL from `llm.gemini.base_url`, else GOOGLE_GEMINI_BASE_URL
(read by the SDK). google-genai does not retry on its own, so `backends.retry` does.
Failures are also appended to <user logs>/gemini_errors.log, best effort.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from amatelier.backends.base import ROLE_TOKENS, Completion, env_set
from amatelier.backends.retry import Failure, one_line, redact
from amatelier.backends.sdk_base import SDKBackend, raw_dump
from amatelier.backends.sdk_errors import translate_genai

DEFAULT_KEY_ENV = "GEMINI_API_KEY"
DEFAULT_MODEL = "gemini-3-flash-preview"
GEMINI_ROLE_TOKENS = (*ROLE_TOKENS, "flash")


def _section(config: dict[str, Any] | None) -> dict[str, Any]:
    return ((config or {}).get("llm") or {}).get("gemini") or {}


def gemini_key_env(config: dict[str, Any] | None) -> str:
    """Name of the variable holding the Gemini key (`llm.gemini.api_key_env`)."""
    return str(_section(config).get("api_key_env") or DEFAULT_KEY_ENV)


def gemini_base_url(config: dict[str, Any] | None) -> tuple[str | None, str]:
    """(base URL or None for Google's default, where it came from)."""
    configured = _section(config).get("base_url")
    if configured:
        return str(configured), "config llm.gemini.base_url"
    env_url = os.environ.get("GOOGLE_GEMINI_BASE_URL", "").strip()
    if env_url:
        return env_url, "GOOGLE_GEMINI_BASE_URL"
    return None, "Google default"


def log_gemini_error(line: str, secrets: tuple[str, ...] = ()) -> None:
    """Append one line to gemini_errors.log; never raises (the log is a convenience)."""
    try:
        from amatelier import paths

        log_dir = paths.user_logs_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with open(log_dir / "gemini_errors.log", "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {one_line(redact(line, secrets), 1000)}\n")
    except Exception:  # noqa: S110 - best effort by design
        pass


class GeminiBackend(SDKBackend):
    name = "gemini"

    def __init__(self, config: dict[str, Any] | None = None, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(config, sleep=sleep)
        self.key_env = gemini_key_env(self.config)
        self.base_url, self.base_url_source = gemini_base_url(self.config)

    @classmethod
    def detect(cls, config: dict[str, Any] | None = None) -> tuple[bool, str]:
        env = gemini_key_env(config)
        if env_set(env):
            return True, f"{env} is set"
        return False, f"{env} is not set (Naomi needs it; or pass --skip-naomi)"

    def model_map(self) -> dict[str, str]:
        """Every role token (flash, sonnet, haiku, opus) maps to `llm.gemini.model`."""
        model = str(_section(self.config).get("model") or DEFAULT_MODEL)
        return dict.fromkeys(GEMINI_ROLE_TOKENS, model)

    def _build_client(self, api_key: str) -> Any:
        """A `google.genai.Client`; SDKBackend keeps it alive (a dropped Client closes its transport)."""
        from google import genai  # lazy: ~0.7 s of imports
        from google.genai import types

        options = types.HttpOptions(base_url=self.base_url) if self.base_url else None
        return genai.Client(api_key=api_key, http_options=options)

    def complete(self, system: str, prompt: str, model: str = "flash", max_tokens: int = 1024,
                 timeout: float = 120.0, *, task: str | None = None,
                 agent: str | None = None) -> Completion:
        model_id = self.resolve_model(model)
        client = self.client()
        from google.genai import types

        config = types.GenerateContentConfig(
            system_instruction=system or None,
            max_output_tokens=int(max_tokens),
            http_options=types.HttpOptions(timeout=max(1, int(timeout * 1000))),
        )

        def log_failure(failure: Failure, attempt: int) -> None:
            status = f" HTTP {failure.status}" if failure.status else ""
            log_gemini_error(f"agent={agent or '-'} model={model_id} attempt={attempt}{status} "
                             f"{failure.kind}: {failure.detail}", self._secrets())

        response, latency_ms = self._call(
            lambda: client.models.generate_content(model=model_id, contents=prompt, config=config),
            translate_genai, model_id, on_failure=log_failure)
        return completion_from_genai(response, backend=self.name, model=model_id,
                                     latency_ms=latency_ms)


def _text_of(response: Any) -> str:
    """Concatenate text parts of the first candidate (avoids the SDK's warnings on non-text parts)."""
    candidates = getattr(response, "candidates", None) or []
    if not candidates:
        return ""
    content = getattr(candidates[0], "content", None)
    parts = getattr(content, "parts", None) or []
    return "".join(getattr(part, "text", None) or "" for part in parts
                   if not getattr(part, "thought", False))


def completion_from_genai(response: Any, *, backend: str, model: str, latency_ms: float) -> Completion:
    """Build a Completion from a GenerateContentResponse (thought tokens count as output)."""
    usage = getattr(response, "usage_metadata", None)

    def count(name: str) -> int:
        value = getattr(usage, name, None) if usage is not None else None
        return int(value) if isinstance(value, int) else 0

    candidates = getattr(response, "candidates", None) or []
    finish = getattr(candidates[0], "finish_reason", None) if candidates else None
    finish_name = getattr(finish, "value", None) or (str(finish) if finish else None)
    return Completion(
        text=_text_of(response),
        backend=backend,
        model=getattr(response, "model_version", None) or model,
        input_tokens=count("prompt_token_count"),  # already includes cached content tokens
        output_tokens=count("candidates_token_count") + count("thoughts_token_count"),
        cache_read_tokens=count("cached_content_token_count"),
        cache_write_tokens=0,
        latency_ms=latency_ms,
        stop_reason=finish_name,
        raw=raw_dump(response, exclude_none=True),
    )

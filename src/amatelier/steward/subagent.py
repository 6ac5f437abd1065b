"""The Steward's model path, for requests the deterministic grammar does not cover.

One entry point, `spawn_steward_subagent`, picks the path for the roundtable's mode:

* claude-code   -> `claude -p` in a mirror of the registered files (steward.claude_cli)
* anthropic-sdk -> Messages API tool-use loop with local scoped tools (steward.toolloop)
* openai-compat -> Chat Completions tool-calls loop with the same tools
* offline       -> the Steward runs the tools itself and the offline backend (task
                   "steward") answers from their results
"""

from __future__ import annotations

import re
import time
from typing import Any

from amatelier.backends.base import LLMBackend
from amatelier.steward import prompts
from amatelier.steward.registry import Registry
from amatelier.steward.result import StewardResult
from amatelier.steward.scope import registered_paths
from amatelier.steward.tools import ToolBox

COMPLEX_WORDS = ("compare", "contrast", "summar", "analy", "explain", "why", "across", "trade")
STOPWORDS = frozenset(["about", "above", "after", "again", "against", "also", "among", "because", "been", "before", "being", "between", "both", "could", "does", "doing", "down", "during", "each", "from", "further", "have", "having", "here", "into", "itself", "just", "more", "most", "other", "over", "same", "should", "some", "such", "than", "that", "their", "them", "then", "there", "these", "they", "this", "those", "through", "under", "until", "very", "what", "when", "where", "which", "while", "will", "with", "would", "your", "file", "files", "line", "lines", "registered", "steward", "request", "please", "value", "values"])


def pick_model_token(request: str, steward_cfg: dict[str, Any]) -> str:
    """haiku_model for plain lookups, sonnet_model for comparative or long questions."""
    lowered = request.lower()
    complex_ask = len(request) > 160 or any(word in lowered for word in COMPLEX_WORDS)
    key = "sonnet_model" if complex_ask else "haiku_model"
    return str(steward_cfg.get(key) or ("sonnet" if complex_ask else "haiku"))


def spawn_steward_subagent(request: str, registry: Registry, *, mode: str,
                           config: dict[str, Any], backend: LLMBackend | None = None,
                           timeout_s: float | None = None) -> StewardResult:
    """Spawn an ephemeral model with scoped file tools to execute a lookup."""
    cfg = config.get("steward", {})
    timeout = float(timeout_s if timeout_s is not None else cfg.get("timeout_s", 120))
    max_bytes = int(cfg.get("max_file_bytes", 1_000_000))
    token = pick_model_token(request, cfg)
    max_turns = int(cfg.get("max_tool_turns", 8))
    max_tokens = int(cfg.get("max_tokens", 1024))
    if mode == "claude-code":
        from amatelier.steward.claude_cli import run_claude_steward

        model = _model_id(backend, token, mode, config)
        return run_claude_steward(request, registry, model=model,
                                  max_budget_usd=float(cfg.get("max_budget_usd", 0.5)),
                                  timeout_s=timeout, max_bytes=max_bytes)
    if mode == "offline":
        return offline_steward(request, registry, backend=backend, model=token,
                               max_bytes=max_bytes, timeout_s=timeout)
    if mode in ("anthropic-sdk", "openai-compat"):
        from amatelier.steward import toolloop

        try:
            backend = backend or _make_backend(mode, config)
            client = backend.client()  # type: ignore[attr-defined]
        except Exception as exc:
            return StewardResult("error", method=f"subagent:{mode}",
                                 output=f"no {mode} client for the Steward: {exc}")
        model = backend.resolve_model(token)
        common = dict(model=model, request=request, registry=registry, max_bytes=max_bytes,
                      max_turns=max_turns, max_tokens=max_tokens, timeout_s=timeout,
                      backend_name=mode, caller=_retrying(backend, model))
        if mode == "anthropic-sdk":
            return toolloop.anthropic_loop(client, **common)  # type: ignore[arg-type]
        limit = "max_completion_tokens" if getattr(backend, "is_openai_proper", False) else "max_tokens"
        return toolloop.openai_loop(client, limit_param=limit, **common)  # type: ignore[arg-type]
    return StewardResult("error", method=f"subagent:{mode}",
                         output=f"the Steward has no model path for mode {mode!r}")


def _retrying(backend: LLMBackend, model: str) -> Any:
    """Each SDK call with the backend's own retry policy (429, 5xx, overload), when it has one."""
    policy = getattr(backend, "retry_policy", None)
    if policy is None:
        return lambda call: call()
    from amatelier.backends.retry import call_with_retry
    from amatelier.backends.sdk_errors import translate_stainless

    return lambda call: call_with_retry(call, translate_stainless, policy, backend=backend.name,
                                        model=model)


def _make_backend(mode: str, config: dict[str, Any]) -> LLMBackend:
    from amatelier.llm_backend import make_backend

    return make_backend(mode, config)


def _model_id(backend: LLMBackend | None, token: str, mode: str, config: dict[str, Any]) -> str:
    if backend is not None:
        return backend.resolve_model(token)
    mapping = config.get("llm", {}).get("model_map", {}).get(mode, {})
    return str(mapping.get(token, token))


def keywords(request: str, limit: int = 3) -> list[str]:
    """The distinctive words of a request (for the offline path's greps)."""
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_\-]{3,}", request)
    picked: list[str] = []
    for word in words:
        lowered = word.lower()
        if lowered in STOPWORDS or lowered in (w.lower() for w in picked):
            continue
        picked.append(word)
        if len(picked) >= limit:
            break
    return picked


def gather_tool_results(request: str, registry: Registry, toolbox: ToolBox,
                        max_bytes: int | None) -> tuple[list[str], list[tuple[str, str]]]:
    """Run the tools a careful reader would (list, read mentioned files, grep keywords)."""
    allowed, _ = registered_paths(registry, max_bytes=max_bytes)
    shown = [registry.display(p) for p in allowed]
    sections: list[tuple[str, str]] = []
    lowered = request.lower()
    for name in shown:
        base = name.rsplit("/", 1)[-1].lower()
        if name.lower() in lowered or base in lowered:
            text, _ = toolbox.run("read_file", {"path": name, "start_line": 1, "end_line": 80})
            sections.append((f"read_file {name}", text))
    for word in keywords(request):
        if any(word.lower() in n.lower() for n in shown):
            continue
        text, _ = toolbox.run("grep", {"pattern": word})
        sections.append((f'grep "{word}"', text))
    return shown, sections


def offline_prompt(request: str, shown: list[str], sections: list[tuple[str, str]]) -> str:
    """The offline Steward's prompt: the request, the files, and the tool results to quote."""
    body = "\n\n".join(f"### {title}\n{text}" for title, text in sections) or "(no tool results)"
    return (prompts.user_prompt(request, prompts.registered_listing(shown))
            + f"\nTOOL RESULTS:\n{body}\n")


def offline_steward(request: str, registry: Registry, *, backend: LLMBackend | None,
                    model: str, max_bytes: int | None, timeout_s: float) -> StewardResult:
    """Offline mode: run the scoped tools here, let the offline backend compose the answer."""
    started = time.perf_counter()
    toolbox = ToolBox(registry, max_bytes=max_bytes)
    shown, sections = gather_tool_results(request, registry, toolbox, max_bytes)
    if backend is None:
        from amatelier.backends.offline import OfflineBackend

        backend = OfflineBackend({})
    completion = backend.complete(system=prompts.SYSTEM,
                                  prompt=offline_prompt(request, shown, sections), model=model,
                                  timeout=timeout_s, task="steward", agent="steward")
    status = "ok" if toolbox.found_something() else "not_found"
    return StewardResult(status, output=completion.text, path=", ".join(toolbox.paths_read),
                         bytes=toolbox.bytes_read, elapsed_s=time.perf_counter() - started,
                         method="subagent:offline", usage=[completion])

"""Record every model call so cost and latency can be reported per roundtable.

With `llm.hedge` enabled, a call slower than its model's usual pN latency is hedged (see
amatelier.chat.hedge): one duplicate request, the first answer wins, both are recorded.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from amatelier.backends.base import Completion, LLMBackend, LLMCallError


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def record_completion(conn: sqlite3.Connection, completion: Completion, *, rt_id: str | None,
                      agent: str | None, role: str | None) -> int:
    """Insert one successful call; returns its llm_calls id."""
    cur = conn.execute(
        "INSERT INTO llm_calls (rt_id, agent, role, backend, model, input_tokens, output_tokens,"
        " cache_read_tokens, cache_write_tokens, latency_ms, cost_usd, status, error, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', NULL, ?)",
        (rt_id, agent, role, completion.backend, completion.model, completion.input_tokens,
         completion.output_tokens, completion.cache_read_tokens, completion.cache_write_tokens,
         completion.latency_ms, completion.cost_usd, _now()),
    )
    return int(cur.lastrowid or 0)


def record_failure(conn: sqlite3.Connection, *, rt_id: str | None, agent: str | None,
                   role: str | None, backend: str, model: str, error: str,
                   latency_ms: float = 0.0) -> int:
    """Insert one failed call; returns its llm_calls id."""
    cur = conn.execute(
        "INSERT INTO llm_calls (rt_id, agent, role, backend, model, latency_ms, status, error, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, 'error', ?, ?)",
        (rt_id, agent, role, backend, model, latency_ms, error[:2000], _now()),
    )
    return int(cur.lastrowid or 0)


def _hedge_plan(conn: sqlite3.Connection, backend: LLMBackend, model: str) -> tuple[float, LLMBackend | None] | None:
    """(threshold ms, duplicate's backend or None for the same) when this call should be hedged."""
    from amatelier.chat import hedge

    config = getattr(backend, "config", None) or {}  # a stand-in backend may carry no config
    settings = hedge.hedge_settings(config)
    if not settings.enabled:
        return None
    try:
        threshold = hedge.latency_threshold(conn, backend.name, backend.resolve_model(model), settings)
    except sqlite3.Error:
        return None
    if threshold is None:
        return None
    other: LLMBackend | None = None
    if settings.backend and settings.backend != backend.name:
        try:
            from amatelier.llm_backend import make_backend

            other = make_backend(settings.backend, config)
        except Exception:  # noqa: BLE001 - an unusable fallback hedges on the same backend
            other = None
    return threshold, other


def call_and_record(conn: sqlite3.Connection, backend: LLMBackend, *, rt_id: str | None,
                    agent: str | None, role: str, **kwargs: Any) -> Completion:
    """backend.complete(..., task=role, agent=agent) with the outcome logged in llm_calls.

    Failures are recorded and re-raised as LLMCallError so callers handle one error type.
    """
    kwargs.setdefault("task", role)
    kwargs.setdefault("agent", agent)
    model = str(kwargs.get("model", ""))

    def record_ok(completion: Completion) -> int:
        return record_completion(conn, completion, rt_id=rt_id, agent=agent, role=role)

    def record_error(which: LLMBackend, exc: BaseException, elapsed_ms: float) -> int:
        return record_failure(conn, rt_id=rt_id, agent=agent, role=role, backend=which.name, model=model,
                              error=str(exc), latency_ms=elapsed_ms)

    plan = _hedge_plan(conn, backend, model) if model else None
    started = time.perf_counter()
    try:
        if plan is not None:
            from amatelier.chat.hedge import hedged_complete

            return hedged_complete(conn, backend, kwargs, threshold_ms=plan[0], hedge_backend=plan[1],
                                   rt_id=rt_id, agent=agent, role=role, record_ok=record_ok,
                                   record_error=record_error, now=_now)
        completion = backend.complete(**kwargs)
    except Exception as exc:
        if plan is None:
            record_error(backend, exc, (time.perf_counter() - started) * 1000.0)
        if isinstance(exc, LLMCallError):
            raise
        raise LLMCallError(str(exc), backend=backend.name, model=model) from exc
    record_ok(completion)
    return completion

"""Record every model call so cost and latency can be reported per roundtable."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from amatelier.backends.base import Completion, LLMBackend, LLMCallError


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def record_completion(conn: sqlite3.Connection, completion: Completion, *, rt_id: str | None,
                      agent: str | None, role: str | None) -> None:
    conn.execute(
        "INSERT INTO llm_calls (rt_id, agent, role, backend, model, input_tokens, output_tokens,"
        " cache_read_tokens, cache_write_tokens, latency_ms, cost_usd, status, error, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', NULL, ?)",
        (rt_id, agent, role, completion.backend, completion.model, completion.input_tokens,
         completion.output_tokens, completion.cache_read_tokens, completion.cache_write_tokens,
         completion.latency_ms, completion.cost_usd, _now()),
    )


def record_failure(conn: sqlite3.Connection, *, rt_id: str | None, agent: str | None,
                   role: str | None, backend: str, model: str, error: str,
                   latency_ms: float = 0.0) -> None:
    conn.execute(
        "INSERT INTO llm_calls (rt_id, agent, role, backend, model, latency_ms, status, error, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, 'error', ?, ?)",
        (rt_id, agent, role, backend, model, latency_ms, error[:2000], _now()),
    )


def call_and_record(conn: sqlite3.Connection, backend: LLMBackend, *, rt_id: str | None,
                    agent: str | None, role: str, **kwargs: Any) -> Completion:
    """backend.complete(..., task=role, agent=agent) with the outcome logged in llm_calls.

    Failures are recorded and re-raised as LLMCallError so callers handle one error type.
    """
    started = time.perf_counter()
    kwargs.setdefault("task", role)
    kwargs.setdefault("agent", agent)
    try:
        completion = backend.complete(**kwargs)
    except Exception as exc:
        elapsed = (time.perf_counter() - started) * 1000.0
        model = str(kwargs.get("model", ""))
        record_failure(conn, rt_id=rt_id, agent=agent, role=role, backend=backend.name,
                       model=model, error=str(exc), latency_ms=elapsed)
        if isinstance(exc, LLMCallError):
            raise
        raise LLMCallError(str(exc), backend=backend.name, model=model) from exc
    record_completion(conn, completion, rt_id=rt_id, agent=agent, role=role)
    return completion

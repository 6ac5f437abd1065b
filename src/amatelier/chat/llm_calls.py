"""Record every model call so cost and latency can be reported per roundtable.

Each row carries the tokens with one meaning on every backend (`input_tokens` = all input,
cached included; `uncached_input_tokens` beside it), the prompt's size in characters and
`cost_usd`: the provider's own figure when it gives one (claude-code), else the price table's
(amatelier.pricing). A call for a roundtable with ceilings is first checked against them
(chat.spend.hold), so a call that could pass a limit is never made.

With `llm.hedge` enabled, a call slower than its model's usual pN latency is hedged (see
amatelier.chat.hedge): one duplicate request, the first answer wins, both are recorded (and
a ceiling holds the worst case of both).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from amatelier import pricing
from amatelier.backends.base import Completion, LLMBackend, LLMCallError
from amatelier.chat import spend
from amatelier.chat.ceilings import Estimate


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _config(config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if config:
        return config
    try:
        from amatelier.config import load_config

        return load_config()
    except Exception:  # a broken override must not lose the record of a call already made
        return {}


def price_completion(completion: Completion, config: Mapping[str, Any] | None = None) -> float | None:
    """The call's cost: the provider's figure if given, else the price table's (warns once if unknown)."""
    if completion.cost_usd is not None:
        return completion.cost_usd
    try:
        table = pricing.price_table(_config(config))
    except pricing.PriceTableError as exc:
        pricing.warn_once(f"table:{exc}", f"prices not applied: {exc}")
        return None
    usage = pricing.Usage(completion.input_tokens, completion.output_tokens,
                          completion.cache_read_tokens, completion.cache_write_tokens)
    cost = pricing.price_call(table, backend=completion.backend, model=completion.model, usage=usage)
    if cost is None:
        pricing.warn_unpriced(completion.model, completion.backend)
    return cost


def record_completion(conn: sqlite3.Connection, completion: Completion, *, rt_id: str | None,
                      agent: str | None, role: str | None, prompt_chars: int | None = None,
                      config: Mapping[str, Any] | None = None) -> int:
    """Insert one successful call (pricing it when the backend did not); returns its llm_calls id."""
    completion.cost_usd = price_completion(completion, config)
    cur = conn.execute(
        "INSERT INTO llm_calls (rt_id, agent, role, backend, model, input_tokens, output_tokens,"
        " cache_read_tokens, cache_write_tokens, uncached_input_tokens, prompt_chars, latency_ms,"
        " cost_usd, status, error, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', NULL, ?)",
        (rt_id, agent, role, completion.backend, completion.model, completion.input_tokens,
         completion.output_tokens, completion.cache_read_tokens, completion.cache_write_tokens,
         completion.uncached_input_tokens, prompt_chars, completion.latency_ms, completion.cost_usd,
         _now()),
    )
    return int(cur.lastrowid or 0)


def record_failure(conn: sqlite3.Connection, *, rt_id: str | None, agent: str | None,
                   role: str | None, backend: str, model: str, error: str,
                   latency_ms: float = 0.0, prompt_chars: int | None = None) -> int:
    """Insert one failed call; returns its llm_calls id."""
    cur = conn.execute(
        "INSERT INTO llm_calls (rt_id, agent, role, backend, model, latency_ms, prompt_chars, status,"
        " error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'error', ?, ?)",
        (rt_id, agent, role, backend, model, latency_ms, prompt_chars, error[:2000], _now()),
    )
    return int(cur.lastrowid or 0)


def estimate_call(backend: LLMBackend, *, system: str, prompt: str, model: str, max_tokens: int,
                  config: Mapping[str, Any] | None = None) -> Estimate:
    """The worst case of a call before it is made: its prompt's token bound plus max_tokens."""
    tokens_in = pricing.prompt_token_bound(system, prompt)
    tokens = tokens_in + int(max_tokens)
    try:  # a stand-in backend (tests, plugins) may carry no config or model map
        table = pricing.price_table(_config(config or getattr(backend, "config", None)))
    except pricing.PriceTableError:
        return Estimate(cost_usd=None, tokens=tokens)
    if getattr(backend, "name", "") in table.free_backends:
        return Estimate(cost_usd=0.0, tokens=tokens)
    resolve = getattr(backend, "resolve_model", None)
    price = table.lookup(resolve(model) if callable(resolve) else model)
    cost = None if price is None else pricing.worst_case_cost_usd(price, tokens_in, int(max_tokens))
    return Estimate(cost_usd=cost, tokens=tokens)


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

    For a roundtable with ceilings the call is first held against them: CeilingReached (an
    LLMCallError of kind "ceiling") means it was not made. Failures are recorded and
    re-raised as LLMCallError so callers handle one error type.
    """
    kwargs.setdefault("task", role)
    kwargs.setdefault("agent", agent)
    model = str(kwargs.get("model", ""))
    system, prompt = str(kwargs.get("system") or ""), str(kwargs.get("prompt") or "")
    prompt_chars = len(system) + len(prompt)

    def record_ok(completion: Completion) -> int:
        return record_completion(conn, completion, rt_id=rt_id, agent=agent, role=role,
                                 prompt_chars=prompt_chars, config=getattr(backend, "config", None))

    def record_error(which: LLMBackend, exc: BaseException, elapsed_ms: float) -> int:
        return record_failure(conn, rt_id=rt_id, agent=agent, role=role, backend=which.name, model=model,
                              error=str(exc), latency_ms=elapsed_ms, prompt_chars=prompt_chars)

    plan = _hedge_plan(conn, backend, model) if model else None
    held = None
    if rt_id is not None:
        estimate = estimate_call(backend, system=system, prompt=prompt, model=model or "sonnet",
                                 max_tokens=int(kwargs.get("max_tokens", 1024)))
        if plan is not None:  # a hedged call may be sent twice
            estimate = Estimate(None if estimate.cost_usd is None else 2 * estimate.cost_usd,
                                2 * estimate.tokens)
        held = spend.hold(conn, rt_id, estimate, agent=agent, role=role,
                          backend=getattr(backend, "name", ""), model=model)
        if held is not None and held.timeout_s is not None:
            kwargs["timeout"] = max(1.0, min(float(kwargs.get("timeout", 120.0)), held.timeout_s))
    try:
        return _complete(conn, backend, kwargs, plan, record_ok, record_error, rt_id=rt_id,
                         agent=agent, role=role, model=model)
    finally:
        spend.release(conn, held)  # after the call is recorded: its cost now counts as spent


def _complete(conn: sqlite3.Connection, backend: LLMBackend, kwargs: dict[str, Any], plan: Any,
              record_ok: Any, record_error: Any, *, rt_id: str | None, agent: str | None, role: str,
              model: str) -> Completion:
    """The call itself (hedged when planned), recorded either way."""
    started = time.perf_counter()
    try:
        if plan is not None:
            from amatelier.chat.hedge import hedged_complete

            if plan[1] is not None and not getattr(plan[1], "accepts_cache_points", False):
                kwargs.pop("cache_points", None)  # the duplicate goes to a backend without them

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

"""Record every model call so cost, latency and retries can be reported per roundtable.

With `llm.hedge` enabled, a call slower than its model's usual pN latency is hedged (see
amatelier.chat.hedge): one duplicate request, the first answer wins, both are recorded (and
a ceiling holds the worst case of both).

Each row carries the tokens with one meaning on every backend (`input_tokens` = all input,
cached included; `uncached_input_tokens` beside it), the prompt's size in characters and
`cost_usd`: the provider's own figure when it gives one (claude-code), else the price table's
(amatelier.pricing). A call for a roundtable with ceilings is first checked against them
(chat.spend.hold), so a call that could pass a limit is never made.

`call_and_record` is also where the circuit breaker acts: a backend+model held for this
agent in this roundtable (amatelier.chat.llm_holds) is not called at all, and a failure
that trips the breaker records the hold.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from amatelier import pricing
from amatelier.backends.base import Completion, LLMBackend, LLMCallError
from amatelier.backends.tally import CallTally, tally_call
from amatelier.chat import llm_holds, spend
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
    cost = pricing.price_call(table, backend=completion.backend, model=completion.model, usage=completion)
    if cost is None:
        pricing.warn_unpriced(completion.model, completion.backend)
    return cost


def record_completion(conn: sqlite3.Connection, completion: Completion, *, rt_id: str | None,
                      agent: str | None, role: str | None, tally: CallTally | None = None,
                      prompt_chars: int | None = None, config: Mapping[str, Any] | None = None) -> int:
    """Insert one successful call (priced when the backend did not, with its retries and seconds
    waited); returns its llm_calls id."""
    retries, wait_s = (tally.retries, round(tally.wait_s, 3)) if tally else (0, 0.0)
    completion.cost_usd = price_completion(completion, config)
    cur = conn.execute(
        "INSERT INTO llm_calls (rt_id, agent, role, backend, model, input_tokens, output_tokens,"
        " cache_read_tokens, cache_write_tokens, uncached_input_tokens, prompt_chars, latency_ms,"
        " cost_usd, status, error, created_at, retries, retry_wait_s)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', NULL, ?, ?, ?)",
        (rt_id, agent, role, completion.backend, completion.model, completion.input_tokens,
         completion.output_tokens, completion.cache_read_tokens, completion.cache_write_tokens,
         completion.uncached_input_tokens, prompt_chars, completion.latency_ms, completion.cost_usd,
         _now(), retries, wait_s),
    )
    return int(cur.lastrowid or 0)


def record_failure(conn: sqlite3.Connection, *, rt_id: str | None, agent: str | None,
                   role: str | None, backend: str, model: str, error: str,
                   latency_ms: float = 0.0, kind: str | None = None,
                   tally: CallTally | None = None, status: str = "error",
                   prompt_chars: int | None = None) -> int:
    """Insert one failed (or, with status 'held', skipped) call; returns its llm_calls id."""
    retries, wait_s = (tally.retries, round(tally.wait_s, 3)) if tally else (0, 0.0)
    cur = conn.execute(
        "INSERT INTO llm_calls (rt_id, agent, role, backend, model, latency_ms, status, error, created_at,"
        " error_kind, retries, retry_wait_s, prompt_chars)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (rt_id, agent, role, backend, model, latency_ms, status, error[:2000], _now(), kind, retries, wait_s,
         prompt_chars),
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
    price = table.lookup(_model_id(backend, model))
    cost = None if price is None else pricing.worst_case_cost_usd(price, tokens_in, int(max_tokens))
    return Estimate(cost_usd=cost, tokens=tokens)


def _model_id(backend: LLMBackend, model: str) -> str:
    try:
        return backend.resolve_model(model)
    except Exception:  # noqa: BLE001 - a backend that cannot map its model still gets called
        return model


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
    A held backend+model raises LLMCallError(kind="held") without calling the provider. For a
    roundtable with ceilings the call is first held against them: CeilingReached (an
    LLMCallError of kind "ceiling") means it was not made.
    """
    kwargs.setdefault("task", role)
    kwargs.setdefault("agent", agent)
    model = str(kwargs.get("model", ""))
    model_id = _model_id(backend, model or "sonnet")
    system, prompt = str(kwargs.get("system") or ""), str(kwargs.get("prompt") or "")
    prompt_chars = len(system) + len(prompt)
    hold = llm_holds.active(conn, rt_id, agent, backend.name, model_id)
    if hold is not None:
        record_failure(conn, rt_id=rt_id, agent=agent, role=role, backend=backend.name, model=model_id,
                       error=hold.line(), kind="held", status="held")
        raise LLMCallError(hold.line(), kind="held", backend=backend.name, model=model_id)

    def record_ok(completion: Completion) -> int:
        return record_completion(conn, completion, rt_id=rt_id, agent=agent, role=role, tally=tally,
                                 prompt_chars=prompt_chars, config=getattr(backend, "config", None))

    def record_error(which: LLMBackend, exc: BaseException, elapsed_ms: float) -> int:
        return record_failure(conn, rt_id=rt_id, agent=agent, role=role, backend=which.name,
                              model=_model_id(which, model or "sonnet"), error=str(exc), latency_ms=elapsed_ms,
                              kind=getattr(exc, "kind", None), tally=tally, prompt_chars=prompt_chars)

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
        started = time.perf_counter()
        with tally_call() as tally:
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
                error = exc if isinstance(exc, LLMCallError) else LLMCallError(str(exc), backend=backend.name,
                                                                                 model=model)
                tripped = _trip_breaker(conn, backend, error, rt_id=rt_id, agent=agent, model_id=model_id)
                if tripped is not None:
                    error = LLMCallError(f"{error} — {tripped.backend} (model {tripped.model}) held until "
                                         f"{llm_holds.clock(tripped.until)}", kind=error.kind, status=error.status,
                                         backend=error.backend, model=error.model, hold_s=error.hold_s)
                if error is exc:
                    raise
                raise error from exc
        record_ok(completion)
        return completion
    finally:
        spend.release(conn, held)  # after the call is recorded: its cost now counts as spent


def _trip_breaker(conn: sqlite3.Connection, backend: LLMBackend, error: LLMCallError, *,
                  rt_id: str | None, agent: str | None, model_id: str) -> llm_holds.Hold | None:
    """Record a hold when this failure trips the breaker (never lets bookkeeping mask the error)."""
    from amatelier.backends.retry import RetryPolicy

    policy = RetryPolicy.from_config(getattr(backend, "config", None))
    now = time.time()
    try:
        recent = llm_holds.recent_transient_failures(conn, rt_id, agent, backend.name, model_id,
                                                     policy.breaker_window_s, now)
        decision = llm_holds.hold_after_failure(
            hold_s=error.hold_s, kind=error.kind, recent_failures=recent,
            threshold=policy.breaker_failures, cooldown_s=policy.breaker_cooldown_s, now=now)
        if decision is None:
            return None
        until, reason = decision
        return llm_holds.add(conn, rt_id=rt_id, agent=agent, backend=backend.name, model=model_id,
                             until=until, reason=reason, now=now)
    except sqlite3.Error:
        return None

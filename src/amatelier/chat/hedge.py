"""Hedged model calls: when a call is slow for its model, send one duplicate; the first answer wins.

Opt-in with config `llm.hedge`: {"enabled": true, "percentile": 75, "min_samples": 20,
"backend": null}. The threshold is the pN latency of that backend and model in this
workspace (successful calls in llm_calls); with fewer than `min_samples` there is no
threshold and the call is not hedged. The duplicate goes to the same backend, or to
`llm.hedge.backend` (a mode name) when set.

Both requests are recorded in llm_calls. The winner is recorded as usual; the loser is
recorded at once as `abandoned` (time spent so far, input tokens estimated), and updated
with its real usage and cost if it finishes while the process runs: a synchronous SDK
call cannot be cancelled, only ignored. Each hedge is a row of `hedged_calls`.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amatelier.backends.base import Completion, LLMBackend

ABANDONED = "abandoned"
SAMPLE_WINDOW = 500


@dataclass(frozen=True)
class HedgeSettings:
    """Config `llm.hedge`, with defaults."""

    enabled: bool = False
    percentile: float = 75.0
    min_samples: int = 20
    backend: str | None = None


def hedge_settings(config: Mapping[str, Any] | None) -> HedgeSettings:
    """Read `llm.hedge`; values out of range fall back to the defaults."""
    raw = (((config or {}).get("llm") or {}).get("hedge")) or {}
    if not isinstance(raw, Mapping):
        return HedgeSettings()
    default = HedgeSettings()
    try:
        pct = float(raw.get("percentile", default.percentile))
    except (TypeError, ValueError):
        pct = default.percentile
    try:
        samples = int(raw.get("min_samples", default.min_samples))
    except (TypeError, ValueError):
        samples = default.min_samples
    backend = raw.get("backend")
    return HedgeSettings(enabled=raw.get("enabled") is True,
                         percentile=pct if 1 <= pct <= 99.9 else default.percentile,
                         min_samples=max(1, samples),
                         backend=backend if isinstance(backend, str) and backend.strip() else None)


def nearest_rank(values: list[float], pct: float) -> float | None:
    """The pct-th percentile by nearest rank (a latency that was actually observed)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def latency_threshold(conn: sqlite3.Connection, backend: str, model: str, settings: HedgeSettings) -> float | None:
    """The pN latency (ms) of recent successful calls of this backend and model; None below min_samples.

    A provider may answer with a dated id for the one asked (claude-x-5 -> claude-x-5-20260101);
    those rows count as the same model.
    """
    dated = "".join(f"[{c}]" if c in "[]*?" else c for c in model) + "-[0-9]*"   # a date suffix, not -mini
    rows = conn.execute(
        "SELECT latency_ms FROM llm_calls WHERE backend = ? AND (model = ? OR model GLOB ?)"
        " AND status = 'ok' ORDER BY id DESC LIMIT ?", (backend, model, dated, SAMPLE_WINDOW)).fetchall()
    values = [float(r[0]) for r in rows if r[0] is not None]
    if len(values) < settings.min_samples:
        return None
    return nearest_rank(values, settings.percentile)


def _start(fn: Callable[..., Completion], kwargs: Mapping[str, Any]) -> cf.Future:
    """Run fn(**kwargs) on a daemon thread: an ignored request never keeps the process alive."""
    future: cf.Future = cf.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(**kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True, name="amatelier-hedge").start()
    return future


@dataclass
class _Attempt:
    backend: LLMBackend
    started: float
    future: cf.Future


def _db_path(conn: sqlite3.Connection) -> str | None:
    with contextlib.suppress(sqlite3.Error):
        for row in conn.execute("PRAGMA database_list"):
            if row[1] == "main" and row[2]:
                return str(row[2])
    return None


def _estimate_tokens(kwargs: Mapping[str, Any]) -> int:
    text = f"{kwargs.get('system') or ''}{kwargs.get('prompt') or ''}"
    return max(1, len(text) // 4) if text else 0


def _record_abandoned(conn: sqlite3.Connection, attempt: _Attempt, *, rt_id: str | None, agent: str | None,
                      role: str, model: str, kwargs: Mapping[str, Any], now: str) -> int:
    cur = conn.execute(
        "INSERT INTO llm_calls (rt_id, agent, role, backend, model, input_tokens, latency_ms, status, error,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (rt_id, agent, role, attempt.backend.name, model, _estimate_tokens(kwargs),
         (time.perf_counter() - attempt.started) * 1000.0, ABANDONED,
         "hedged: the other request answered first; usage estimated until it finishes", now))
    return int(cur.lastrowid or 0)


def _finish_abandoned(db_path: str | None, row_id: int, hedge_row_id: int, attempt: _Attempt, *,
                      was_primary: bool, winner_ms: float) -> None:
    """When the ignored request finishes, replace the estimate with what it really used.

    If it was the primary, the latency the hedge saved is now known and is stored too.
    """
    if not db_path or not row_id:
        return

    def update(future: cf.Future) -> None:
        from amatelier.chat.db import connect

        if future.cancelled() or future.exception() is not None:
            return
        done: Completion = future.result()
        with contextlib.suppress(Exception):  # best effort: the estimate stays if this fails
            conn = connect(Path(db_path))
            try:
                conn.execute(
                    "UPDATE llm_calls SET model = ?, input_tokens = ?, output_tokens = ?, cache_read_tokens = ?,"
                    " cache_write_tokens = ?, latency_ms = ?, cost_usd = ?, error = ? WHERE id = ? AND status = ?",
                    (done.model, done.input_tokens, done.output_tokens, done.cache_read_tokens,
                     done.cache_write_tokens, done.latency_ms, done.cost_usd,
                     "hedged: the other request answered first; it finished later", row_id, ABANDONED))
                if was_primary and hedge_row_id:
                    finished_ms = (time.perf_counter() - attempt.started) * 1000.0
                    conn.execute("UPDATE hedged_calls SET saved_ms = ? WHERE id = ?",
                                 (round(max(0.0, finished_ms - winner_ms), 2), hedge_row_id))
            finally:
                conn.close()

    attempt.future.add_done_callback(update)


def hedged_complete(conn: sqlite3.Connection, backend: LLMBackend, kwargs: dict[str, Any], *,
                    threshold_ms: float, hedge_backend: LLMBackend | None, rt_id: str | None, agent: str | None,
                    role: str, record_ok: Callable[[Completion], int], record_error: Callable[..., int],
                    now: Callable[[], str]) -> Completion:
    """Run the call; past `threshold_ms` send one duplicate; return the first successful answer.

    Raises the primary's exception when both requests fail (both are recorded).
    """
    primary = _Attempt(backend, time.perf_counter(), _start(backend.complete, kwargs))
    try:
        primary.future.result(timeout=max(0.0, threshold_ms) / 1000.0)
    except cf.TimeoutError:
        pass
    except Exception:  # noqa: BLE001 - a fast failure is not hedged: the retry policy already ran
        pass
    if primary.future.done():
        return _settle_single(primary, record_ok, record_error)

    second = hedge_backend or backend
    hedge = _Attempt(second, time.perf_counter(), _start(second.complete, kwargs))
    pending = {primary.future: "primary", hedge.future: "hedge"}
    winner: str | None = None
    failures: dict[str, BaseException] = {}
    while pending and winner is None:
        done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
        for future in [f for f in (primary.future, hedge.future) if f in done]:
            name = pending.pop(future)
            error = future.exception()
            if error is None and winner is None:
                winner = name
            elif error is not None:
                failures[name] = error
    model = str(kwargs.get("model", ""))
    attempts = {"primary": primary, "hedge": hedge}
    ids: dict[str, int | None] = {"primary": None, "hedge": None}
    for name, error in failures.items():
        attempt = attempts[name]
        ids[name] = record_error(attempt.backend, error, (time.perf_counter() - attempt.started) * 1000.0)
    answered_ms = (time.perf_counter() - primary.started) * 1000.0
    result: Completion | None = None
    loser: str | None = None
    if winner is not None:
        result = attempts[winner].future.result()
        ids[winner] = record_ok(result)
        loser = "hedge" if winner == "primary" else "primary"
        if loser in failures:
            loser = None
        else:
            ids[loser] = _record_abandoned(conn, attempts[loser], rt_id=rt_id, agent=agent, role=role,
                                           model=model, kwargs=kwargs, now=now())
    # saved_ms: 0 when the primary won; when the hedge won, filled in once the primary finishes.
    cur = conn.execute(
        "INSERT INTO hedged_calls (rt_id, agent, role, backend, model, hedge_backend, threshold_ms, winner,"
        " winner_ms, saved_ms, primary_call_id, hedge_call_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (rt_id, agent, role, backend.name, str(backend.resolve_model(model)), second.name, round(threshold_ms, 2),
         winner or "none", round(answered_ms, 2) if winner else None, 0.0 if winner == "primary" else None,
         ids["primary"], ids["hedge"], now()))
    if loser is not None:
        _finish_abandoned(_db_path(conn), ids[loser] or 0, int(cur.lastrowid or 0), attempts[loser],
                          was_primary=loser == "primary", winner_ms=answered_ms)
    if result is None:
        raise failures["primary"]
    return result


def _settle_single(primary: _Attempt, record_ok: Callable[[Completion], int],
                   record_error: Callable[..., int]) -> Completion:
    """The primary answered (or failed) before the threshold: record it as an ordinary call."""
    error = primary.future.exception()
    if error is not None:
        record_error(primary.backend, error, (time.perf_counter() - primary.started) * 1000.0)
        raise error
    completion = primary.future.result()
    record_ok(completion)
    return completion


"""The reliability report: are the models answering, and can the Judge be trusted?

Read-only over the workspace database (and the digests, for breaker events): per backend
and model, call counts, latency percentiles, error / retry rates and breaker events; per
roundtable and over time, jury agreement (alpha), swap flip rate, the length-score
correlation and self-family recusals; and what hedged calls won. `amatelier reliability`
prints it.

Window (`since`): an integer N keeps the last N roundtables (and only their calls); `Nd` or
`Nh` keeps everything created in the last N days or hours; None keeps everything.
"""

from __future__ import annotations

import json
import re
import sqlite3
import statistics
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amatelier.judging import audit
from amatelier.judging.store import judging_history

HELD_STATUSES = ("held",)   # a call the circuit breaker skipped without a request
_SINCE = re.compile(r"^\s*(\d{1,6})\s*([dh]?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Window:
    """Which part of history the report covers."""

    roundtables: int | None = None
    hours: float | None = None

    def describe(self) -> dict[str, Any] | None:
        if self.roundtables is not None:
            return {"roundtables": self.roundtables}
        if self.hours is not None:
            return {"hours": self.hours}
        return None


def parse_since(value: str | None) -> Window:
    """`10` = the last 10 roundtables, `7d` = 7 days, `12h` = 12 hours; raises ValueError otherwise."""
    if value is None or not str(value).strip():
        return Window()
    match = _SINCE.match(str(value))
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"--since expects N (last N roundtables), Nd (days) or Nh (hours), got {value!r}")
    number, unit = int(match.group(1)), match.group(2).lower()
    if unit == "d":
        return Window(hours=number * 24.0)
    if unit == "h":
        return Window(hours=float(number))
    return Window(roundtables=number)


def percentile(values: list[float], pct: float) -> float | None:
    """Linear-interpolated percentile (the digest's convention), rounded to 0.1 ms."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return round(ordered[0], 1)
    k = (len(ordered) - 1) * pct / 100.0
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (k - low), 1)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _has_table(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


def selected_roundtables(conn: sqlite3.Connection, window: Window, now: float | None = None) -> list[dict[str, Any]]:
    """The roundtables in the window, oldest first: id, created_at, status."""
    rows = conn.execute("SELECT id, created_at, status FROM roundtables ORDER BY created_at, rowid").fetchall()
    found = [{"rt_id": r["id"], "created_at": r["created_at"], "status": r["status"]} for r in rows]
    if window.roundtables is not None:
        return found[-window.roundtables:]
    if window.hours is not None:
        cutoff = _stamp((now if now is not None else time.time()) - window.hours * 3600)
        return [r for r in found if (r["created_at"] or "") >= cutoff]
    return found


def _stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _call_rows(conn: sqlite3.Connection, window: Window, rt_ids: list[str], now: float | None) -> list[dict[str, Any]]:
    return [dict(row) for row in _call_query(conn, window, rt_ids, now)]


def _call_query(conn: sqlite3.Connection, window: Window, rt_ids: list[str], now: float | None) -> list[sqlite3.Row]:
    extra = ", retries" if "retries" in _columns(conn, "llm_calls") else ""
    base = f"SELECT backend, model, status, latency_ms, error{extra} FROM llm_calls"
    if window.roundtables is not None:
        if not rt_ids:
            return []
        return conn.execute(base + f" WHERE rt_id IN ({', '.join('?' for _ in rt_ids)})", rt_ids).fetchall()
    if window.hours is not None:
        cutoff = _stamp((now if now is not None else time.time()) - window.hours * 3600)
        return conn.execute(base + " WHERE created_at >= ?", (cutoff,)).fetchall()
    return conn.execute(base).fetchall()


def call_stats(rows: Iterable[Mapping[str, Any]], breaker_events: Mapping[tuple[str, str], int] | None = None) -> list[dict[str, Any]]:
    """Per (backend, model): calls, p50/p95/p99 of successful latencies, error and retry rates, breaker events."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((str(row["backend"]), str(row["model"])), []).append(row)
    breaker_events = breaker_events or {}
    stats = []
    for (backend, model), mine in sorted(groups.items()):
        ok = [float(r["latency_ms"] or 0.0) for r in mine if r["status"] == "ok"]
        errors = sum(1 for r in mine if r["status"] == "error")
        held = sum(1 for r in mine if r["status"] in HELD_STATUSES)
        has_retries = "retries" in mine[0]
        retried = sum(1 for r in mine if has_retries and int(r["retries"] or 0) > 0)
        stats.append({
            "backend": backend, "model": model, "calls": len(mine), "ok": len(ok), "errors": errors,
            "abandoned": sum(1 for r in mine if r["status"] == "abandoned"),
            "error_rate": _rate(errors, len(mine)),
            "retries": sum(int(r["retries"] or 0) for r in mine) if has_retries else None,
            "retry_rate": _rate(retried, len(mine)) if has_retries else None,
            "latency_ms": {"p50": percentile(ok, 50), "p95": percentile(ok, 95), "p99": percentile(ok, 99)},
            "held": held,
            "breaker_events": breaker_events.get((backend, model), 0),
        })
    return stats


def holds_breaker_events(conn: sqlite3.Connection, rt_ids: list[str] | None) -> tuple[int, dict[tuple[str, str], int]] | None:
    """Breaker trips recorded in `llm_holds` (when the database has it): total and per (backend, model)."""
    if not _has_table(conn, "llm_holds"):
        return None
    query = "SELECT backend, model, COUNT(*) AS n FROM llm_holds"
    params: list[Any] = []
    if rt_ids is not None:
        if not rt_ids:
            return 0, {}
        query += f" WHERE rt_id IN ({', '.join('?' for _ in rt_ids)})"
        params = list(rt_ids)
    per = {(str(r["backend"]), str(r["model"])): int(r["n"])
           for r in conn.execute(query + " GROUP BY backend, model", params)}
    return sum(per.values()), per


def digest_breaker_events(digest_dir: Path, rt_ids: Iterable[str]) -> tuple[int, dict[tuple[str, str], int]]:
    """Breaker events the digests recorded (`engine.events` of kind breaker): total and per (backend, model)."""
    total = 0
    per: dict[tuple[str, str], int] = {}
    for rt_id in rt_ids:
        try:
            digest = json.loads((digest_dir / f"digest-{rt_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        events = ((digest.get("engine") or {}).get("events") or []) if isinstance(digest, dict) else []
        for event in events if isinstance(events, list) else []:
            if isinstance(event, dict) and event.get("kind") == "breaker":
                total += 1
                if event.get("backend") and event.get("model"):
                    key = (str(event["backend"]), str(event["model"]))
                    per[key] = per.get(key, 0) + 1
    return total, per


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def length_history(conn: sqlite3.Connection, rt_ids: list[str]) -> dict[str, Any]:
    """Pooled words-vs-total correlation over every scored (roundtable, worker) in the window."""
    words_all: list[float] = []
    totals_all: list[float] = []
    for rt_id in rt_ids:
        scored = {r["agent"]: r["total"] for r in conn.execute(
            "SELECT agent, total FROM scores WHERE rt_id = ? AND unscored_reason IS NULL", (rt_id,))}
        if not scored:
            continue
        messages = [dict(r) for r in conn.execute(
            "SELECT agent, kind, content FROM messages WHERE rt_id = ?", (rt_id,))]
        counts = audit.word_counts(messages, list(scored))
        for agent, total in scored.items():
            words_all.append(float(counts[agent]))
            totals_all.append(float(total))
    return {"pairs": len(words_all), "r": audit.pearson(words_all, totals_all)}


def hedge_stats(conn: sqlite3.Connection, rt_ids: list[str] | None) -> dict[str, Any]:
    """How many calls were hedged, how often the hedge won, and the latency it saved."""
    if not _has_table(conn, "hedged_calls"):
        return {"hedged": 0, "hedge_won": 0, "primary_won": 0, "failed": 0, "win_rate": None,
                "saved_ms": {"total": 0.0, "median": None}, "by_model": []}
    query = "SELECT backend, model, winner, saved_ms FROM hedged_calls"
    params: list[Any] = []
    if rt_ids is not None:
        if not rt_ids:
            rows: list[sqlite3.Row] = []
        else:
            rows = conn.execute(query + f" WHERE rt_id IN ({', '.join('?' for _ in rt_ids)})", rt_ids).fetchall()
    else:
        rows = conn.execute(query, params).fetchall()

    def summary(mine: list[sqlite3.Row]) -> dict[str, Any]:
        won = [r for r in mine if r["winner"] == "hedge"]
        saved = [float(r["saved_ms"]) for r in won if r["saved_ms"] is not None]
        return {"hedged": len(mine), "hedge_won": len(won),
                "primary_won": sum(1 for r in mine if r["winner"] == "primary"),
                "failed": sum(1 for r in mine if r["winner"] == "none"),
                "win_rate": _rate(len(won), len(mine)),
                "saved_ms": {"total": round(sum(saved), 1), "median": round(statistics.median(saved), 1)
                             if saved else None}}

    groups: dict[tuple[str, str], list[sqlite3.Row]] = {}
    for row in rows:
        groups.setdefault((row["backend"], row["model"]), []).append(row)
    result = summary(list(rows))
    result["by_model"] = [{"backend": b, "model": m, **summary(mine)} for (b, m), mine in sorted(groups.items())]
    return result


def build_report(conn: sqlite3.Connection, window: Window, digest_dir: Path, now: float | None = None) -> dict[str, Any]:
    """The whole reliability report as a JSON-ready dict."""
    rts = selected_roundtables(conn, window, now)
    rt_ids = [r["rt_id"] for r in rts]
    windowed = window.roundtables is not None or window.hours is not None
    from_holds = holds_breaker_events(conn, rt_ids if windowed else None)
    breaker_total, breaker_per = from_holds if from_holds is not None else digest_breaker_events(digest_dir, rt_ids)
    calls = call_stats(_call_rows(conn, window, rt_ids, now), breaker_per)
    history = judging_history(conn, rt_ids) if _has_table(conn, "judging_results") else []
    alphas = [h["alpha"] for h in history if h["alpha"] is not None]
    flips = [h["flip_rate"] for h in history if h["audited"] and h["flip_rate"] is not None]
    per_rt = [h["length_score_r"] for h in history if h["length_score_r"] is not None]
    return {
        "since": window.describe(),
        "roundtables": len(rts),
        "calls": calls,
        "totals": {"calls": sum(c["calls"] for c in calls), "errors": sum(c["errors"] for c in calls),
                   "held": sum(c["held"] for c in calls), "breaker_events": breaker_total},
        "judging": {
            "roundtables": history,
            "alpha": {"mean": _mean(alphas), "juried": len(alphas)},
            "flip_rate": {"mean": _mean(flips), "audited": len(flips)},
            "length_score": {"mean_per_roundtable": _mean(per_rt), **length_history(conn, rt_ids)},
            "recusals": sum(h["recusals"] for h in history),
            "self_family": sum(h["self_family"] for h in history),
        },
        "hedges": hedge_stats(conn, rt_ids if windowed else None),
    }


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _judging_summary(judging: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The reliability figures of one stored `judging` section (see judging.panel)."""
    if not isinstance(judging, Mapping):
        return None
    seats = judging.get("seats") if isinstance(judging.get("seats"), list) else []
    audit_info = judging.get("audit") if isinstance(judging.get("audit"), Mapping) else {}
    swap = judging.get("swap") if isinstance(judging.get("swap"), Mapping) else {}
    length = judging.get("length_score") if isinstance(judging.get("length_score"), Mapping) else {}
    recusals = judging.get("recusals") if isinstance(judging.get("recusals"), list) else []
    marks = judging.get("self_family") if isinstance(judging.get("self_family"), Mapping) else {}
    return {
        "seats": [{"seat": s.get("seat"), "model": s.get("model"), "backend": s.get("backend"),
                   "model_id": s.get("model_id"), "error": s.get("error")} for s in seats if isinstance(s, Mapping)],
        "method": judging.get("method"),
        "alpha": judging.get("alpha"),
        "audited": bool(audit_info.get("audited")),
        "audit_reason": audit_info.get("reason"),
        "flip_rate": judging.get("flip_rate"),
        "flips": len(swap.get("changed") or []) if swap else None,
        "compared": swap.get("compared") if swap else None,
        "length_score_r": length.get("r"),
        "recusals": [dict(r) for r in recusals if isinstance(r, Mapping)],
        "self_family": sum(len(v) for v in marks.values() if isinstance(v, list)),
    }


def roundtable_reliability(conn: sqlite3.Connection, rt_id: str) -> dict[str, Any]:
    """The reliability figures of one roundtable (the export's reliability section).

    Per backend and model: calls, p50/p95/p99 latency, errors, retries, breaker events; the
    jury's agreement (alpha), swap flip rate, length-score correlation and recusals; hedges.
    Read-only; a database from before any of these tables gives empty parts, never an error.
    """
    from amatelier.judging.store import load_judging

    extra = ", retries" if "retries" in _columns(conn, "llm_calls") else ""
    rows = _dicts(conn.execute(f"SELECT backend, model, status, latency_ms, error{extra} FROM llm_calls"
                               " WHERE rt_id = ?", (rt_id,)))
    holds = holds_breaker_events(conn, [rt_id])
    calls = call_stats(rows, holds[1] if holds else None)
    judging = None
    if _has_table(conn, "judging_results"):
        try:
            judging = load_judging(conn, rt_id)
        except (sqlite3.Error, ValueError):
            judging = None
    return {
        "rt_id": rt_id,
        "calls": calls,
        "totals": {"calls": sum(c["calls"] for c in calls), "errors": sum(c["errors"] for c in calls),
                   "retries": sum(c["retries"] or 0 for c in calls), "held": sum(c["held"] for c in calls),
                   "breaker_events": holds[0] if holds else 0},
        "judging": _judging_summary(judging),
        "hedges": hedge_stats(conn, [rt_id]),
    }

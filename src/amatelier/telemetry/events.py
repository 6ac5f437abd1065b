"""The telemetry event envelope and its payloads, as pure functions (see telemetry_event.schema.json).

Every line of telemetry.jsonl is one envelope: `schema_version, timestamp, event_name, run_id,
stage, payload`. The payload's shape depends on `event_name`; builders here are the only place
that shapes them, so the schema and the writer cannot drift apart silently.
"""

from __future__ import annotations

import builtins
import math
import time
from typing import Any

from amatelier.telemetry import SCHEMA_VERSION

STAGE_START, STAGE_STOP, STAGE_ERROR = "stage_start", "stage_stop", "stage_error"
TURN, LLM_CALL, METRIC, DECISION = "turn", "llm_call", "metric", "decision"
EVENT_NAMES = (STAGE_START, STAGE_STOP, STAGE_ERROR, TURN, LLM_CALL, METRIC, DECISION)

#: The stages of one roundtable, in the order they run (manifest `stages` keys).
STAGES = ("debate", "scoring", "settlement", "distillation", "debrief", "decision")

MAX_TEXT = 2000


def iso_now(now: float | None = None) -> str:
    """UTC time with milliseconds and a Z (`2026-11-28T06:53:24.123Z`)."""
    stamp = time.time() if now is None else now
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp))
    return f"{whole}.{int((stamp % 1) * 1000):03d}Z"


def clip(text: Any, limit: int = MAX_TEXT) -> str:
    """A string no longer than `limit` (error texts can be whole tracebacks)."""
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def envelope(event_name: str, run_id: str, payload: dict[str, Any], *, stage: str | None = None,
             now: float | None = None) -> dict[str, Any]:
    """One telemetry line; `stage` is the stage running when it happened (None before any)."""
    if event_name not in EVENT_NAMES:
        raise ValueError(f"unknown telemetry event {event_name!r}")
    return {"schema_version": SCHEMA_VERSION, "timestamp": iso_now(now), "event_name": event_name,
            "run_id": run_id, "stage": stage, "payload": payload}


def stage_payload(name: str, *, status: str | None = None, duration_ms: float | None = None,
                  error: str | None = None) -> dict[str, Any]:
    """stage_start: {name}; stage_stop: + status, duration_ms; stage_error: + error."""
    payload: dict[str, Any] = {"name": name}
    if status is not None:
        payload["status"] = status
    if duration_ms is not None:
        payload["duration_ms"] = round(float(duration_ms), 2)
    if error is not None:
        payload["error"] = clip(error)
    return payload


def turn_payload(*, agent: str, phase: str, round: int, status: str, turn_id: int | None,
                 requested: float | None, claimed: float | None, posted: float | None,
                 seen: float | None, message_id: int | None = None) -> dict[str, Any]:
    """A finished turn: who, which phase and round, how it ended, and its handoff times in ms.

    `claim_ms` is request → a worker claimed it; `handoff_ms` is the answer posted → the runner
    saw it; `wall_ms` is request → seen (the whole turn as the debate felt it).
    """
    def ms(later: float | None, earlier: float | None) -> float | None:
        if later is None or earlier is None:
            return None
        return builtins.round(max(0.0, (later - earlier) * 1000.0), 2)

    return {"agent": agent, "phase": phase, "round": int(round), "status": status,
            "turn_id": turn_id, "message_id": message_id,
            "claim_ms": ms(claimed, requested), "handoff_ms": ms(seen, posted),
            "wall_ms": ms(seen, requested)}


def llm_call_payload(row: dict[str, Any], *, retries: int | None = None) -> dict[str, Any]:
    """An llm_calls row as a telemetry payload (tokens including cache, cost, latency, status)."""
    def whole(key: str) -> int:
        return int(row.get(key) or 0)

    cost = row.get("cost_usd")
    payload: dict[str, Any] = {
        "call_id": int(row["id"]),
        "agent": row.get("agent"),
        "role": row.get("role"),
        "provider": str(row.get("backend") or ""),
        "model": str(row.get("model") or ""),
        "input_tokens": whole("input_tokens"),
        "output_tokens": whole("output_tokens"),
        "cache_read_tokens": whole("cache_read_tokens"),
        "cache_write_tokens": whole("cache_write_tokens"),
        "cost_usd": float(cost) if cost is not None else None,
        "latency_ms": round(float(row.get("latency_ms") or 0.0), 2),
        "retries": retries if retries is not None else _int_or_none(row.get("retries")),
        "status": str(row.get("status") or "ok"),
        "recorded_at": row.get("created_at"),
    }
    if row.get("error"):
        payload["error"] = clip(row["error"], 500)
    return payload


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def metric_payload(name: str, value: float | int | None, *, round: int | None = None,
                   unit: str | None = None, agent: str | None = None) -> dict[str, Any]:
    """A named number (stability score, spent budget, dropped events...), optionally per round/agent."""
    if isinstance(value, float) and not math.isfinite(value):
        value = None  # NaN and Infinity are not JSON: a reader sees "no value", never an unparseable line
    payload: dict[str, Any] = {"name": name, "value": value, "round": round}
    if unit is not None:
        payload["unit"] = unit
    if agent is not None:
        payload["agent"] = agent
    return payload


def decision_payload(decision: dict[str, Any] | None, *, path: str | None = None) -> dict[str, Any]:
    """The decision record landed: its headline fields (the full record is in the digest).

    Reads the decision record's `recommendation` (else `decision` or `summary`), `outcome`,
    `confidence`, `partial` and `synthesized`; a field of the wrong type is reported as null.
    """
    record = decision if isinstance(decision, dict) else {}
    summary = next((record[k] for k in ("recommendation", "decision", "summary")
                    if isinstance(record.get(k), str)), None)
    confidence = record.get("confidence")

    def flag(key: str) -> bool | None:
        return record[key] if isinstance(record.get(key), bool) else None

    return {
        "summary": clip(summary, 1000) if summary is not None else None,
        "outcome": record["outcome"] if isinstance(record.get("outcome"), str) else None,
        "confidence": confidence if isinstance(confidence, int | float) and not isinstance(confidence, bool)
        else None,
        "partial": flag("partial"),
        "synthesized": flag("synthesized"),
        "path": path,
    }

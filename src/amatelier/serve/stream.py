"""GET /v1/jobs/{id}/stream: Server-Sent Events of a job's telemetry and chat as they happen.

Two sources are merged in time order: the lines of runs/<id>/telemetry.jsonl (`event: telemetry`,
data = the envelope) and the roundtable's chat messages (`event: message`). Each frame's `id` is
the cursor after it, `<telemetry byte offset>-<last message id>`, so a client that reconnects with
`Last-Event-ID` gets exactly what it missed. `event: job` frames carry status changes; the stream
ends with `event: end` once the job finished and everything it wrote was sent.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from amatelier import paths
from amatelier.serve.jobs import FINAL, JobManager, JobNotFound
from amatelier.serve.views import read_only_db, usage_so_far
from amatelier.telemetry.manifest import current_stage
from amatelier.telemetry.writer import read_events

POLL_MIN_S, POLL_MAX_S = 0.05, 0.5
KEEPALIVE_S = 15.0
RETRY_MS = 1500
MAX_CURSOR = 2**62
MESSAGE_FIELDS = ("id", "agent", "kind", "round", "phase", "content", "created_at", "created_ts")


@dataclass(frozen=True)
class Cursor:
    """How far a client has read: telemetry bytes and the last chat message id."""

    telemetry: int = 0
    message: int = 0

    def token(self) -> str:
        return f"{self.telemetry}-{self.message}"

    @classmethod
    def parse(cls, value: str | None) -> Cursor:
        """A Last-Event-ID back to a cursor; anything malformed starts from the beginning."""
        try:
            left, right = (value or "").strip().split("-", 1)
            telemetry, message = int(left), int(right)
        except ValueError:
            return cls()
        if max(telemetry, message) > MAX_CURSOR:  # beyond any file offset or SQLite id: malformed
            return cls()
        return cls(max(0, telemetry), max(0, message))


def frame(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One SSE frame (data is JSON on one line, so no field splitting is needed)."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _iso_epoch(stamp: Any) -> float:
    """`2026-11-28T06:53:24.123Z` to unix seconds (0.0 when unreadable)."""
    if not isinstance(stamp, str):
        return 0.0
    try:
        whole = time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return 0.0
    fraction = 0.0
    if len(stamp) > 20 and stamp[19] == ".":
        try:
            fraction = float("0" + stamp[19:].rstrip("Z"))
        except ValueError:
            fraction = 0.0
    return calendar.timegm(whole) + fraction


def read_batch(job_id: str, cursor: Cursor,
               conn: sqlite3.Connection | None) -> list[tuple[str, dict[str, Any], Cursor]]:
    """Everything new since `cursor`, in time order, each with the cursor after it."""
    lines = read_events(paths.user_run_dir(job_id) / "telemetry.jsonl", offset=cursor.telemetry)
    messages: list[dict[str, Any]] = []
    if conn is not None:
        try:
            rows = conn.execute(
                f"SELECT {', '.join(MESSAGE_FIELDS)} FROM messages WHERE rt_id = ? AND id > ? ORDER BY id LIMIT 500",
                (job_id, cursor.message)).fetchall()
            messages = [dict(r) for r in rows]
        except sqlite3.Error:
            messages = []
    # Each source stays in its own order; between them, the earlier one goes first.
    tele = [(_iso_epoch(event.get("timestamp")), event, offset) for event, offset in lines]
    chat = [(float(m.get("created_ts") or 0.0), m, int(m["id"])) for m in messages]
    out: list[tuple[str, dict[str, Any], Cursor]] = []
    position = cursor
    t = c = 0
    while t < len(tele) or c < len(chat):
        if c >= len(chat) or (t < len(tele) and tele[t][0] <= chat[c][0]):
            _, event, offset = tele[t]
            t += 1
            position = Cursor(offset, position.message)
            out.append(("telemetry", event, position))
        else:
            _, message, message_id = chat[c]
            c += 1
            position = Cursor(position.telemetry, message_id)
            out.append(("message", message, position))
    return out


def job_status(manager: JobManager, job_id: str, conn: sqlite3.Connection | None) -> dict[str, Any]:
    """The small status object sent in `job` and `end` frames."""
    from amatelier.serve.views import read_manifest

    record = manager.load(job_id)
    manifest = read_manifest(job_id)
    usage = usage_so_far(conn, job_id)
    return {"id": job_id, "status": record.get("status"), "error": record.get("error"),
            "stage": current_stage(manifest) if manifest else None, "cost_usd": usage["cost_usd"],
            "calls": usage["calls"]}


async def events(manager: JobManager, job_id: str, cursor: Cursor) -> AsyncIterator[bytes]:
    """The SSE byte stream of one job (JobNotFound is raised before the first frame)."""
    from starlette.concurrency import run_in_threadpool

    manager.load(job_id)
    yield f"retry: {RETRY_MS}\n\n".encode()
    conn: sqlite3.Connection | None = None
    last_status: dict[str, Any] | None = None
    delay = POLL_MIN_S
    idle_since = time.monotonic()
    try:
        while True:
            if conn is None:
                conn = await run_in_threadpool(read_only_db)
            try:
                status = await run_in_threadpool(job_status, manager, job_id, conn)
            except JobNotFound:
                yield frame("end", {"id": job_id, "status": "gone"}, cursor.token())
                return
            batch = await run_in_threadpool(read_batch, job_id, cursor, conn)
            for kind, data, after in batch:
                cursor = after
                yield frame(kind, data, cursor.token())
            if status != last_status:
                last_status = status
                yield frame("job", status, cursor.token())
            if status["status"] in FINAL and not batch:
                yield frame("end", status, cursor.token())
                return
            if batch:
                delay, idle_since = POLL_MIN_S, time.monotonic()
            else:
                delay = min(POLL_MAX_S, delay * 1.5)
                if time.monotonic() - idle_since >= KEEPALIVE_S:
                    idle_since = time.monotonic()
                    yield b": keep-alive\n\n"
            await asyncio.sleep(delay)  # polling back-off between reads of files the runner appends to
    finally:
        if conn is not None:
            conn.close()

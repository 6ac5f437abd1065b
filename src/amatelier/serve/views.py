"""What GET /v1/jobs/{id} shows: the job record joined with what the runner wrote so far.

Reads only: the run manifest (current stage), the chat database read-only (cost and tokens so
far from llm_calls, the roundtable's status) and, once the job finished, its digest.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from amatelier import paths
from amatelier.atomicio import read_json
from amatelier.serve.jobs import FINAL
from amatelier.telemetry.manifest import current_stage


def read_only_db() -> sqlite3.Connection | None:
    """A read-only connection to the chat database (None before the first roundtable)."""
    if not paths.user_db_path().exists():
        return None
    from amatelier.chat.db import connect

    try:
        return connect(readonly=True)
    except sqlite3.Error:
        return None


def usage_so_far(conn: sqlite3.Connection | None, rt_id: str) -> dict[str, Any]:
    """Calls, tokens and cost recorded for a roundtable up to now."""
    empty = {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": None}
    if conn is None:
        return empty
    try:
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), SUM(cost_usd)"
            " FROM llm_calls WHERE rt_id = ?", (rt_id,)).fetchone()
    except sqlite3.Error:
        return empty
    return {"calls": int(row[0]), "input_tokens": int(row[1]), "output_tokens": int(row[2]),
            "cost_usd": round(float(row[3]), 6) if row[3] is not None else None}


def roundtable_status(conn: sqlite3.Connection | None, rt_id: str) -> str | None:
    if conn is None:
        return None
    try:
        row = conn.execute("SELECT status FROM roundtables WHERE id = ?", (rt_id,)).fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def read_digest(rt_id: str) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        digest = read_json(paths.user_digest_dir() / f"digest-{rt_id}.json", None)
        return digest if isinstance(digest, dict) else None
    return None


def read_manifest(rt_id: str) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        manifest = read_json(paths.user_run_dir(rt_id) / "manifest.json", None)
        return manifest if isinstance(manifest, dict) else None
    return None


def links(job_id: str) -> dict[str, str]:
    base = f"/v1/jobs/{job_id}"
    return {"self": base, "stream": f"{base}/stream", "cancel": f"{base}/cancel"}


def job_view(record: dict[str, Any], *, full: bool = True,
             conn: sqlite3.Connection | None = None) -> dict[str, Any]:
    """The JSON a client sees for one job (`full`: with the digest and decision when finished)."""
    job_id = record["id"]
    manifest = read_manifest(job_id)
    view: dict[str, Any] = {
        "id": job_id,
        "status": record.get("status"),
        "stage": current_stage(manifest) if manifest else None,
        "created_at": record.get("created_at"),
        "started_at": record.get("started_at"),
        "ended_at": record.get("ended_at"),
        "exit_code": record.get("exit_code"),
        "error": record.get("error"),
        "request": record.get("request"),
        "roundtable_status": roundtable_status(conn, job_id),
        "usage": usage_so_far(conn, job_id),
        "links": links(job_id),
    }
    view["cost_usd"] = view["usage"]["cost_usd"]
    if full:
        digest = read_digest(job_id) if record.get("status") in FINAL else None
        view["digest"] = digest
        view["decision"] = digest.get("decision") if isinstance(digest, dict) else None
    return view

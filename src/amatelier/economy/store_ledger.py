"""store/ledger.json: the record of purchases and requests, reconciled with the spark ledger in the DB.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from amatelier import atomicio, paths
from amatelier.economy.catalog import (
    _deliver_pending,
)

log = logging.getLogger(__name__)

# A request still waiting for someone: `addressed` = a debrief reviewed it, the admin has not answered yet.
PENDING_REQUEST_STATUSES = ("open", "addressed")


def empty_ledger() -> dict[str, Any]:
    return {"version": 1, "purchases": {}, "requests": [], "grants": {}, "aged_rts": []}


def _normalise(data: Any) -> dict[str, Any]:
    base = empty_ledger()
    if isinstance(data, dict):
        for key, default in base.items():
            value = data.get(key, default)
            base[key] = value if isinstance(value, type(default)) else default
    return base


def _db_purchases(conn: sqlite3.Connection) -> tuple[dict[str, dict[str, Any]], set[str]]:
    purchases = {}
    for row in conn.execute("SELECT agent, amount, ref, meta, created_at FROM spark_ledger"
                            " WHERE category = 'purchase' AND ref IS NOT NULL ORDER BY id"):
        meta = json.loads(row["meta"] or "{}")
        purchases[row["ref"]] = {"agent": row["agent"], "price": -int(row["amount"]),
                                 "purchased_at": row["created_at"], **meta}
    refunds = {row[0] for row in conn.execute(
        "SELECT ref FROM spark_ledger WHERE category = 'refund' AND ref IS NOT NULL")}
    return purchases, refunds


def _initial_status(kind: str) -> str:
    return {"boost": "pending", "skill": "owned", "tier": "owned", "service": "open"}.get(kind, "owned")


def reconcile(data: Mapping[str, Any], db_purchases: Mapping[str, Mapping[str, Any]],
              refunds: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    """Bring ledger.json in line with the database (pure): what changed is listed.

    Every purchase row gets an entry (new ones start undelivered); entries with no
    purchase row are dropped; refunded purchases are marked refunded.
    """
    result = _normalise(copy.deepcopy(dict(data)))
    changes = []
    entries = result["purchases"]
    for ref, row in db_purchases.items():
        if ref not in entries:
            kind = row.get("kind", "skill")
            entries[ref] = {"id": ref, "agent": row["agent"], "item": row.get("item"), "kind": kind,
                            "price": row["price"], "effect": row.get("effect", {}),
                            "purchased_at": row["purchased_at"], "status": _initial_status(kind),
                            "delivered": False, "rt_id": None}
            changes.append(f"added {ref}")
    for ref in [ref for ref in entries if ref not in db_purchases]:
        del entries[ref]
        changes.append(f"dropped {ref} (no purchase row)")
    for ref in refunds:
        entry = entries.get(ref)
        if entry is not None and entry.get("status") != "refunded":
            entry["status"] = "refunded"
            changes.append(f"refunded {ref}")
    return result, changes


def load_ledger(conn: sqlite3.Connection) -> dict[str, Any]:
    """store/ledger.json as the database says it must be (read-only; nothing is written)."""
    try:
        raw = atomicio.read_json(paths.user_store_ledger(), {})
    except ValueError:
        log.warning("store/ledger.json is not valid JSON; rebuilding it from the spark ledger")
        raw = {}
    data, _ = reconcile(raw, *_db_purchases(conn))
    return data


def save_ledger(data: Mapping[str, Any]) -> None:
    """Write store/ledger.json atomically under its lock."""
    with atomicio.file_lock(paths.user_store_ledger()):
        atomicio.write_json_atomic(paths.user_store_ledger(), _normalise(dict(data)))


@contextlib.contextmanager
def locked_ledger(conn: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    """Read-reconcile-deliver-modify-write store/ledger.json under its lock.

    Never opens a database write transaction while the lock is held (money moves
    before the lock is taken), so the two locks cannot deadlock.
    """
    path = paths.user_store_ledger()
    with atomicio.file_lock(path):
        try:
            raw = atomicio.read_json(path, {})
        except ValueError:
            keep = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            with contextlib.suppress(OSError):
                path.replace(keep)
            log.warning("store/ledger.json was not valid JSON (kept as %s); rebuilt from the spark ledger",
                        keep.name)
            raw = {}
        data, _ = reconcile(raw, *_db_purchases(conn))
        _deliver_pending(data)
        yield data
        atomicio.write_json_atomic(path, data)


def sync_ledger(conn: sqlite3.Connection) -> dict[str, Any]:
    """Reconcile with the database, finish any interrupted delivery, save; returns the state."""
    with locked_ledger(conn) as data:
        return copy.deepcopy(data)



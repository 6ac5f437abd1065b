"""Finish what a roundtable could not: mark it cut and give its entry fees back.

A runner that dies, or meets a full disk while it closes, leaves its roundtable `open`
with fees charged. The next command that touches the economy marks such a roundtable
cut (its runner is gone) and refunds the fees of every cut, unscored roundtable. Reads
come first, so nothing is written when nothing is due, and a read-only workspace is
never asked to write.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any


def due(conn: sqlite3.Connection) -> bool:
    """Whether an orphaned roundtable or an unrefunded cut fee waits (read-only query)."""
    from amatelier.chat import roundtables

    try:
        for rt in roundtables.list_roundtables(conn, status_filter=roundtables.OPEN, limit=50):
            if roundtables.runner_gone(rt):
                return True
        row = conn.execute(
            "SELECT 1 FROM spark_ledger f JOIN roundtables r ON r.id = f.rt_id"
            " WHERE f.category = 'fee' AND r.status = 'cut'"
            " AND NOT EXISTS (SELECT 1 FROM scores s WHERE s.rt_id = f.rt_id AND s.agent = f.agent)"
            " AND NOT EXISTS (SELECT 1 FROM spark_ledger x WHERE x.category = 'refund'"
            "   AND x.agent = f.agent AND x.ref = 'fee:' || f.rt_id) LIMIT 1").fetchone()
    except sqlite3.Error:
        return False
    return row is not None


def settle(conn: sqlite3.Connection) -> dict[str, Any]:
    """Cut orphaned roundtables and refund cut fees on a writable connection."""
    from amatelier.chat import roundtables
    from amatelier.economy.ledger import refund_cut_fees

    cut = roundtables.cut_orphans(conn)
    refunded = refund_cut_fees(conn)
    return {"cut": [rt_id for rt_id, _ in cut], "refunded": refunded}


def settle_if_due(reader: sqlite3.Connection) -> dict[str, Any] | None:
    """With `reader` showing work due, settle it over a short writable connection (best effort).

    A read-only or full workspace cannot settle: the command goes on reading, and the next
    command on a writable workspace does it.
    """
    if not due(reader):
        return None
    from amatelier.chat.db import open_db
    from amatelier.paths import WorkspaceNotWritable

    with contextlib.suppress(sqlite3.Error, OSError, WorkspaceNotWritable):
        writer = open_db()
        try:
            return settle(writer)
        finally:
            writer.close()
    return None

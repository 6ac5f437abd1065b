"""The full-text index over every roundtable (schema and backfill: amatelier.migrations.search_schema).

Migration 010 builds it; this module adds what the search code needs on top: whether the
index exists, a full rebuild, and the repair of a decision feed older than its table.
"""

from __future__ import annotations

import sqlite3

from amatelier.migrations.search_schema import (
    DOCS,
    FTS,
    FTS_COLUMNS,
    MESSAGE_KINDS,
    Progress,
    backfill,
    create_index,
    decision_columns,
    decision_insert_sql,
    decision_triggers_sql,
    index_exists,
    utils_db,
)

__all__ = ["DOCS", "FTS", "FTS_COLUMNS", "MESSAGE_KINDS", "backfill", "create_index", "decision_columns",
           "ensure_decision_feed", "index_exists", "rebuild", "utils_db"]


def rebuild(conn: sqlite3.Connection, progress: Progress | None = None) -> int:
    """Re-index everything from the source tables (e.g. after a hand edit); returns rows indexed."""
    conn.execute(f"DELETE FROM {DOCS}")
    total = backfill(conn, progress)
    utils_db(conn)[DOCS].rebuild_fts()
    return total


def ensure_decision_feed(conn: sqlite3.Connection) -> bool:
    """Add the decision triggers (and index the records so far) if the index predates the decisions table.

    A database migrated to 010 before migration 006 existed has the index but no decision
    feed; this repairs it once (idempotent, cheap when nothing is missing). Returns True
    when it changed something.
    """
    columns = decision_columns(conn)
    if columns is None or not index_exists(conn):
        return False
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'search_feed_decision_ai'"
                    ).fetchone():
        return False
    from amatelier.chat.db import transaction

    rec, rt, when = columns
    with transaction(conn):
        utils_db(conn).executescript(decision_triggers_sql(rec, rt, when))
        conn.execute(decision_insert_sql("decisions", rec, rt, when)
                     + f" FROM decisions WHERE json_valid(decisions.{rec})"
                     f" AND decisions.{rt} NOT IN (SELECT rt_id FROM {DOCS} WHERE kind = 'decision')")
    return True

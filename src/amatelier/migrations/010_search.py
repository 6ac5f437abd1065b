"""Migration 010: the full-text search index (see amatelier.search.index).

Python rather than SQL because the index is built through sqlite-utils; the migrator
runs `upgrade(conn)` inside its BEGIN IMMEDIATE and records the version in the same
transaction.
"""

from __future__ import annotations

import sqlite3


def upgrade(conn: sqlite3.Connection) -> None:
    from amatelier.search.index import create_index

    create_index(conn)

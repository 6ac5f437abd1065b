"""Migration 010: the full-text search index (see amatelier.migrations.search_schema).

Python rather than SQL because the index is built through sqlite-utils; the migrator
runs `upgrade(conn)` inside its BEGIN IMMEDIATE and records the version in the same
transaction.
"""

from __future__ import annotations

import sqlite3

from amatelier.migrations.search_schema import create_index


def upgrade(conn: sqlite3.Connection) -> None:
    create_index(conn)

"""Building a database as an older release left it: migrations applied one file at a time."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from amatelier.chat import db as chatdb


def apply_migration_file(conn: sqlite3.Connection, path: Path) -> None:
    """Run one migration (an SQL script, or a Python migration's upgrade) without recording it."""
    if path.suffix == ".py":
        chatdb.migration_module(path).upgrade(conn)
    else:
        conn.executescript(path.read_text(encoding="utf-8"))

"""Bring a Ray run home: the roundtable it ran in a temporary workspace, into the user's.

On the node, `export_run` reads the roundtable row, its transcript and its llm_calls rows
from the temporary database. On the driver, `import_run` records the roundtable (with its
batch) and its model calls in the user's database, once, and writes its digest and
transcript where a local run's would be. Message ids are not carried over (the user's
database numbers its own), so the transcript is kept as a file beside the run instead.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from amatelier import paths
from amatelier.atomicio import write_json_atomic


def export_run(db_path: Path, rt_id: str) -> dict[str, Any] | None:
    """{roundtable, messages, llm_calls} of one roundtable in a (temporary) database."""
    if not Path(db_path).is_file():
        return None
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM roundtables WHERE id = ?", (rt_id,)).fetchone()
        if row is None:
            return None
        messages = [dict(r) for r in conn.execute("SELECT * FROM messages WHERE rt_id = ? ORDER BY id", (rt_id,))]
        calls = [dict(r) for r in conn.execute("SELECT * FROM llm_calls WHERE rt_id = ? ORDER BY id", (rt_id,))]
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return {"roundtable": dict(row), "messages": messages, "llm_calls": calls}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any], columns: list[str]) -> None:
    keep = [c for c in columns if c in row and (c != "id" or table == "roundtables")]
    conn.execute(f"INSERT INTO {table} ({', '.join(keep)}) VALUES ({', '.join('?' for _ in keep)})",
                 [row[c] for c in keep])


def import_run(exported: dict[str, Any], digest: dict[str, Any], transcript_path: Path) -> bool:
    """Record a Ray run in the user's workspace; False when it was already there."""
    from amatelier.chat.db import open_db, transaction

    rt = exported["roundtable"]
    write_json_atomic(transcript_path, exported.get("messages") or [])
    write_json_atomic(paths.user_digest_dir() / f"digest-{rt['id']}.json", digest)
    conn = open_db()
    try:
        with transaction(conn):
            if conn.execute("SELECT 1 FROM roundtables WHERE id = ?", (rt["id"],)).fetchone():
                return False
            _insert(conn, "roundtables", rt, _columns(conn, "roundtables"))
            call_columns = _columns(conn, "llm_calls")
            for call in exported.get("llm_calls") or []:
                _insert(conn, "llm_calls", call, call_columns)
    finally:
        conn.close()
    return True


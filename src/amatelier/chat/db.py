"""SQLite connection and migrations for roundtable.db.

WAL mode lets the runner, every worker, `amatelier watch` and the MCP server read
while one of them writes. Connections are in autocommit mode; multi-statement writes
use `transaction()` (BEGIN IMMEDIATE) so a writer takes the lock up front and a busy
database is waited on (busy_timeout) rather than failing half-way.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from amatelier import paths
from amatelier.atomicio import file_lock

BUSY_TIMEOUT_MS = 15000
_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.(sql|py)$")


def connect(db_path: Path | None = None, *, readonly: bool = False) -> sqlite3.Connection:
    """Open a connection with WAL, busy_timeout and foreign keys; rows behave like dicts."""
    path = Path(db_path) if db_path is not None else paths.user_db_path()
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        _ensure_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _retry_busy(action: Callable[[], object], attempts: int, first_delay_s: float) -> None:
    """Run `action`, retrying "database is locked/busy" with exponential back-off.

    For the few statements SQLite may refuse as busy without calling the busy handler;
    any other error, or the last attempt's, is raised.
    """
    for attempt in range(attempts - 1):
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(first_delay_s * (2**attempt))
    action()


def _ensure_wal(conn: sqlite3.Connection, attempts: int = 8) -> None:
    """Switch to WAL once per database file (the mode persists).

    Switching needs a moment of exclusive access; when several processes open a brand-new
    database together, SQLite may answer "database is locked" without calling the busy
    handler, so the switch is retried with back-off.
    """

    def switch() -> None:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")

    _retry_busy(switch, attempts, 0.02)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
    _begin_immediate(conn)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _begin_immediate(conn: sqlite3.Connection, attempts: int = 5) -> None:
    """busy_timeout covers most contention; a rare SQLITE_BUSY on BEGIN is retried with backoff."""
    _retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"), attempts, 0.05)


def available_migrations(directory: Path | None = None) -> list[tuple[int, str, Path]]:
    directory = directory or paths.bundled_migrations_dir()
    found = []
    for path in sorted(directory.iterdir()):
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), match.group(2), path))
    return found


def applied_versions(conn: sqlite3.Connection) -> set[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def migrate(conn: sqlite3.Connection, db_path: Path | None = None) -> list[int]:
    """Apply pending migrations in order; safe when several processes start at once."""
    path = Path(db_path) if db_path is not None else paths.user_db_path()
    pending = [m for m in available_migrations() if m[0] not in applied_versions(conn)]
    if not pending:
        return []
    applied: list[int] = []
    with file_lock(path):
        done = applied_versions(conn)
        for version, name, sql_path in available_migrations():
            if version in done:
                continue
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            record = (f"INSERT INTO schema_migrations(version, name, applied_at)"
                      f" VALUES ({version}, '{name}', '{stamp}')")
            if sql_path.suffix == ".py":
                _run_python_migration(conn, sql_path, record)
            else:
                sql = sql_path.read_text(encoding="utf-8")
                conn.executescript("BEGIN IMMEDIATE;\n" + sql + "\n;" + record + ";\nCOMMIT;")
            applied.append(version)
    return applied


def _run_python_migration(conn: sqlite3.Connection, path: Path, record: str) -> None:
    """Run a `NNN_name.py` migration's upgrade(conn) and record it, in one transaction.

    For schema that a library builds (the search index through sqlite-utils); the file
    is bundled with the package like the .sql ones and loaded by path.
    """
    spec = importlib.util.spec_from_file_location(f"amatelier.migrations.m{path.stem}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load migration {path.name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with transaction(conn):
        module.upgrade(conn)
        conn.execute(record)


def open_db(db_path: Path | None = None) -> sqlite3.Connection:
    """The normal way in: make sure the workspace exists, connect, migrate."""
    if db_path is None:
        paths.ensure_user_data()
    conn = connect(db_path)
    migrate(conn, db_path)
    return conn

"""SQLite connection and migrations for roundtable.db.

WAL mode lets the runner, every worker, `amatelier watch` and the MCP server read
while one of them writes. Connections are in autocommit mode; multi-statement writes
use `transaction()` (BEGIN IMMEDIATE) so a writer takes the lock up front and a busy
database is waited on (busy_timeout) rather than failing half-way.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from amatelier import paths
from amatelier.atomicio import file_lock
from amatelier.chat.faults import FULL, READ_ONLY, DatabaseFault, as_fault, is_fault

BUSY_TIMEOUT_MS = 15000
_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.(sql|py)$")


def connect(db_path: Path | None = None, *, readonly: bool = False) -> sqlite3.Connection:
    """Open a connection with WAL, busy_timeout and foreign keys; rows behave like dicts.

    A read-only workspace, a full disk or a damaged file raises DatabaseFault (one line
    naming the file, the fault and the fix) instead of a bare sqlite3 error.
    """
    path = Path(db_path) if db_path is not None else paths.user_db_path()
    try:
        return _connect(path, readonly)
    except (sqlite3.Error, OSError) as exc:
        if is_fault(exc):
            raise as_fault(exc, path) from None
        raise


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        try:
            conn = _configure(_open_readonly(path, immutable=False), readonly=True)
        except sqlite3.OperationalError:
            # A WAL database in a directory we cannot write: SQLite cannot create the -shm
            # file beside it. Nothing can be writing there either, so read it as immutable.
            if not path.is_file():
                raise
            conn = _configure(_open_readonly(path, immutable=True), readonly=True)
        return conn
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                           check_same_thread=False)
    return _configure(conn, readonly=False)


def _open_readonly(path: Path, *, immutable: bool) -> sqlite3.Connection:
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    return sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True, isolation_level=None,
                           timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)


def _configure(conn: sqlite3.Connection, *, readonly: bool) -> sqlite3.Connection:
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if readonly:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opens the file now
        else:
            _ensure_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
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
    try:
        pending = [m for m in available_migrations() if m[0] not in applied_versions(conn)]
        if not pending:
            return []
        with file_lock(path):
            return _apply_pending(conn)
    except (sqlite3.Error, OSError) as exc:
        if is_fault(exc):
            raise as_fault(exc, path) from None
        raise


def _apply_pending(conn: sqlite3.Connection) -> list[int]:
    applied: list[int] = []
    done = applied_versions(conn)
    for version, name, sql_path in available_migrations():
        if version in done:
            continue
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record = (f"INSERT INTO schema_migrations(version, name, applied_at)"
                  f" VALUES ({version}, '{name}', '{stamp}')")
        if sql_path.suffix == ".py":
            _run_python_migration(conn, sql_path, record)
            applied.append(version)
            continue
        sql = sql_path.read_text(encoding="utf-8")
        try:
            conn.executescript("BEGIN IMMEDIATE;\n" + sql + "\n;" + record + ";\nCOMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def _run_python_migration(conn: sqlite3.Connection, path: Path, record: str) -> None:
    """Run a `NNN_name.py` migration's upgrade(conn) and record it, in one transaction.

    For schema that a library builds (the search index through sqlite-utils); the file
    is bundled with the package like the .sql ones and loaded by path.
    """
    module = migration_module(path)
    with transaction(conn):
        module.upgrade(conn)
        conn.execute(record)


def migration_module(path: Path) -> ModuleType:
    """A `NNN_name.py` migration, loaded by path (its name is not an importable identifier)."""
    spec = importlib.util.spec_from_file_location(f"amatelier.migrations.m{path.stem}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load migration {path.name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pending_migrations(conn: sqlite3.Connection) -> list[int]:
    """Versions not applied yet, read without writing (works on a read-only connection)."""
    try:
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    except sqlite3.OperationalError:
        done = set()
    return [version for version, _, _ in available_migrations() if version not in done]


def open_db(db_path: Path | None = None) -> sqlite3.Connection:
    """The normal way in: make sure the workspace exists, connect, migrate."""
    if db_path is None:
        paths.ensure_user_data()
    conn = connect(db_path)
    try:
        migrate(conn, db_path)
    except BaseException:
        conn.close()
        raise
    return conn


def open_for_reading(db_path: Path | None = None) -> sqlite3.Connection:
    """A connection for commands that only read (sparks, leaderboard, store list, watch, MCP reads).

    An up-to-date database is opened read-only, so these commands work on a read-only
    workspace. A missing or outdated one is created or migrated when the workspace is
    writable; when it is not, an outdated file is still read as it is, and a missing one
    reads as an empty database (in memory, nothing written). A damaged file raises
    DatabaseFault and is left untouched.
    """
    path = Path(db_path) if db_path is not None else paths.user_db_path()
    if path.is_file():
        conn = connect(path, readonly=True)
        if not pending_migrations(conn):
            return conn
        conn.close()
    try:
        return open_db(db_path)
    except (DatabaseFault, paths.WorkspaceNotWritable) as exc:
        if isinstance(exc, DatabaseFault) and exc.kind not in (READ_ONLY, FULL):
            raise
    if path.is_file():
        return connect(path, readonly=True)
    return empty_db()


def empty_db() -> sqlite3.Connection:
    """An in-memory database with the current schema: what a workspace without one reads as."""
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    applied_versions(conn)
    _apply_pending(conn)
    return conn


def json_object(text: str) -> dict[str, Any] | None:
    """A JSON column read back as a dict; None when it is unreadable or not an object."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None

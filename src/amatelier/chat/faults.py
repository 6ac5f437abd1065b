"""What a database or disk fault means for the user, in one line: the file, the fault, the fix.

SQLite reports a read-only workspace, a full disk and a damaged file as terse errors
("unable to open database file", "database or disk is full", "database disk image is
malformed") deep inside whatever command was running. `classify` names the fault and
`describe` turns it into the line the CLI prints. A damaged database is never repaired,
replaced or deleted here: the line tells the user how to move it aside themselves.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

FULL = "full"
READ_ONLY = "read_only"
DAMAGED = "damaged"
LOCKED = "locked"
IO = "io"
OTHER = "other"

_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}


class DatabaseFault(sqlite3.DatabaseError):
    """The database (or the disk under it) cannot be used as it is; the message is one line.

    A sqlite3.DatabaseError, so code that already tolerates database errors still does.
    """

    exit_code = 2

    def __init__(self, message: str, *, kind: str = OTHER, path: Path | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.path = path


def classify(exc: BaseException, db_path: Path | str | None = None) -> str | None:
    """The fault an exception reports (FULL, READ_ONLY, DAMAGED, LOCKED, IO, OTHER), None when not one.

    SQLite often reports a full disk as a plain "disk I/O error" (its -shm or -wal file
    could not grow); with `db_path` given, an I/O error on a disk with almost no free
    space is called what it is.
    """
    if isinstance(exc, DatabaseFault):
        return exc.kind
    kind = _classify(exc)
    if kind == IO and db_path is not None and disk_nearly_full(Path(db_path)):
        return FULL
    return kind


def disk_nearly_full(path: Path, threshold_bytes: int = 256 * 1024) -> bool:
    """Whether the file system holding `path` (or its nearest existing parent) is all but full."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free < threshold_bytes
    except OSError:
        return False


def _classify(exc: BaseException) -> str | None:
    text = str(exc).lower()
    if isinstance(exc, OSError):
        if exc.errno in _FULL_ERRNOS:
            return FULL
        if exc.errno in _READ_ONLY_ERRNOS:
            return READ_ONLY
        if exc.errno == errno.EIO:
            return IO
        return None
    if not isinstance(exc, sqlite3.Error):
        return None
    if "disk is full" in text or "no space" in text:
        return FULL
    if "malformed" in text or "not a database" in text or "disk image" in text:
        return DAMAGED
    if ("readonly" in text or "read-only" in text or "unable to open database" in text
            or "attempt to write" in text or "authorization denied" in text):
        return READ_ONLY
    if "locked" in text or "busy" in text:
        return LOCKED
    if "disk i/o error" in text:
        return IO
    return OTHER


def _detail(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def describe(exc: BaseException, db_path: Path | str) -> str:
    """The one line for a fault: which file, what is wrong, what to do."""
    if isinstance(exc, DatabaseFault):
        return str(exc)
    kind = classify(exc, db_path) or OTHER
    detail = _detail(exc)
    target = str(exc.filename) if isinstance(exc, OSError) and exc.filename else str(db_path)
    what = "the database" if target == str(db_path) else "the file"
    if kind == FULL:
        return (f"the disk holding {what} {target} is full ({detail}): free some space and run the "
                "command again; what was already saved is kept")
    if kind == READ_ONLY:
        return (f"cannot write {what} {target}: the workspace is read-only or not writable by you "
                f"({detail}); point AMATELIER_WORKSPACE at a writable directory or fix its permissions "
                "(read-only commands such as sparks, leaderboard and watch still work)")
    if kind == DAMAGED:
        return (f"the database {db_path} is damaged ({detail}); it was left untouched: move it aside "
                f"(mv '{db_path}' '{db_path}.damaged') to start a new one, or restore it from a backup")
    if kind == LOCKED:
        return (f"the database {db_path} stayed locked by another amatelier process ({detail}); "
                "wait for it to finish and run the command again")
    if kind == IO:
        return (f"the disk reported an I/O error on {what} {target} ({detail}); check the disk and "
                "run the command again")
    return f"database error on {db_path}: {detail}"


def as_fault(exc: BaseException, db_path: Path | str) -> DatabaseFault:
    """`exc` as a DatabaseFault carrying the one-line description."""
    if isinstance(exc, DatabaseFault):
        return exc
    return DatabaseFault(describe(exc, db_path), kind=classify(exc, db_path) or OTHER, path=Path(db_path))


def is_fault(exc: BaseException) -> bool:
    """Whether `exc` is a database or disk fault the user should get one line for."""
    return classify(exc) is not None

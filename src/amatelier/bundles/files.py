"""Safe relative paths, limits, hashes, and bounded reads of files under one directory.

Every path a manifest or an archive names is checked here before it is used, so a
package can never reach outside the agent's directory: no absolute path, no drive
letter, no '..', no backslash, no control character, no link.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from amatelier.bundles import BundleError
from amatelier.persona_files import MANIFEST_NAME

MANIFEST = MANIFEST_NAME  # the installed agent reads the same file (persona variants)
SIGNATURE = "signature.sig"
RESERVED_PATHS = frozenset({MANIFEST, SIGNATURE})

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_FILES = 2000
MAX_PATH_CHARS = 255
MAX_DEPTH = 8


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in chunks (a package may be tens of megabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_rel_path(path: str, *, what: str = "path") -> str:
    """The path itself when it is a safe relative POSIX path; a BundleError naming the problem otherwise."""
    if not isinstance(path, str) or not path:
        raise BundleError(f"empty {what}")
    if len(path) > MAX_PATH_CHARS:
        raise BundleError(f"{what} {path[:60]!r}... is longer than {MAX_PATH_CHARS} characters")
    if any(ord(ch) < 32 or ch == "\x7f" for ch in path):
        raise BundleError(f"{what} {path!r} contains a control character")
    if "\\" in path:
        raise BundleError(f"{what} {path!r} contains a backslash")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise BundleError(f"{what} {path!r} is absolute")
    segments = path.split("/")
    if ".." in segments:
        raise BundleError(f"{what} {path!r} climbs out with '..'")
    if any(segment in ("", ".") for segment in segments):
        raise BundleError(f"{what} {path!r} has an empty or '.' component")
    if len(segments) > MAX_DEPTH:
        raise BundleError(f"{what} {path!r} is nested deeper than {MAX_DEPTH} directories")
    return path


class Budget:
    """Counts files and bytes read against the limits; raises as soon as one is exceeded."""

    def __init__(self, max_files: int = MAX_FILES, max_total: int = MAX_TOTAL_BYTES,
                 max_file: int = MAX_FILE_BYTES) -> None:
        self.max_files, self.max_total, self.max_file = max_files, max_total, max_file
        self.files = 0
        self.total = 0

    def take(self, path: str, size: int) -> None:
        self.files += 1
        self.total += size
        if size > self.max_file:
            raise BundleError(f"{path} is {size} bytes; a file may hold at most {self.max_file}")
        if self.files > self.max_files:
            raise BundleError(f"more than {self.max_files} files")
        if self.total > self.max_total:
            raise BundleError(f"more than {self.max_total} bytes in all")


def read_tree_file(root: Path, rel: str, budget: Budget) -> bytes:
    """Read root/rel, refusing links (at any level), non-regular files and oversized files."""
    rel = check_rel_path(rel)
    current = root
    for part in rel.split("/"):
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            raise BundleError(f"{rel} is missing from {root}") from None
        except OSError as exc:
            raise BundleError(f"{rel} cannot be read: {exc.strerror or exc}") from None
        if stat.S_ISLNK(info.st_mode):
            raise BundleError(f"{rel} is (or passes through) a symbolic link; links are refused")
    if not stat.S_ISREG(info.st_mode):
        raise BundleError(f"{rel} is not a regular file")
    budget.take(rel, info.st_size)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(current, flags)
    except OSError as exc:
        raise BundleError(f"{rel} cannot be read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(budget.max_file + 1)
    if len(data) > budget.max_file:
        raise BundleError(f"{rel} grew past {budget.max_file} bytes while being read")
    return data


def read_tree(root: Path, rel_paths: list[str], budget: Budget | None = None) -> dict[str, bytes]:
    """{path: bytes} for the listed files under root, each read with `read_tree_file`."""
    budget = budget or Budget()
    return {rel: read_tree_file(root, rel, budget) for rel in rel_paths}


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Write files under a fresh directory `root`, creating each file exclusively.

    The paths were checked already; they are checked again here because this is where a
    bad one would do harm, and O_EXCL|O_NOFOLLOW means nothing pre-existing is followed.
    """
    root.mkdir(parents=True, exist_ok=False)
    base = root.resolve()
    for rel, data in files.items():
        clean = check_rel_path(rel)
        target = base / clean
        if base not in target.parents:
            raise BundleError(f"{rel} would land outside {root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

"""The Steward's security boundary: the one check every path goes through before a read.

A model asks for paths; the user's briefing says which files it may see. `check_path`
resolves a candidate with symlinks followed and allows it only when the real path is a
registered file, or matches a registered glob inside the launch directory, and is a
regular file under the size cap, with one link (a hard link is admitted only when its
inode is itself a registered file). Any OSError met on the way (a file swapped
mid-check) becomes an OutOfScope or NotFound answer. `read_scoped` is the only function that opens a file on
the Steward's behalf, and it opens only what `check_path` allowed, with O_NOFOLLOW, and
re-checks the opened file is the one that was checked.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from amatelier.steward.registry import BRIEFING_NAME, Registry

DEFAULT_MAX_FILE_BYTES = 1_000_000
MAX_PATH_CHARS = 4096
MAX_WALK_ENTRIES = 20_000
BRIEFING_ALIASES = (BRIEFING_NAME, "the briefing")


class ScopeError(Exception):
    """A lookup that cannot read the path; `status` is the Steward result status to report."""

    status = "error"

    def __init__(self, reason: str, candidate: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.candidate = candidate


class OutOfScope(ScopeError):
    """The path is not a registered regular file under the cap (nothing was opened)."""

    status = "out_of_scope"


class NotFound(ScopeError):
    """The path is in scope but does not exist."""

    status = "not_found"


@dataclass(frozen=True)
class ScopedRead:
    """The bytes of one in-scope file (never more than the cap)."""

    path: Path
    data: bytes

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a POSIX glob (`*`, `?`, `[...]`, `**`) into a regex over a relative path."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**/", i):
                out.append("(?:[^/]*/)*")
                i += 3
                continue
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end + 1
                continue
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("(?s:" + "".join(out) + r")\Z")


def glob_matches(relative: str, pattern: str) -> bool:
    """Whether a launch-relative POSIX path matches a registered glob.

    Wildcards never match hidden names (a component starting with '.') unless the
    pattern itself names a hidden component: `**` does not hand out `.env` or `.git/`.
    """
    if not glob_regex(pattern).match(relative):
        return False
    hidden = [part for part in relative.split("/") if part.startswith(".")]
    if not hidden:
        return True
    named = [part for part in pattern.split("/") if part.startswith(".")]
    return all(any(glob_regex(name).match(part) for name in named) for part in hidden)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _coerce(candidate: object) -> str:
    if isinstance(candidate, bytes):
        raise OutOfScope("path given as bytes", repr(candidate)[:80])
    try:
        text = os.fspath(candidate)  # type: ignore[call-overload]
    except TypeError as exc:
        raise OutOfScope("not a path", repr(candidate)[:80]) from exc
    if "\x00" in text:
        raise OutOfScope("NUL byte in path", text.replace("\x00", "\\0")[:200])
    text = text.strip()
    if not text:
        raise OutOfScope("empty path", text)
    if len(text) > MAX_PATH_CHARS:
        raise OutOfScope("path too long", text[:80] + "...")
    return text


def _registered_match(real: str, lexical: str, registry: Registry) -> str | None:
    """None when `real` is in scope, else why not (the candidate has not been opened)."""
    root = str(registry.launch_dir)
    if registry.briefing is not None and real == os.path.realpath(registry.briefing):
        return None
    for entry in registry.files:
        entry_real = os.path.realpath(entry.path)
        if real != entry_real:
            continue
        entry_inside = _inside(str(entry.path), root)
        if entry_inside and not _inside(entry_real, root):
            return "registered path is a symlink leading outside the launch directory"
        if not entry_inside and os.path.islink(entry.path):
            return "registered path is a symlink"
        return None
    if _inside(real, root):
        relative = os.path.relpath(real, root).replace(os.sep, "/")
        if registry.allow_dirs or any(glob_matches(relative, glob) for glob in registry.globs):
            return None
    if not _inside(lexical, root):
        return "path leads outside the launch directory and is not a registered file"
    if not _inside(real, root):
        return "symlink leads outside the launch directory"
    return "not a registered file"


def _answer_for(exc: OSError, registry: Registry, path: str, text: str, doing: str) -> ScopeError:
    """An OSError met while checking or reading, as an answer (never a raw exception).

    A file swapped, removed or made unreadable mid-check is `not_found` or `out_of_scope`;
    the message names the path as agents see it, never the OS error's own text.
    """
    shown = registry.display(path)
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotFound(f"no such file: {shown}", text)
    if exc.errno == errno.ELOOP:
        return OutOfScope(f"path became a symlink after the check ({shown})", text)
    return OutOfScope(f"cannot {doing} {shown} ({errno.errorcode.get(exc.errno or 0, 'error')})", text)


def _registered_inodes(registry: Registry) -> set[tuple[int, int]]:
    """(device, inode) of every explicitly registered file that exists."""
    found: set[tuple[int, int]] = set()
    named = [entry.path for entry in registry.files]
    if registry.briefing is not None:
        named.append(registry.briefing)
    for path in named:
        try:
            info = os.stat(path)
        except OSError:
            continue
        found.add((info.st_dev, info.st_ino))
    return found


def _refuse_hard_link(info: os.stat_result, registry: Registry, text: str) -> None:
    """A regular file with more than one link is refused unless it is itself a registered file.

    A hard link carries another file's bytes under an in-scope name (`docs/hard.md` linked to a
    secret elsewhere); only an explicit registration of that very inode admits it.
    """
    if info.st_nlink > 1 and (info.st_dev, info.st_ino) not in _registered_inodes(registry):
        raise OutOfScope(f"hard link ({info.st_nlink} links): a file with more than one link is "
                         "readable only when registered by name", text)


def _check(candidate: object, registry: Registry, *, allow_dir: bool,
           max_bytes: int | None) -> tuple[Path, os.stat_result]:
    text = _coerce(candidate)
    if registry.briefing is not None and text.strip("`'\"").lower() in BRIEFING_ALIASES:
        text = str(registry.briefing)
    try:
        return _check_text(text, registry, allow_dir=allow_dir, max_bytes=max_bytes)
    except OSError as exc:
        raise _answer_for(exc, registry, text, text, "check") from None


def _check_text(text: str, registry: Registry, *, allow_dir: bool,
                max_bytes: int | None) -> tuple[Path, os.stat_result]:
    joined = text if os.path.isabs(text) else os.path.join(registry.launch_dir, text)
    lexical = os.path.normpath(joined)
    real = os.path.realpath(joined)
    why = _registered_match(real, lexical, registry)
    if why:
        raise OutOfScope(why, text)
    try:
        info = os.stat(real)
    except OSError as exc:
        raise _answer_for(exc, registry, real, text, "check") from None
    if stat.S_ISDIR(info.st_mode) and allow_dir and registry.allow_dirs:
        return Path(real), info
    if not stat.S_ISREG(info.st_mode):
        raise OutOfScope(f"not a regular file ({_kind(info.st_mode)})", text)
    _refuse_hard_link(info, registry, text)
    cap = DEFAULT_MAX_FILE_BYTES if max_bytes is None else max_bytes
    if info.st_size > cap:
        raise OutOfScope(f"file is {info.st_size} bytes, over the {cap}-byte cap", text)
    return Path(real), info


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def check_path(candidate: object, registry: Registry, *, max_bytes: int | None = None,
               allow_dir: bool = False) -> Path:
    """The resolved real path of an in-scope regular file; raises OutOfScope or NotFound.

    Never opens the candidate. `allow_dir` admits directories only for a mirror registry.
    """
    return _check(candidate, registry, allow_dir=allow_dir, max_bytes=max_bytes)[0]


def read_scoped(candidate: object, registry: Registry, *,
                max_bytes: int | None = None) -> ScopedRead:
    """Check, then open and read an in-scope file (at most `max_bytes`)."""
    cap = DEFAULT_MAX_FILE_BYTES if max_bytes is None else max_bytes
    path, checked = _check(candidate, registry, allow_dir=False, max_bytes=cap)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    shown = registry.display(path)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _answer_for(exc, registry, str(path), shown, "open") from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
                checked.st_dev, checked.st_ino):
            raise OutOfScope("file changed between the check and the read", shown)
        _refuse_hard_link(opened, registry, shown)
        chunks: list[bytes] = []
        remaining = cap + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise _answer_for(exc, registry, str(path), shown, "read") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > cap:
        raise OutOfScope(f"file grew past the {cap}-byte cap", shown)
    return ScopedRead(path=path, data=data)


def _fixed_prefix(pattern: str) -> str:
    """The leading components of a glob that hold no wildcard (where a walk can start)."""
    fixed: list[str] = []
    for part in pattern.split("/")[:-1]:
        if any(ch in part for ch in "*?["):
            break
        fixed.append(part)
    return "/".join(fixed)


def walk_glob(pattern: str, registry: Registry) -> Iterator[str]:
    """Launch-relative paths a glob matches (symlinked dirs not followed, walk capped)."""
    root = str(registry.launch_dir)
    start = os.path.realpath(os.path.join(root, _fixed_prefix(pattern)))
    if not _inside(start, root) or not os.path.isdir(start):
        return
    seen = 0
    for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            seen += 1
            if seen > MAX_WALK_ENTRIES:
                return
            relative = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
            if glob_matches(relative, pattern):
                yield relative


def registered_paths(registry: Registry, *, limit: int = 200,
                     max_bytes: int | None = None) -> tuple[list[Path], list[tuple[str, str]]]:
    """Every in-scope file the registry names (each through check_path), and those refused.

    Returns (allowed real paths, [(entry, reason)]) in registration order, deduplicated.
    """
    allowed: list[Path] = []
    refused: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def consider(candidate: str, label: str) -> None:
        try:
            path = check_path(candidate, registry, max_bytes=max_bytes)
        except ScopeError as exc:
            refused.append((label, exc.reason))
            return
        if path not in seen:
            seen.add(path)
            allowed.append(path)

    for entry in registry.files:
        consider(str(entry.path), entry.raw)
        if len(allowed) >= limit:
            return allowed, refused
    if registry.briefing is not None:
        consider(BRIEFING_NAME, BRIEFING_NAME)
    for pattern in registry.globs:
        for relative in walk_glob(pattern, registry):
            consider(relative, relative)
            if len(allowed) >= limit:
                return allowed, refused
    return allowed, refused

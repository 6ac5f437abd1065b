"""The package file: a gzip'd tar holding manifest.json, signature.sig and the agent's files.

Writing: only regular-file members with checked relative names, fixed owner and mode, and
a fixed timestamp, so the same agent packs to the same bytes. Reading: every member's
header is checked first (type, name, size, count); only when all pass are contents read,
into memory and within limits. Nothing is ever extracted by tarfile itself.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from amatelier.atomicio import write_bytes_atomic
from amatelier.bundles import BundleError
from amatelier.bundles.files import MANIFEST, SIGNATURE, Budget, check_rel_path
from amatelier.persona_files import MAX_MANIFEST_BYTES

SUFFIX = ".amatelier"
MAX_PACKAGE_BYTES = 64 * 1024 * 1024
MAX_SIGNATURE_BYTES = 1024


@dataclass
class PackageContents:
    """What a package holds, read into memory and not yet verified."""

    manifest_bytes: bytes
    files: dict[str, bytes]
    signature: bytes | None
    sha256: str = ""  # of the package bytes that were read (one read: no swap between hash and check)


def build_package(manifest_bytes: bytes, files: dict[str, bytes], signature: str | None) -> bytes:
    """The package bytes: manifest.json, signature.sig (when signed), then files sorted by path."""
    members: list[tuple[str, bytes]] = [(MANIFEST, manifest_bytes)]
    if signature is not None:
        members.append((SIGNATURE, (signature + "\n").encode("ascii")))
    members += [(check_rel_path(path), files[path]) for path in sorted(files)]
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.type = tarfile.REGTYPE
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def write_package(path: Path, data: bytes) -> None:
    """Write the package atomically: a reader sees the old file or the whole new one."""
    write_bytes_atomic(path, data)


def _member_name(member: tarfile.TarInfo) -> str:
    name = member.name
    if name.startswith("./"):
        name = name[2:]
    if member.isdir():
        name = name.rstrip("/")
    return check_rel_path(name, what="archive member")


def _check_member(member: tarfile.TarInfo) -> str:
    """The member's clean name, or a BundleError naming the member and what is wrong."""
    if member.issym() or member.islnk():
        raise BundleError(f"archive member {member.name!r} is a link; links are refused")
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise BundleError(f"archive member {member.name!r} is a device or pipe; refused")
    if not (member.isreg() or member.isdir()):
        raise BundleError(f"archive member {member.name!r} is not a regular file; refused")
    try:
        return _member_name(member)
    except BundleError as exc:
        raise BundleError(f"unsafe archive member: {exc}") from None


def read_package(path: Path) -> PackageContents:
    """Read a package into memory after checking every member header; raises BundleError."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_PACKAGE_BYTES:
            raise BundleError(f"{path} is {size} bytes; a package may be at most {MAX_PACKAGE_BYTES}")
        with open(path, "rb") as handle:
            data = handle.read(MAX_PACKAGE_BYTES + 1)
    except OSError as exc:
        raise BundleError(f"cannot read package {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_PACKAGE_BYTES:
        raise BundleError(f"{path} grew past {MAX_PACKAGE_BYTES} bytes while being read")
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            contents = _read_members(tar, path)
    except BundleError:
        raise
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error, OSError, UnicodeError) as exc:
        raise BundleError(f"{path} is not a readable .amatelier package (gzip'd tar): "
                          f"{type(exc).__name__}: {exc}") from None
    contents.sha256 = hashlib.sha256(data).hexdigest()
    return contents


def _read_members(tar: tarfile.TarFile, path: Path) -> PackageContents:
    budget = Budget()
    checked: list[tuple[str, tarfile.TarInfo]] = []
    seen: set[str] = set()
    for member in tar:  # headers only: every member is checked before any content is read
        name = _check_member(member)
        if member.isdir():
            continue
        if name in seen:
            raise BundleError(f"archive member {name!r} appears twice")
        seen.add(name)
        limit = {MANIFEST: MAX_MANIFEST_BYTES, SIGNATURE: MAX_SIGNATURE_BYTES}.get(name)
        if limit is not None and member.size > limit:
            raise BundleError(f"{name} in {path} is {member.size} bytes (at most {limit})")
        budget.take(name, member.size)
        checked.append((name, member))
    if MANIFEST not in seen:
        raise BundleError(f"{path} has no {MANIFEST}; is it an amatelier agent package?")
    contents: dict[str, bytes] = {}
    for name, member in checked:
        handle = tar.extractfile(member)
        data = handle.read(member.size + 1) if handle is not None else b""
        if len(data) != member.size:
            raise BundleError(f"archive member {name!r} is truncated or larger than its header says")
        contents[name] = data
    manifest = contents.pop(MANIFEST)
    signature = contents.pop(SIGNATURE, None)
    return PackageContents(manifest, contents, signature)

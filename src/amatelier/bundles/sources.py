"""Where an agent is installed from: a package file, a directory, or `git+URL[#tag]`.

Each source is read into a `Bundle` in memory with the same limits and path checks; a
git URL is cloned with the `git` client into a temporary directory (shallow, no
submodules, no symlinks, only file/git/http(s)/ssh transports) and then read as a
directory or as the single package file at the repository's top.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from amatelier.bundles import BundleError
from amatelier.bundles.archive import MAX_MANIFEST_BYTES, MAX_SIGNATURE_BYTES, SUFFIX, read_package
from amatelier.bundles.files import (
    MANIFEST,
    SIGNATURE,
    Budget,
    read_tree,
    read_tree_file,
    sha256_hex,
)
from amatelier.bundles.manifest import files_for
from amatelier.bundles.verify import Bundle, parse_manifest

GIT_PREFIX = "git+"
GIT_TIMEOUT_S = 300
GIT_PROTOCOLS = "file:git:http:https:ssh"
_URL = re.compile(r"^(?:(?:https?|ssh|git|file)://\S+|[\w.-]+@[\w.-]+:[^\s:][^\s]*)$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")

Progress = Callable[[str], None]


def load_source(spec: str, progress: Progress | None = None) -> Bundle:
    """The bundle a PACKAGE path, DIR path or git+URL[#tag] holds (read, not yet verified)."""
    if spec.startswith(GIT_PREFIX):
        return load_git(spec, progress)
    path = Path(spec).expanduser()
    if path.is_dir():
        return load_directory(path, source=str(path.resolve()))
    if path.is_file():
        return load_package(path)
    raise BundleError(f"{spec} is not a package file, a directory or a git+URL (nothing there)")


def load_package(path: Path) -> Bundle:
    contents = read_package(path)
    manifest = parse_manifest(contents.manifest_bytes, f"{Path(path).name}: {MANIFEST}")
    return Bundle(manifest=manifest, manifest_bytes=contents.manifest_bytes, files=contents.files,
                  signature_file=contents.signature, source=str(Path(path).resolve()),
                  sha256=contents.sha256)


def tree_digest(files: dict[str, bytes]) -> str:
    """SHA-256 of the sorted `path:sha256` lines: one number for a directory's contents."""
    return sha256_hex("".join(f"{p}:{sha256_hex(files[p])}\n" for p in sorted(files)).encode("utf-8"))


def load_directory(root: Path, source: str) -> Bundle:
    """An unpacked agent: manifest.json plus its files (the listed ones only; links refused).

    A directory whose manifest has no integrity section is taken as unsigned: its hashes
    are computed here from the files the manifest names.
    """
    manifest_bytes = read_tree_file(root, MANIFEST, Budget(max_file=MAX_MANIFEST_BYTES))
    manifest = parse_manifest(manifest_bytes, f"{root / MANIFEST}", require_integrity=False)
    if "integrity" in manifest:
        files = read_tree(root, sorted(manifest["integrity"]["files"]))
    else:
        files = read_tree(root, files_for(manifest, all_models=True))
        manifest["integrity"] = {"algorithm": "sha256",
                                 "files": {p: sha256_hex(files[p]) for p in sorted(files)}}
        manifest_bytes = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    signature = None
    if (root / SIGNATURE).exists() or (root / SIGNATURE).is_symlink():
        signature = read_tree_file(root, SIGNATURE, Budget(max_file=MAX_SIGNATURE_BYTES))
    return Bundle(manifest=manifest, manifest_bytes=manifest_bytes, files=files, signature_file=signature,
                  source=source, sha256=tree_digest(files))


def parse_git_spec(spec: str) -> tuple[str, str | None]:
    """(url, ref) from `git+URL[#ref]`; refuses transports and refs that could run commands."""
    url, _, ref = spec[len(GIT_PREFIX):].partition("#")
    if not _URL.match(url) or url.startswith("-"):
        raise BundleError(f"unsupported git URL {url!r}: use git+https://, git+ssh://, git+file:// "
                          "or git+user@host:path")
    if ref and (not _REF.match(ref) or ".." in ref):
        raise BundleError(f"invalid git tag or branch {ref!r}")
    return url, ref or None


def _git(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    git = shutil.which("git")
    if git is None:
        raise BundleError("installing from a git URL needs the `git` client on PATH")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": GIT_PROTOCOLS}
    try:
        return subprocess.run([git, *args], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BundleError(f"git {args[0]} took longer than {GIT_TIMEOUT_S}s; gave up") from None


def load_git(spec: str, progress: Progress | None = None) -> Bundle:
    """Shallow-clone the repository and read the agent at its top (directory or one package)."""
    url, ref = parse_git_spec(spec)
    with tempfile.TemporaryDirectory(prefix="amatelier-git-") as tmp:
        checkout = Path(tmp) / "checkout"
        if progress:
            progress(f"cloning {url}" + (f" at {ref}" if ref else "") + " …")
        args = ["-c", "core.symlinks=false", "-c", "advice.detachedHead=false", "clone", "--quiet",
                "--depth", "1", "--no-recurse-submodules"]
        if ref:
            args += ["--branch", ref]
        result = _git([*args, "--", url, str(checkout)])
        if result.returncode != 0:
            lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
            raise BundleError(f"git clone of {url} failed: {lines[-1] if lines else 'exit ' + str(result.returncode)}")
        head = _git(["rev-parse", "HEAD"], cwd=checkout).stdout.strip() or None
        bundle = _load_checkout(checkout, spec)
    bundle.source = spec + (f" ({head[:12]})" if head else "")
    return bundle


def _load_checkout(checkout: Path, spec: str) -> Bundle:
    if (checkout / MANIFEST).is_file():
        return load_directory(checkout, source=spec)
    packages = sorted(p for p in checkout.glob(f"*{SUFFIX}") if p.is_file() and not p.is_symlink())
    if len(packages) == 1:
        bundle = load_package(packages[0])
        bundle.source = spec
        return bundle
    if packages:
        raise BundleError(f"{spec} holds several packages ({', '.join(p.name for p in packages)}); "
                          "keep one per repository or tag")
    raise BundleError(f"{spec} has neither a {MANIFEST} nor a {SUFFIX} package at its top")

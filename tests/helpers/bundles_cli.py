"""Helpers for the portable-agent tests: run `amatelier agent ...` for real, build packages."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.roundtable_run import rt_env, run_cli


def agent_cli(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    """`amatelier agent ARGS` in `workspace` (offline mode, no keys)."""
    return run_cli(["agent", *args], rt_env(workspace))


def ok_json(workspace: Path, *args: str) -> Any:
    """Run an agent command with --json, insist on exit 0, return the parsed stdout."""
    done = agent_cli(workspace, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def error_json(workspace: Path, *args: str) -> dict[str, Any]:
    """Run an agent command with --json, insist on exit 2 and one JSON error object on stderr."""
    done = agent_cli(workspace, *args, "--json")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    error = json.loads(done.stderr)
    assert error["code"] == 2
    return error


@dataclass
class Authored:
    workspace: Path
    keys: Path
    package: Path

    @property
    def private(self) -> Path:
        return self.keys / "amatelier.key"

    @property
    def public(self) -> Path:
        return self.keys / "amatelier.pub"


def author_and_pack(tmp_path: Path, *, sign: bool = True) -> Authored:
    """keygen, a two-model manifest for elena with variant files, and a gpt-4o package."""
    workspace, keys, out = tmp_path / "author-ws", tmp_path / "keys", tmp_path / "out"
    ok_json(workspace, "keygen", "-o", str(keys))
    ok_json(workspace, "manifest", "elena", "--model", "claude-sonnet-5-5", "--model", "gpt-4o",
            "--variant-files")
    args = ["pack", "elena", "--model", "gpt-4o", "-o", str(out)]
    if sign:
        args += ["--sign", str(keys / "amatelier.key")]
    packed = ok_json(workspace, *args)
    return Authored(workspace, keys, Path(packed["path"]))


def rewrite_package(source: Path, target: Path, change) -> Path:
    """Copy a package member by member, letting `change(name, data)` return new bytes."""
    with tarfile.open(source, "r:gz") as src, tarfile.open(target, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read()
            data = change(member.name, data)
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return target


def add_member(source: Path, target: Path, name: str, data: bytes = b"owned") -> Path:
    """A copy of the package with one extra member named `name` (e.g. '../x' or '/tmp/x')."""
    with tarfile.open(source, "r:gz") as src, tarfile.open(target, "w:gz", format=tarfile.GNU_FORMAT) as dst:
        for member in src:
            dst.addfile(member, src.extractfile(member))
        info = tarfile.TarInfo(name)
        info.size = len(data)
        dst.addfile(info, io.BytesIO(data))
    return target


def tree(root: Path) -> list[str]:
    """Every path under root (hidden ones included), for before/after comparisons."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []

"""Must show: a read-only workspace, a full disk and a damaged database each give one line.

For each fault `amatelier sparks`, `amatelier watch --once` and `amatelier roundtable` print
no traceback; a command that cannot work prints one line naming the database file and
exits 2; the read-only reads that can succeed (sparks, watch) exit 0.

* read-only: the workspace is bind-mounted read-only in a user+mount namespace
  (`unshare -rm`); without namespaces, the commands run as `nobody` (setpriv) on a copy
  root owns, which nobody cannot write.
* full disk: the workspace is copied into a 2 MB tmpfs (mounted in a user+mount namespace)
  and the rest of it filled with a filler file.
* damaged: the database file truncated to half its size; it must stay byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.helpers.roundtable_run import REPO, roundtable_args, rt_env, run_cli

pytestmark = pytest.mark.e2e

ROUNDTABLE = roundtable_args("faults?", "--workers", "elena", "--max-rounds", "1", "--skip-post")
COMMANDS = {"sparks": ["sparks"], "watch": ["watch", "--once"], "roundtable": ROUNDTABLE}
# the other read-only commands, checked on the read-only workspace too
READS = {"leaderboard": ["leaderboard", "--json"], "store": ["store", "list", "--json"],
         "ventures": ["venture", "list", "--json"], "analytics": ["analytics", "--json"]}


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def _can(cmd: list[str]) -> bool:
    if not shutil.which(cmd[0]):
        return False
    return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0


CAN_UNSHARE = _can(["unshare", "-rm", "true"])
CAN_MOUNT_TMPFS = CAN_UNSHARE and _can(
    ["unshare", "-rm", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=2m tmpfs $d"])
# nobody must be able to run this interpreter (a pyenv under /root is out of its reach)
CAN_SETPRIV = os.geteuid() == 0 and _can(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                          sys.executable, "-c", "pass"])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A workspace after one offline roundtable (it has a database, balances, a transcript)."""
    base = tmp_path_factory.mktemp("faults") / "ws"
    result = run_cli(ROUNDTABLE, rt_env(base))
    assert result.returncode == 0, result.stderr
    return base


def _run_in_shell(setup: str, env: dict[str, str], results: Path, prefix: list[str] | None = None,
                  commands: dict[str, list[str]] = COMMANDS) -> dict[str, Outcome]:
    """Run every command after `setup` (one shell, so mounts made by setup stay in force)."""
    lines = ["set -e", setup, "set +e", f"cd {shlex.quote(str(REPO))}"]
    for name, args in commands.items():
        command = shlex.join([sys.executable, "-m", "amatelier", *args])
        out, err, code = (shlex.quote(str(results / f"{name}.{kind}")) for kind in ("out", "err", "rc"))
        lines.append(f"{command} >{out} 2>{err}; echo $? >{code}")
    subprocess.run([*(prefix or []), "bash", "-c", "\n".join(lines)], env=env, check=True, timeout=600)
    return {name: Outcome(int((results / f"{name}.rc").read_text()), (results / f"{name}.out").read_text(),
                          (results / f"{name}.err").read_text()) for name in commands}


def _one_line_naming(outcome: Outcome, db_path: Path, *words: str) -> str:
    assert outcome.code == 2, outcome
    assert "Traceback" not in outcome.stderr and "Traceback" not in outcome.stdout
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("amatelier: error: ") and str(db_path) in lines[0], lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _read_ok(outcome: Outcome) -> None:
    assert outcome.code == 0, outcome
    assert "Traceback" not in outcome.stderr and outcome.stdout.strip()


def _copy(workspace: Path, target: Path) -> Path:
    shutil.copytree(workspace, target, symlinks=True)
    return target


def test_read_only_workspace(workspace, tmp_path):
    if CAN_UNSHARE:
        ws = _copy(workspace, tmp_path / "ro-ws")
        quoted = shlex.quote(str(ws))
        setup = f"mount --bind {quoted} {quoted} && mount -o remount,ro,bind {quoted}"
        results = tmp_path / "results"
        results.mkdir()
        outcomes = _run_in_shell(setup, rt_env(ws), results, ["unshare", "-rm"], {**COMMANDS, **READS})
    elif CAN_SETPRIV:
        shared = Path(tempfile.mkdtemp(prefix="amatelier-ro-"))
        try:
            ws = _copy(workspace, shared / "ws")
            for path in [shared, *shared.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            results = shared / "results"
            results.mkdir()
            results.chmod(0o777)
            env = rt_env(ws, HOME=str(shared))
            outcomes = _run_in_shell("true", env, results,
                                     ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
                                     {**COMMANDS, **READS})
        finally:
            shutil.rmtree(shared, ignore_errors=True)
    else:
        pytest.skip("neither user namespaces (unshare -rm) nor setpriv as root are available")
    db_path = ws / "roundtable-server" / "roundtable.db"
    _read_ok(outcomes["sparks"])
    assert "elena" in outcomes["sparks"].stdout
    _read_ok(outcomes["watch"])
    _one_line_naming(outcomes["roundtable"], db_path, "read-only")
    for name in READS:
        _read_ok(outcomes[name])
        json.loads(outcomes[name].stdout)


@pytest.mark.skipif(not CAN_MOUNT_TMPFS, reason="cannot mount a tmpfs in a user namespace here")
def test_full_disk(workspace, tmp_path):
    ws = tmp_path / "full-ws"
    ws.mkdir()
    quoted = shlex.quote(str(ws))
    setup = (f"mount -t tmpfs -o size=2m tmpfs {quoted} && cp -a {shlex.quote(str(workspace))}/. {quoted}/ && "
             f"(dd if=/dev/zero of={quoted}/filler bs=4k 2>/dev/null || true) && "
             f"test $(df --output=avail {quoted} | tail -1) -lt 64")
    results = tmp_path / "results"
    results.mkdir()
    outcomes = _run_in_shell(setup, rt_env(ws), results, ["unshare", "-rm"])
    db_path = ws / "roundtable-server" / "roundtable.db"
    _read_ok(outcomes["sparks"])
    _read_ok(outcomes["watch"])
    _one_line_naming(outcomes["roundtable"], db_path, "full")


def test_database_truncated_to_half(workspace, tmp_path):
    ws = _copy(workspace, tmp_path / "damaged-ws")
    db_path = ws / "roundtable-server" / "roundtable.db"
    with db_path.open("r+b") as handle:
        handle.truncate(db_path.stat().st_size // 2)
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    siblings = sorted(p.name for p in db_path.parent.iterdir())
    results = tmp_path / "results"
    results.mkdir()
    outcomes = _run_in_shell("true", rt_env(ws), results)
    for name in COMMANDS:
        _one_line_naming(outcomes[name], db_path, "damaged", "move it aside")
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before  # never overwritten
    assert sorted(p.name for p in db_path.parent.iterdir()) == siblings  # nor moved or deleted
    # with --json the same fault is one JSON object on stderr
    result = run_cli(["sparks", "--json"], rt_env(ws))
    assert result.returncode == 2 and result.stdout == ""
    error = json.loads(result.stderr)
    assert error["code"] == 2 and "damaged" in error["error"] and str(db_path) in error["error"]


MCP_READS = ("import json\nfrom amatelier.mcp.server import Tools\ntools = Tools()\n"
             "listed = tools.list(None)\nrt_id = listed['roundtables'][0]['rt_id']\n"
             "print(json.dumps({'list': len(listed['roundtables']), 'status': tools.status(rt_id)['status'],"
             " 'sparks': sorted(tools.sparks(None, None)['balances'])}))")


@pytest.mark.skipif(not CAN_UNSHARE, reason="needs a user+mount namespace for a read-only bind mount")
def test_mcp_reads_work_on_a_read_only_workspace(workspace, tmp_path):
    ws = _copy(workspace, tmp_path / "ro-mcp")
    quoted = shlex.quote(str(ws))
    script = (f"mount --bind {quoted} {quoted} && mount -o remount,ro,bind {quoted} && "
              f"{shlex.join([sys.executable, '-c', MCP_READS])}")
    result = subprocess.run(["unshare", "-rm", "bash", "-c", script], env=rt_env(ws), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["list"] == 1 and data["status"] == "closed" and "elena" in data["sparks"]

"""Portable, signed agents end to end, through real `amatelier` subprocesses.

The must-show path: keygen -> manifest with two models -> signed pack for one model ->
verify -> install elsewhere under another name with --trust -> listed as signed -> an
offline roundtable with it -> uninstall. Then the ways it must refuse.
"""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from tests.helpers.bundles_cli import (
    add_member,
    agent_cli,
    author_and_pack,
    error_json,
    ok_json,
    rewrite_package,
    tree,
)
from tests.helpers.roundtable_run import roundtable_args, rt_env, run_cli

pytestmark = pytest.mark.e2e


def bootstrap(workspace: Path) -> None:
    assert run_cli(["config", "--json"], rt_env(workspace)).returncode == 0


@pytest.fixture(scope="module")
def authored(tmp_path_factory):
    return author_and_pack(tmp_path_factory.mktemp("bundles"))


def test_keygen_manifest_pack_verify_install_run_uninstall(authored, tmp_path):
    assert stat.S_IMODE(authored.private.stat().st_mode) == 0o600
    assert authored.package.name == "elena-gpt-4o.v0.1.0.amatelier"
    verified = agent_cli(authored.workspace, "verify", str(authored.package), "--key", str(authored.public))
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("OK: elena 0.1.0 for gpt-4o")
    assert "PRIVATE KEY" not in verified.stdout + verified.stderr

    fresh = tmp_path / "fresh-ws"
    installed = ok_json(fresh, "install", str(authored.package), "--as", "nora", "--trust", str(authored.public))
    assert installed["name"] == "nora" and installed["trusted_by"] == "--trust" and installed["in_roster"]
    listed = ok_json(fresh, "list")["agents"]
    assert [(a["name"], a["signed"], a["trusted"], a["model"], a["version"]) for a in listed] == [
        ("nora", True, True, "gpt-4o", "0.1.0")]
    assert listed[0]["key_fingerprint"] == installed["fingerprint"]
    assert listed[0]["sha256"] == hashlib.sha256(authored.package.read_bytes()).hexdigest()
    assert listed[0]["source"] == str(authored.package.resolve())
    assert (fresh / "agents" / "nora" / "variants" / "gpt-4o" / "CLAUDE.md").is_file()
    assert not (fresh / "agents" / "nora" / "variants" / "claude-sonnet-5-5").exists()

    run = run_cli(roundtable_args("split the monolith?", "--workers", "nora,marcus"), rt_env(fresh))
    assert run.returncode == 0, run.stderr
    digest = json.loads(run.stdout)
    assert digest["workers"] == ["nora", "marcus"]
    assert digest["contributions"]["nora"] > 0

    removed = ok_json(fresh, "uninstall", "nora")
    assert removed["removed_files"] is True
    assert not (fresh / "agents" / "nora").exists()
    assert ok_json(fresh, "list")["agents"] == []
    again = run_cli(roundtable_args("x", "--workers", "nora,marcus"), rt_env(fresh))
    assert again.returncode == 2 and "unknown worker 'nora'" in again.stderr


def test_one_changed_byte_fails_verify_and_install_naming_the_file(authored, tmp_path):
    def flip(name: str, data: bytes) -> bytes:
        if name == "variants/gpt-4o/CLAUDE.md":
            return data[:10] + bytes([data[10] ^ 1]) + data[11:]
        return data

    bad = rewrite_package(authored.package, tmp_path / "bad.amatelier", flip)
    error = error_json(authored.workspace, "verify", str(bad))
    assert error["error"] == "variants/gpt-4o/CLAUDE.md was modified: its SHA-256 does not match the manifest"
    plain = agent_cli(authored.workspace, "verify", str(bad), "--key", str(authored.public))
    assert plain.returncode == 2
    assert plain.stderr.strip() == ("amatelier: error: variants/gpt-4o/CLAUDE.md was modified: its SHA-256 "
                                    "does not match the manifest")
    fresh = tmp_path / "ws"
    error = error_json(fresh, "install", str(bad), "--trust", str(authored.public))
    assert "variants/gpt-4o/CLAUDE.md was modified" in error["error"]
    assert not (fresh / "agents" / "elena-x").exists()
    assert not (fresh / "agents" / "registry.json").exists()


def test_a_changed_manifest_breaks_the_signature(authored, tmp_path):
    def retitle(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["description"] = "trust me"
        return json.dumps(manifest).encode()

    bad = rewrite_package(authored.package, tmp_path / "retitled.amatelier", retitle)
    assert "signature does not verify" in error_json(authored.workspace, "verify", str(bad))["error"]


def test_an_untrusted_key_is_refused_without_trust(authored, tmp_path):
    fresh = tmp_path / "ws"
    error = error_json(fresh, "install", str(authored.package))
    assert "a key you have not trusted" in error["error"] and "--trust" in error["error"]
    assert not (fresh / "agents" / "elena").joinpath("manifest.json").exists()
    other = tmp_path / "other-keys"
    ok_json(tmp_path / "other-ws", "keygen", "-o", str(other))
    wrong = error_json(fresh, "install", str(authored.package), "--trust", str(other / "amatelier.pub"))
    assert "not by the key given with --trust" in wrong["error"]
    ok_json(fresh, "install", str(authored.package), "--as", "first", "--trust", str(authored.public))
    second = ok_json(fresh, "install", str(authored.package), "--as", "second")  # now a trusted key
    assert second["trusted_by"] == "trusted keys"


@pytest.mark.parametrize("member", ["../escaped.md", "/tmp/amatelier-bundles-test-absolute.md"])
def test_a_tar_with_an_escaping_member_is_refused_before_anything_is_written(authored, tmp_path, member):
    bad = add_member(authored.package, tmp_path / "evil.amatelier", member)
    fresh = tmp_path / "ws"
    bootstrap(fresh)  # so the comparison sees only what install would add
    before = tree(fresh)
    error = error_json(fresh, "install", str(bad), "--as", "nora", "--trust", str(authored.public))
    assert "unsafe archive member" in error["error"]
    assert tree(fresh) == before
    assert not Path("/tmp/amatelier-bundles-test-absolute.md").exists()
    assert not (fresh / "agents" / "escaped.md").exists() and not (fresh / "escaped.md").exists()
    assert "unsafe archive member" in error_json(fresh, "verify", str(bad))["error"]


def test_pack_of_a_multi_model_manifest_needs_a_model(authored):
    error = error_json(authored.workspace, "pack", "elena")
    assert error["error"] == ("elena has persona variants for 2 models; choose one with --model: "
                              "claude-sonnet-5-5, gpt-4o")


def test_a_manifest_with_both_model_fields_fails_validation(tmp_path):
    workspace = tmp_path / "ws"
    made = ok_json(workspace, "manifest", "marcus", "--model", "gpt-4o")
    assert made["manifest"]["schema_version"] == "1.0"
    path = Path(made["path"])
    manifest = json.loads(path.read_text())
    manifest["base_models"] = [{"model": "gpt-4o", "provider": "openai"}]
    path.write_text(json.dumps(manifest))
    error = error_json(workspace, "pack", "marcus")
    assert "has both base_model and base_models" in error["error"]
    assert "not both" in error["error"]
    assert "has both base_model" in error_json(workspace, "verify", str(path.parent))["error"]


def test_unsigned_packages_need_allow_unsigned(tmp_path):
    authored = author_and_pack(tmp_path, sign=False)
    fresh = tmp_path / "ws"
    assert "--allow-unsigned" in error_json(fresh, "install", str(authored.package))["error"]
    result = ok_json(fresh, "install", str(authored.package), "--allow-unsigned", "--as", "nora")
    assert result["signed"] is False
    assert ok_json(fresh, "list")["agents"][0]["signature"] == "unsigned"


def test_force_keeps_a_backup_and_uninstall_puts_it_back(authored, tmp_path):
    fresh = tmp_path / "ws"
    bootstrap(fresh)
    original = (fresh / "agents" / "marcus" / "CLAUDE.md").read_text()
    refused = error_json(fresh, "install", str(authored.package), "--as", "marcus", "--trust", str(authored.public))
    assert "already exists" in refused["error"] and "--force" in refused["error"]
    done = ok_json(fresh, "install", str(authored.package), "--as", "marcus", "--trust", str(authored.public),
                   "--force")
    assert Path(done["backup"], "CLAUDE.md").read_text() == original
    assert (fresh / "agents" / "marcus" / "CLAUDE.md").read_text() != original
    undone = ok_json(fresh, "uninstall", "marcus")
    assert undone["restored_from"] == done["backup"]
    assert (fresh / "agents" / "marcus" / "CLAUDE.md").read_text() == original


def test_uninstall_keep_state_and_unknown_names(authored, tmp_path):
    fresh = tmp_path / "ws"
    ok_json(fresh, "install", str(authored.package), "--as", "nora", "--trust", str(authored.public))
    kept = ok_json(fresh, "uninstall", "nora", "--keep-state")
    assert kept["kept"] and (fresh / "agents" / "nora" / "CLAUDE.md").is_file()
    assert "not an installed agent" in error_json(fresh, "uninstall", "elena")["error"]
    assert "invalid agent name" in error_json(fresh, "install", str(authored.package), "--as", "../x")["error"]


def test_install_from_a_git_tag_over_file_url(authored, tmp_path):
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / authored.package.name).write_bytes(authored.package.read_bytes())
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "agent"], check=True)
    subprocess.run([*git, "tag", "v0.1.0"], check=True)
    fresh = tmp_path / "ws"
    spec = f"git+file://{repo}#v0.1.0"
    result = ok_json(fresh, "install", spec, "--as", "gitnora", "--trust", str(authored.public))
    assert result["source"].startswith(spec) and result["signed"]
    assert "failed" in error_json(fresh, "install", f"git+file://{repo}#no-such-tag", "--as", "x")["error"]
    assert "unsupported git URL" in error_json(fresh, "install", "git+ext::sh -c touch% /tmp/pwned")["error"]


def test_install_from_an_unpacked_directory(authored, tmp_path):
    import tarfile

    unpacked = tmp_path / "unpacked"
    with tarfile.open(authored.package) as tar:
        tar.extractall(unpacked, filter="data")
    fresh = tmp_path / "ws"
    result = ok_json(fresh, "install", str(unpacked), "--as", "dirnora", "--trust", str(authored.public))
    assert result["signed"] and (fresh / "agents" / "dirnora" / "manifest.json").is_file()


def test_export_claude_subagent(authored, tmp_path):
    out = tmp_path / "agents" / "elena.md"
    ok_json(authored.workspace, "export", "elena", "--format", "claude-subagent", "-o", str(out),
            "--model", "claude-sonnet-5-5")
    text = out.read_text()
    head, body = text.split("\n---\n", 1)
    lines = head.splitlines()
    assert lines[0] == "---" and lines[1] == 'name: "elena"' and lines[3] == "model: sonnet"
    assert json.loads(lines[2].removeprefix("description: "))
    assert "Elena" in body
    assert "already exists" in error_json(authored.workspace, "export", "elena", "--format",
                                          "claude-subagent", "-o", str(out))["error"]
    assert "unknown export format" in error_json(authored.workspace, "export", "elena", "--format",
                                                 "word")["error"]


def test_manifest_carries_a_verified_snapshot_and_names_unknown_agents(tmp_path):
    workspace = tmp_path / "ws"
    minted = run_cli(["snapshot", "mint", "clare", "--json"], rt_env(workspace))
    assert minted.returncode == 0, minted.stderr
    snapshot_file = Path(json.loads(minted.stdout)["path"])
    made = ok_json(workspace, "manifest", "clare", "--snapshot", "clare:1", "--version", "2.0.0")
    assert made["manifest"]["shared"]["snapshot"] == "snapshot.json"
    assert (workspace / "agents" / "clare" / "snapshot.json").read_bytes() == snapshot_file.read_bytes()
    assert made["manifest"]["version"] == "2.0.0"
    packed = ok_json(workspace, "pack", "clare", "-o", str(tmp_path / "out"))
    assert packed["path"].endswith("clare.v2.0.0.amatelier") and packed["signed"] is False
    fresh = tmp_path / "fresh"
    ok_json(fresh, "install", packed["path"], "--as", "clara", "--allow-unsigned")
    assert (fresh / "agents" / "clara" / "snapshot.json").read_bytes() == snapshot_file.read_bytes()

    altered = tmp_path / "altered.json"
    doc = json.loads(snapshot_file.read_text())
    doc["skills_owned"] = ["a skill nobody earned"]
    altered.write_text(json.dumps(doc))
    assert "changed after it was minted" in error_json(workspace, "manifest", "clare", "--snapshot",
                                                      str(altered))["error"]
    assert "no snapshot" in error_json(workspace, "manifest", "clare", "--snapshot", "clare:9")["error"]
    assert "invalid version" in error_json(workspace, "manifest", "clare", "--version", "2")["error"]
    error = error_json(workspace, "manifest", "zed")
    assert "no agent named 'zed'" in error["error"] and "clare" in error["error"]


def test_an_installed_agent_verifies_in_place_and_can_be_repacked_under_its_new_name(authored, tmp_path):
    fresh = tmp_path / "ws"
    ok_json(fresh, "install", str(authored.package), "--as", "nora", "--trust", str(authored.public))
    in_place = ok_json(fresh, "verify", str(fresh / "agents" / "nora"), "--key", str(authored.public))
    assert in_place["signed"] and in_place["name"] == "elena"  # the manifest is kept as signed
    stale = error_json(fresh, "pack", "nora")
    assert "names the agent 'elena', not 'nora'" in stale["error"] and "agent manifest nora" in stale["error"]
    made = ok_json(fresh, "manifest", "nora", "--version", "0.2.0")
    assert made["manifest"]["base_model"]["model"] == "gpt-4o" and "integrity" not in made["manifest"]
    assert not (fresh / "agents" / "nora" / "signature.sig").exists()
    packed = ok_json(fresh, "pack", "nora", "-o", str(tmp_path / "out"))
    assert Path(packed["path"]).name == "nora.v0.2.0.amatelier"
    assert ok_json(fresh, "verify", packed["path"])["files"] == packed["files"]


def test_two_installs_of_one_name_at_once_leave_one_agent(authored, tmp_path):
    import subprocess

    from tests.helpers.roundtable_run import AMATELIER, REPO

    fresh = tmp_path / "ws"
    bootstrap(fresh)
    args = [*AMATELIER, "agent", "install", str(authored.package), "--as", "nora", "--trust",
            str(authored.public), "--json"]
    procs = [subprocess.Popen(args, env=rt_env(fresh), cwd=str(REPO), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(p.returncode, out, err) for p in procs for out, err in [p.communicate(timeout=60)]]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 2], outcomes
    loser = next(err for code, _, err in outcomes if code == 2)
    assert "already exists" in json.loads(loser)["error"]
    assert [a["name"] for a in ok_json(fresh, "list")["agents"]] == ["nora"]
    assert not list((fresh / "backups").glob("agents/*"))
    assert not [p for p in (fresh / "agents").iterdir() if p.name.startswith((".install", ".uninstall"))]


def test_a_corrupt_registry_is_reported_not_overwritten(tmp_path):
    fresh = tmp_path / "ws"
    registry = fresh / "agents" / "registry.json"
    registry.parent.mkdir(parents=True)
    registry.write_text("{torn")
    assert "registry" in error_json(fresh, "list")["error"]
    assert registry.read_text() == "{torn"

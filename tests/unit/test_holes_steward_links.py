"""The Steward never reads a hard link's target, and a file swapped mid-check is an answer, not an exception."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from tests.helpers.steward_tree import SECRET, make_tree

from amatelier.steward import scope
from amatelier.steward.claude_cli import build_mirror
from amatelier.steward.lookups import try_deterministic
from amatelier.steward.scope import OutOfScope, ScopeError, read_scoped, registered_paths
from amatelier.steward.tools import ToolBox


@pytest.fixture
def tree(tmp_path: Path):
    return make_tree(tmp_path)


@pytest.fixture
def hard(tree):
    link = tree.launch / "docs" / "hard.md"
    os.link(tree.secret, link)
    return link


def test_a_hard_link_matching_a_glob_is_refused_by_every_path(tree, hard) -> None:
    registry = tree.registry("- docs/*.md")
    with pytest.raises(OutOfScope, match="hard link"):
        read_scoped("docs/hard.md", registry)
    for request in ("read docs/hard.md", "lines 1-5 of docs/hard.md", "grep TOP in docs/hard.md",
                    "grep TOP in docs/*.md", "grep secret", "list files"):
        result = try_deterministic(request, registry)
        assert result is not None and "do not leak" not in result.output, (request, result.output)
    assert try_deterministic("read docs/hard.md", registry).status == "out_of_scope"
    allowed, refused = registered_paths(registry)
    assert hard not in allowed and ("docs/hard.md", refused[0][1]) in refused
    box = ToolBox(registry)
    text, is_error = box.run("read_file", {"path": "docs/hard.md"})
    assert is_error and "hard link" in text and "do not leak" not in text
    mirror = tree.root / "mirror"
    mirror.mkdir()
    build_mirror(registry, mirror, None)
    assert not (mirror / "docs" / "hard.md").exists()
    assert all(SECRET not in p.read_text() for p in mirror.rglob("*") if p.is_file())


def test_a_hard_link_registered_by_name_is_the_users_choice(tree, hard) -> None:
    registry = tree.registry("- docs/hard.md\n- docs/*.md")
    assert read_scoped("docs/hard.md", registry).text() == SECRET


def test_a_hard_link_to_a_registered_file_is_proved_by_inode(tree) -> None:
    os.link(tree.launch / "notes.md", tree.launch / "docs" / "notes-copy.md")
    registry = tree.registry("- notes.md\n- docs/*.md")
    assert read_scoped("docs/notes-copy.md", registry).data == (tree.launch / "notes.md").read_bytes()


def test_a_link_made_after_the_check_is_caught_on_the_open_file(tree, monkeypatch) -> None:
    registry = tree.registry("- docs/*.md")
    real_check = scope._check

    def check_then_link(*args, **kwargs):
        checked = real_check(*args, **kwargs)
        os.link(tree.launch / "docs" / "a.md", tree.root / "elsewhere.md")
        return checked

    monkeypatch.setattr(scope, "_check", check_then_link)
    with pytest.raises(OutOfScope, match="hard link"):
        read_scoped("docs/a.md", registry)


@pytest.mark.parametrize("swap", ["remove", "directory", "unreadable", "replace-with-link"])
def test_a_swap_between_check_and_read_is_an_answer(tree, monkeypatch, swap) -> None:
    target = tree.launch / "docs" / "a.md"
    registry = tree.registry("- docs/*.md")
    real_check = scope._check

    def race() -> None:
        if swap == "remove":
            target.unlink()
        elif swap == "directory":
            target.unlink()
            target.mkdir()
        elif swap == "unreadable":
            monkeypatch.setattr(scope.os, "open", _raise(PermissionError(13, "Permission denied",
                                                                        str(target))))
        else:
            target.unlink()
            os.link(tree.secret, target)

    def check_then_race(*args, **kwargs):
        checked = real_check(*args, **kwargs)
        race()
        return checked

    monkeypatch.setattr(scope, "_check", check_then_race)
    result = try_deterministic("read docs/a.md", registry)
    assert result.status in ("out_of_scope", "not_found"), result
    assert str(tree.root) not in result.output and "do not leak" not in result.output


def test_an_os_error_while_checking_becomes_an_answer(tree, monkeypatch) -> None:
    registry = tree.registry("- docs/*.md")
    monkeypatch.setattr(scope.os, "stat", _raise(OSError(5, "Input/output error", str(tree.root))))
    with pytest.raises(ScopeError) as caught:
        read_scoped("docs/a.md", registry)
    assert caught.value.status in ("out_of_scope", "not_found")
    assert str(tree.root) not in str(caught.value)
    result = try_deterministic("list files", registry)
    assert result.status == "ok" and str(tree.root) not in result.output


def test_a_swap_race_never_raises(tree) -> None:
    """A writer flips docs/a.md between a file, a symlink out, a hard link out and nothing."""
    target = tree.launch / "docs" / "a.md"
    registry = tree.registry("- docs/*.md")
    stop = threading.Event()

    def flipper() -> None:
        step = 0
        while not stop.is_set():
            step += 1
            try:
                if target.is_symlink() or target.exists():
                    target.unlink()
                if step % 4 == 0:
                    target.symlink_to(tree.secret)
                elif step % 4 == 1:
                    os.link(tree.secret, target)
                elif step % 4 == 2:
                    target.write_text("fine\n", encoding="utf-8")
            except OSError:
                pass

    thread = threading.Thread(target=flipper, daemon=True)
    thread.start()
    statuses = set()
    try:
        for _ in range(400):
            for request in ("read docs/a.md", "grep do in docs/*.md", "list files"):
                result = try_deterministic(request, registry)
                statuses.add(result.status)
                assert "do not leak" not in result.output, result.output
    finally:
        stop.set()
        thread.join(5)
    assert statuses <= {"ok", "out_of_scope", "not_found"}


def _raise(exc: BaseException):
    def fail(*args, **kwargs):
        raise exc
    return fail

"""The Steward's scope boundary: every refusal case, and what is allowed."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers.steward_tree import NOTES, make_tree, record_opens

from amatelier.steward import scope
from amatelier.steward.scope import NotFound, OutOfScope, check_path, read_scoped


@pytest.fixture
def tree(tmp_path: Path):
    return make_tree(tmp_path)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path the scope layer passes to os.open."""
    return record_opens(monkeypatch, resolve=False)


def refused(candidate: object, registry, **kwargs) -> str:
    with pytest.raises(OutOfScope) as info:
        read_scoped(candidate, registry, **kwargs)
    return info.value.reason


def test_registered_file_is_read(tree, opened) -> None:
    registry = tree.registry("- notes.md")
    got = read_scoped("notes.md", registry)
    assert got.text() == NOTES
    assert got.path == (tree.launch / "notes.md").resolve()
    assert opened == [str(got.path)]


def test_registered_file_by_absolute_path_and_dotdot_back_inside(tree) -> None:
    registry = tree.registry("- notes.md")
    assert check_path(str(tree.launch / "notes.md"), registry) == (tree.launch / "notes.md").resolve()
    assert check_path("docs/../notes.md", registry) == (tree.launch / "notes.md").resolve()


def test_unregistered_file_in_launch_dir_is_refused(tree, opened) -> None:
    assert refused("unregistered.txt", tree.registry("- notes.md")) == "not a registered file"
    assert opened == []


def test_dotdot_escape_is_refused(tree, opened) -> None:
    registry = tree.registry("- notes.md\n- docs/**")
    for candidate in ("../secret.txt", "docs/../../secret.txt", "docs/sub/../../../secret.txt"):
        assert "outside the launch directory" in refused(candidate, registry)
    assert opened == []


def test_absolute_path_elsewhere_is_refused(tree, opened) -> None:
    registry = tree.registry("- notes.md")
    assert "outside the launch directory" in refused("/etc/passwd", registry)
    assert "outside the launch directory" in refused(str(tree.secret), registry)
    assert opened == []


def test_symlink_pointing_outside_is_refused_even_when_a_glob_matches_its_name(tree, opened) -> None:
    link = tree.launch / "docs" / "leak.md"
    link.symlink_to(tree.secret)
    registry = tree.registry("- docs/*.md")
    assert refused("docs/leak.md", registry) == "symlink leads outside the launch directory"
    assert opened == []


def test_registered_file_that_is_a_symlink_out_is_refused(tree, opened) -> None:
    (tree.launch / "shortcut.md").symlink_to(tree.secret)
    registry = tree.registry("- shortcut.md")
    assert "symlink" in refused("shortcut.md", registry)
    assert opened == []


def test_symlinked_directory_leading_outside_is_refused(tree) -> None:
    (tree.launch / "docs" / "outside").symlink_to(tree.root, target_is_directory=True)
    registry = tree.registry("- docs/**")
    assert refused("docs/outside/secret.txt", registry) == "symlink leads outside the launch directory"


def test_symlink_inside_to_an_unregistered_file_is_refused(tree) -> None:
    (tree.launch / "docs" / "alias.md").symlink_to(tree.launch / "unregistered.txt")
    assert refused("docs/alias.md", tree.registry("- docs/*.md")) == "not a registered file"


def test_symlink_inside_to_a_registered_file_is_allowed(tree) -> None:
    (tree.launch / "docs" / "alias.md").symlink_to(tree.launch / "notes.md")
    assert read_scoped("docs/alias.md", tree.registry("- notes.md")).text() == NOTES


def test_registered_glob_through_dotdot_is_rejected_at_load(tree, opened) -> None:
    registry = tree.registry("- ../*.txt\n- docs/../../*.txt\n- /etc/*\n- notes.md")
    rejected = dict(registry.rejected)
    assert "could match outside" in rejected["../*.txt"]
    assert "could match outside" in rejected["docs/../../*.txt"]
    assert "outside the launch directory" in rejected["/etc/*"]
    assert registry.globs == ()
    assert "outside the launch directory" in refused("../secret.txt", registry)
    assert opened == []


def test_nul_byte_is_refused(tree) -> None:
    registry = tree.registry("- notes.md")
    assert refused("notes.md\x00.txt", registry) == "NUL byte in path"
    assert refused(b"notes.md", registry) == "path given as bytes"


def test_device_file_is_refused(tree, opened) -> None:
    registry = tree.registry("- /dev/zero")
    assert refused("/dev/zero", registry) == "not a regular file (device)"
    assert opened == []


def test_fifo_is_refused_without_blocking(tree, opened) -> None:
    os.mkfifo(tree.launch / "docs" / "pipe.md")
    assert refused("docs/pipe.md", tree.registry("- docs/*.md")) == "not a regular file (FIFO)"
    assert opened == []


def test_socket_is_refused(tree) -> None:
    path = tree.launch / "docs" / "s.md"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
        assert refused("docs/s.md", tree.registry("- docs/*.md")) == "not a regular file (socket)"
    finally:
        sock.close()


def test_directory_is_refused(tree) -> None:
    registry = tree.registry("- docs/**\n- notes.md")
    assert refused("docs/sub", tree.registry("- docs/*")) == "not a regular file (directory)"
    assert "directory cannot be registered" in dict(tree.registry("- docs/").rejected)["docs/"]
    assert refused(".", registry) == "not a registered file"


def test_oversize_file_is_refused_and_never_opened(tree, opened) -> None:
    big = tree.launch / "big.log"
    big.write_bytes(b"x" * 5000)
    registry = tree.registry("- big.log")
    assert refused("big.log", registry, max_bytes=4096) == "file is 5000 bytes, over the 4096-byte cap"
    assert opened == []
    assert len(read_scoped("big.log", registry, max_bytes=5000).data) == 5000


def test_hidden_files_need_an_explicit_pattern(tree) -> None:
    assert refused("docs/.env.md", tree.registry("- docs/*.md\n- **")) == "not a registered file"
    assert read_scoped("docs/.env.md", tree.registry("- docs/.env.md")).text() == "API_KEY=hidden\n"
    assert read_scoped("docs/.env.md", tree.registry("- docs/.*.md")).text() == "API_KEY=hidden\n"


def test_missing_registered_file_is_not_found(tree) -> None:
    with pytest.raises(NotFound):
        read_scoped("gone.md", tree.registry("- gone.md"))


def test_missing_unregistered_file_is_out_of_scope_not_not_found(tree) -> None:
    # Existence of files outside the scope is never revealed.
    assert refused("../nope.txt", tree.registry("- notes.md")).startswith("path leads outside")


def after_check(monkeypatch: pytest.MonkeyPatch, race: Callable[[], None]) -> None:
    """Run `race` right after the scope check passes and before the read (a racing writer)."""
    real_check = scope._check

    def check_then_race(*args, **kwargs):
        checked = real_check(*args, **kwargs)
        race()
        return checked

    monkeypatch.setattr(scope, "_check", check_then_race)


def test_swap_to_symlink_after_check_is_caught(tree, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = tree.registry("- notes.md")
    target = tree.launch / "notes.md"

    def swap() -> None:
        target.unlink()
        target.symlink_to(tree.secret)

    after_check(monkeypatch, swap)
    assert refused("notes.md", registry) == "path became a symlink after the check (notes.md)"


def test_swap_to_another_file_after_check_is_caught(tree, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = tree.registry("- notes.md")

    def replace() -> None:
        replacement = tree.launch / "replacement"
        replacement.write_text("other", encoding="utf-8")
        os.replace(replacement, tree.launch / "notes.md")

    after_check(monkeypatch, replace)
    assert refused("notes.md", registry) == "file changed between the check and the read"


def test_glob_matching_rules() -> None:
    assert scope.glob_matches("docs/a.md", "docs/*.md")
    assert not scope.glob_matches("docs/sub/b.md", "docs/*.md")
    assert scope.glob_matches("docs/sub/b.md", "docs/**/*.md")
    assert scope.glob_matches("docs/a.md", "docs/**/*.md")
    assert scope.glob_matches("src/x/y.py", "**")
    assert not scope.glob_matches(".git/config", "**")
    assert scope.glob_matches("a1.txt", "a[0-9].txt")
    assert not scope.glob_matches("ab.txt", "a[!b].txt")


def test_registered_paths_lists_only_in_scope_files(tree) -> None:
    (tree.launch / "docs" / "leak.md").symlink_to(tree.secret)
    registry = tree.registry("- notes.md\n- docs/**/*.md\n- missing.md")
    allowed, refused_entries = scope.registered_paths(registry)
    shown = [registry.display(p) for p in allowed]
    assert shown == ["notes.md", "docs/a.md", "docs/sub/b.md"]
    reasons = dict(refused_entries)
    assert reasons["docs/leak.md"] == "symlink leads outside the launch directory"
    assert reasons["missing.md"].startswith("no such file")


def test_case_variants_of_a_registered_name_are_not_in_scope(tree, opened) -> None:
    # On a case-sensitive file system NOTES.md is another file; the scope never folds case.
    (tree.launch / "NOTES.md").write_text("case twin, not registered\n", encoding="utf-8")
    (tree.launch / "docs" / "SECRET.MD").write_text("upper-case extension\n", encoding="utf-8")
    registry = tree.registry("- notes.md\n- docs/*.md")
    assert refused("NOTES.md", registry) == "not a registered file"
    assert refused("Notes.md", registry) == "not a registered file"
    assert refused("docs/SECRET.MD", registry) == "not a registered file"
    assert refused("DOCS/a.md", registry) == "not a registered file"
    assert opened == []


def test_swap_of_a_parent_directory_to_a_symlink_after_check_is_caught(
        tree, monkeypatch: pytest.MonkeyPatch) -> None:
    # O_NOFOLLOW guards only the last component; the inode check catches a swapped directory.
    elsewhere = tree.root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.md").write_text("TOP SECRET via a swapped directory\n", encoding="utf-8")
    registry = tree.registry("- docs/*.md")

    def swap_dir() -> None:
        os.replace(tree.launch / "docs", tree.root / "docs-moved")
        (tree.launch / "docs").symlink_to(elsewhere, target_is_directory=True)

    after_check(monkeypatch, swap_dir)
    assert refused("docs/a.md", registry) == "file changed between the check and the read"


def test_swap_to_a_fifo_after_check_is_refused_without_blocking(
        tree, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = tree.registry("- notes.md")

    def to_fifo() -> None:
        (tree.launch / "notes.md").unlink()
        os.mkfifo(tree.launch / "notes.md")

    after_check(monkeypatch, to_fifo)
    assert refused("notes.md", registry) == "file changed between the check and the read"


def test_file_growing_past_the_cap_after_check_is_refused(tree, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = tree.registry("- notes.md")
    size = len(NOTES.encode())

    def grow() -> None:
        with open(tree.launch / "notes.md", "ab") as handle:
            handle.write(b"y" * 100)

    after_check(monkeypatch, grow)
    assert refused("notes.md", registry, max_bytes=size + 10) == f"file grew past the {size + 10}-byte cap"


def test_double_star_never_walks_into_a_symlinked_directory(tree, opened) -> None:
    (tree.launch / "docs" / "outside").symlink_to(tree.root, target_is_directory=True)
    (tree.launch / "docs" / "loop").symlink_to(tree.launch / "docs", target_is_directory=True)
    registry = tree.registry("- docs/**")
    allowed, refused_entries = scope.registered_paths(registry)
    shown = [registry.display(p) for p in allowed]
    assert shown == ["docs/a.md", "docs/sub/b.md"]
    assert not any("outside" in entry or "loop" in entry for entry, _ in refused_entries)
    assert opened == []
    assert refused("docs/outside/secret.txt", registry) == "symlink leads outside the launch directory"
    # Through the looping link the real path is docs/a.md itself: in scope, same file.
    assert read_scoped("docs/loop/a.md", registry).path == (tree.launch / "docs" / "a.md").resolve()


def test_hard_to_spell_escapes_are_refused(tree, opened) -> None:
    registry = tree.registry("- notes.md\n- docs/**")
    for candidate in ("./../secret.txt", "docs/./../../secret.txt", "docs//..//..//secret.txt",
                      f"{tree.launch}/../secret.txt", "~/secret.txt", "../project/../secret.txt"):
        assert refused(candidate, registry).startswith(("path leads outside", "not a registered")), candidate
    assert opened == []

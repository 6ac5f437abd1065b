"""The package tar: written with safe members only; hostile members refused before any read."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from amatelier.bundles import BundleError
from amatelier.bundles.archive import build_package, read_package
from amatelier.bundles.files import MAX_FILE_BYTES, Budget, read_tree, write_tree


def hostile_tar(path: Path, members: list[tuple[str, bytes | None, bytes]], gz: bool = True) -> Path:
    """A tar with arbitrary members: (name, type, data); type None means a regular file."""
    with tarfile.open(path, "w:gz" if gz else "w", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data) if kind is None else 0
            if kind is not None:
                info.type = kind
                info.linkname = "/etc/passwd"
            tar.addfile(info, io.BytesIO(data) if kind is None else None)
    return path


MANIFEST = ("manifest.json", None, b"{}")


def test_a_package_round_trips_and_is_reproducible(tmp_path):
    files = {"CLAUDE.md": b"persona", "skills/a.md": b"skill"}
    data = build_package(b'{"m": 1}', files, "c2ln")
    assert data == build_package(b'{"m": 1}', files, "c2ln")  # same input, same bytes
    path = tmp_path / "a.amatelier"
    path.write_bytes(data)
    contents = read_package(path)
    assert contents.manifest_bytes == b'{"m": 1}'
    assert contents.files == files
    assert contents.signature == b"c2ln\n"
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["manifest.json", "signature.sig", "CLAUDE.md", "skills/a.md"]
    assert all(m.isreg() and m.uid == 0 and m.mode == 0o644 for m in members)


def test_build_refuses_an_unsafe_name():
    with pytest.raises(BundleError, match="climbs out"):
        build_package(b"{}", {"../x": b"x"}, None)


@pytest.mark.parametrize(("member", "message"), [
    (("../evil.md", None, b"x"), "climbs out"),
    (("skills/../../evil.md", None, b"x"), "climbs out"),
    (("/etc/cron.d/evil", None, b"x"), "absolute"),
    (("link.md", tarfile.SYMTYPE, b""), "is a link"),
    (("hard.md", tarfile.LNKTYPE, b""), "is a link"),
    (("dev", tarfile.CHRTYPE, b""), "device"),
    (("fifo", tarfile.FIFOTYPE, b""), "device or pipe"),
    (("a\\..\\..\\b", None, b"x"), "backslash"),
])
def test_hostile_members_are_refused_before_anything_is_read(tmp_path, member, message):
    # the hostile member comes after a valid one and before the manifest: all headers are checked first
    path = hostile_tar(tmp_path / "bad.amatelier", [("CLAUDE.md", None, b"ok"), member, MANIFEST])
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(BundleError, match=message):
        read_package(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path.parent / "evil.md").exists()


def test_duplicate_members_and_a_missing_manifest_are_refused(tmp_path):
    dup = hostile_tar(tmp_path / "dup.amatelier", [MANIFEST, ("a.md", None, b"1"), ("a.md", None, b"2")])
    with pytest.raises(BundleError, match="appears twice"):
        read_package(dup)
    bare = hostile_tar(tmp_path / "bare.amatelier", [("a.md", None, b"1")])
    with pytest.raises(BundleError, match="has no manifest.json"):
        read_package(bare)


def test_oversized_members_are_refused_by_their_header(tmp_path):
    big = hostile_tar(tmp_path / "big.amatelier", [MANIFEST, ("big.md", None, b"\0" * (MAX_FILE_BYTES + 1))])
    with pytest.raises(BundleError, match="a file may hold at most"):
        read_package(big)


def test_files_that_are_not_packages_fail_with_one_line(tmp_path):
    text = tmp_path / "notes.amatelier"
    text.write_text("just text")
    with pytest.raises(BundleError, match="not a readable .amatelier package"):
        read_package(text)
    plain = hostile_tar(tmp_path / "plain.amatelier", [MANIFEST], gz=False)
    with pytest.raises(BundleError, match="not a readable"):
        read_package(plain)
    truncated = tmp_path / "cut.amatelier"
    truncated.write_bytes(build_package(b"{}", {"a.md": os.urandom(5000)}, None)[:2000])
    with pytest.raises(BundleError, match="not a readable"):
        read_package(truncated)


def test_reading_a_directory_refuses_links_and_limits_sizes(tmp_path):
    root = tmp_path / "agent"
    root.mkdir()
    (root / "CLAUDE.md").write_text("persona")
    (tmp_path / "secret").write_text("top secret")
    (root / "leak.md").symlink_to(tmp_path / "secret")
    (root / "sub").symlink_to(tmp_path)
    assert read_tree(root, ["CLAUDE.md"]) == {"CLAUDE.md": b"persona"}
    with pytest.raises(BundleError, match="symbolic link"):
        read_tree(root, ["leak.md"])
    with pytest.raises(BundleError, match="symbolic link"):
        read_tree(root, ["sub/secret"])
    with pytest.raises(BundleError, match="missing"):
        read_tree(root, ["nope.md"])
    with pytest.raises(BundleError, match="at most 3"):
        read_tree(root, ["CLAUDE.md"], Budget(max_file=3))


def test_write_tree_creates_files_exclusively_inside_the_root(tmp_path):
    write_tree(tmp_path / "new", {"a/b.md": b"1", "c.md": b"2"})
    assert (tmp_path / "new" / "a" / "b.md").read_bytes() == b"1"
    with pytest.raises(BundleError):
        write_tree(tmp_path / "other", {"../escape.md": b"x"})
    assert not (tmp_path / "escape.md").exists()
    with pytest.raises(FileExistsError):
        write_tree(tmp_path / "new", {"d.md": b"3"})  # never writes into an existing directory

"""Ed25519 keys and signatures: file modes, the canonical message, what a signature covers."""

from __future__ import annotations

import base64
import copy
import stat
from pathlib import Path

import pytest

from amatelier.bundles import BundleError
from amatelier.bundles.files import sha256_hex
from amatelier.bundles.signing import (
    canonical_message,
    fingerprint,
    generate_keypair,
    load_private_key,
    load_public_key_b64,
    sign_manifest,
    signature_valid,
)
from amatelier.bundles.verify import Bundle, check_hashes, verify_bundle

FILES = {"CLAUDE.md": b"# persona\n", "IDENTITY.md": b"# identity\n", "skills/b.md": b"b", "skills/a.md": b"a"}


def manifest() -> dict:
    return {
        "schema_version": "1.0", "name": "elena", "version": "1.0.0",
        "base_model": {"model": "gpt-4o", "provider": "openai", "persona": "shared"},
        "shared": {"persona": {"claude_md": "CLAUDE.md", "identity_md": "IDENTITY.md"},
                   "skills": ["skills/a.md", "skills/b.md"]},
        "integrity": {"algorithm": "sha256", "files": {p: sha256_hex(d) for p, d in FILES.items()}},
    }


@pytest.fixture
def keys(tmp_path: Path):
    return generate_keypair(tmp_path / "keys")


def signed(keys, **extra) -> dict:
    data = manifest()
    data.update(extra)
    sign_manifest(data, load_private_key(keys.private_path), "2026-01-02T03:04:05Z")
    return data


def test_keygen_writes_a_0600_private_key_and_never_overwrites(keys, tmp_path):
    mode = stat.S_IMODE(keys.private_path.stat().st_mode)
    assert mode == 0o600
    assert keys.private_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert load_public_key_b64(keys.public_path) == keys.public_key
    assert keys.fingerprint == fingerprint(keys.public_key)
    before = keys.private_path.read_bytes()
    with pytest.raises(BundleError, match="refusing to overwrite"):
        generate_keypair(tmp_path / "keys")
    assert keys.private_path.read_bytes() == before


def test_the_canonical_message_is_sorted_lines_then_the_manifest_without_the_signature_value(keys):
    data = signed(keys)
    message = canonical_message(data).decode()
    lines, _, body = message.partition("\n\n")
    assert lines.splitlines() == [f"{p}:{sha256_hex(FILES[p])}" for p in sorted(FILES)]
    assert data["integrity"]["signature"]["value"] not in body
    assert data["integrity"]["signature"]["public_key"] in body  # the key and time are signed too
    assert '"signed_at":"2026-01-02T03:04:05Z"' in body


def test_a_signature_holds_until_anything_it_covers_changes(keys):
    data = signed(keys)
    assert signature_valid(data)
    for change in (
        lambda m: m.__setitem__("description", "now evil"),
        lambda m: m["integrity"]["files"].__setitem__("CLAUDE.md", "0" * 64),
        lambda m: m["integrity"]["signature"].__setitem__("signed_at", "2030-01-01T00:00:00Z"),
        lambda m: m["base_model"].__setitem__("model", "gpt-5"),
    ):
        tampered = copy.deepcopy(data)
        change(tampered)
        assert not signature_valid(tampered)


def test_a_signature_by_another_key_under_this_public_key_fails(keys, tmp_path):
    other = generate_keypair(tmp_path / "other")
    data = signed(keys)
    forged = signed(other)
    forged["integrity"]["signature"]["public_key"] = data["integrity"]["signature"]["public_key"]
    assert not signature_valid(forged)


def bundle(data: dict, files=None, sig=None) -> Bundle:
    value = data["integrity"].get("signature", {}).get("value")
    sig_file = sig if sig is not None else (value.encode() + b"\n" if value else None)
    return Bundle(manifest=data, manifest_bytes=b"", files=dict(files or FILES), signature_file=sig_file,
                  source="test", sha256="")


def test_verify_names_the_changed_file(keys):
    files = dict(FILES)
    files["skills/b.md"] = b"B"
    with pytest.raises(BundleError, match=r"^skills/b.md was modified"):
        verify_bundle(bundle(signed(keys), files))


def test_verify_refuses_missing_and_unlisted_files(keys):
    files = dict(FILES)
    del files["IDENTITY.md"]
    with pytest.raises(BundleError, match="IDENTITY.md is listed in the manifest but missing"):
        check_hashes(manifest(), files)
    with pytest.raises(BundleError, match="extra.sh is in the package but not in the manifest"):
        check_hashes(manifest(), {**FILES, "extra.sh": b"rm -rf ~"})


def test_verify_checks_signature_sig_and_the_expected_key(keys, tmp_path):
    data = signed(keys)
    report = verify_bundle(bundle(data), expected_key=keys.public_key)
    assert report.signed and report.fingerprint == keys.fingerprint and report.model == "gpt-4o"
    with pytest.raises(BundleError, match="signature.sig is missing"):
        verify_bundle(Bundle(data, b"", dict(FILES), None, "t", ""))
    with pytest.raises(BundleError, match="signature.sig does not match"):
        verify_bundle(bundle(data, sig=base64.b64encode(b"x" * 64) + b"\n"))
    other = generate_keypair(tmp_path / "other")
    with pytest.raises(BundleError, match=f"not by the expected key {other.fingerprint}"):
        verify_bundle(bundle(data), expected_key=other.public_key)


def test_an_unsigned_bundle_verifies_its_hashes_but_not_against_a_key(keys):
    report = verify_bundle(bundle(manifest()))
    assert not report.signed and report.public_key is None
    with pytest.raises(BundleError, match="unsigned"):
        verify_bundle(bundle(manifest()), expected_key=keys.public_key)


def test_key_files_that_are_not_keys_fail_clearly(keys, tmp_path):
    with pytest.raises(BundleError, match="is a private key; pass the .pub"):
        load_public_key_b64(keys.private_path)
    junk = tmp_path / "junk.pub"
    junk.write_text("hello")
    with pytest.raises(BundleError, match="not an Ed25519 public key"):
        load_public_key_b64(junk)
    with pytest.raises(BundleError, match="not an unencrypted PEM private key"):
        load_private_key(keys.public_path)
    with pytest.raises(BundleError, match="does not exist"):
        load_private_key(tmp_path / "nope.key")
    raw = tmp_path / "raw.pub"
    raw.write_text(keys.public_key + "\n")
    assert load_public_key_b64(raw) == keys.public_key

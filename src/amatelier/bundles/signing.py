"""Ed25519 keys, the canonical message, signing and verifying (all crypto from `cryptography`).

The canonical message binds the files and the manifest together::

    <path>:<sha256 hex>\\n    one line per file, sorted by path
    \\n
    <the manifest as compact JSON, keys sorted, without integrity.signature.value>

so changing any file, any hash, the public key, the timestamp or any manifest field
breaks the signature. The private key is written once with mode 0600 and never printed.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amatelier.bundles import BundleError

PRIVATE_NAME = "amatelier.key"
PUBLIC_NAME = "amatelier.pub"
MAX_KEY_FILE_BYTES = 16 * 1024


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_path: Path
    public_key: str  # raw 32 bytes, base64
    fingerprint: str


def canonical_message(manifest: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted `path:sha256` lines, a blank line, the manifest JSON."""
    files = manifest.get("integrity", {}).get("files", {})
    lines = "".join(f"{path}:{files[path]}\n" for path in sorted(files))
    body = copy.deepcopy(manifest)
    signature = body.get("integrity", {}).get("signature")
    if isinstance(signature, dict):
        signature.pop("value", None)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (lines + "\n" + text).encode("utf-8")


def fingerprint(public_key_b64: str) -> str:
    """A short, stable name for a public key: `SHA256:` + the first 16 hex digits of its hash."""
    raw = base64.b64decode(public_key_b64)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()[:16]


# --------------------------------------------------------------------------- keys


def generate_keypair(directory: Path) -> KeyPair:
    """Create DIR/amatelier.key (0600) and DIR/amatelier.pub; never overwrites either."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory = Path(directory)
    private_path, public_path = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise BundleError(f"{path} already exists; refusing to overwrite a key (move it away first)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BundleError(f"cannot create {directory}: {exc.strerror or exc}") from None
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    _write_new(private_path, private_pem, 0o600)
    try:
        _write_new(public_path, public_pem, 0o644)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    public_b64 = raw_public_b64(key.public_key())
    return KeyPair(private_path, public_path, public_b64, fingerprint(public_b64))


def _write_new(path: Path, data: bytes, mode: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, mode)
    except OSError as exc:
        raise BundleError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(path, mode)  # the umask may have narrowed or (for 0600) not mattered; be exact
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def raw_public_b64(public_key) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        if Path(path).stat().st_size > MAX_KEY_FILE_BYTES:
            raise BundleError(f"{path} is too large to be a {what}")
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise BundleError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def load_private_key(path: Path):
    """The Ed25519 private key in a PEM file; a clear error (never the key) when it is not one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read_key_file(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise BundleError(f"{path} is not an unencrypted PEM private key "
                          "(make one with `amatelier agent keygen`)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path} is not an Ed25519 key")
    return key


def load_public_key_b64(path: Path) -> str:
    """A public key file (PEM, or the raw key in base64) as the raw key in base64."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read_key_file(path, "public key")
    if b"PRIVATE KEY" in data:
        raise BundleError(f"{path} is a private key; pass the .pub file")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        return _b64_public_key(data.decode("ascii", "replace").strip(), str(path))
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{path} is not an Ed25519 public key")
    return raw_public_b64(key)


def _b64_public_key(text: str, where: str) -> str:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise BundleError(f"{where} is not an Ed25519 public key (PEM or 32 bytes in base64)")
    return base64.b64encode(raw).decode("ascii")


def public_pem(public_key_b64: str) -> bytes:
    """The PEM form of a raw base64 public key (how trusted keys are stored)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


# --------------------------------------------------------------------------- sign / verify


def sign_manifest(manifest: dict[str, Any], private_key, signed_at: str) -> str:
    """Fill manifest.integrity.signature in place; returns the signature (base64)."""
    integrity = manifest.setdefault("integrity", {"algorithm": "sha256", "files": {}})
    integrity["signature"] = {"algorithm": "ed25519", "public_key": raw_public_b64(private_key.public_key()),
                              "signed_at": signed_at, "value": ""}
    value = base64.b64encode(private_key.sign(canonical_message(manifest))).decode("ascii")
    integrity["signature"]["value"] = value
    return value


def signature_valid(manifest: dict[str, Any]) -> bool:
    """Whether integrity.signature is a valid Ed25519 signature by its own public key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signature = manifest.get("integrity", {}).get("signature")
    if not isinstance(signature, dict):
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(signature["public_key"]))
        key.verify(base64.b64decode(signature["value"]), canonical_message(manifest))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return True

"""Ed25519 keys for the audit checkpoints: generate, load (PEM, or the raw 32 bytes as
bytes, hex or base64), fingerprint. The private key never goes into the database."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from labelhouse.errors import InvalidInput, Problem


def _key_problem(path: Path, what: str) -> InvalidInput:
    return InvalidInput(
        f"{path} is not {what}: give a PEM file written by `labelhouse audit keygen` (or the "
        "raw 32-byte key).",
        [Problem("key", str(path))],
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"Cannot read the key file {path}: {exc.strerror or exc}.", [Problem("key", str(path))]
        ) from None


def _raw_32(data: bytes) -> bytes | None:
    """A raw key as bytes, hex or base64 text."""
    if len(data) == 32:
        return data
    text = data.strip()
    decoders: tuple[Callable[[str], bytes], ...] = (
        bytes.fromhex,
        lambda t: base64.b64decode(t, validate=True),
    )
    for decode in decoders:
        try:
            raw = decode(text.decode("ascii"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            continue
        if len(raw) == 32:
            return raw
    return None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    data = _read(path)
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise _key_problem(path, "an unencrypted Ed25519 private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise _key_problem(path, "an Ed25519 private key")
        return key
    raw = _raw_32(data)
    if raw is None:
        raise _key_problem(path, "an Ed25519 private key")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key file (PEM, raw, hex or base64); a private key file works too."""
    data = _read(path)
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError:
            raise _key_problem(path, "an Ed25519 public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise _key_problem(path, "an Ed25519 public key")
        return key
    raw = _raw_32(data)
    if raw is None:
        raise _key_problem(path, "an Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint naming the key in each checkpoint (key rotation, wrong key)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key_file(path: Path) -> Ed25519PublicKey:
    """Write a new private key (PEM, mode 0600; never overwrites) and return its public half."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(
            f"{path} exists already; a key is never overwritten (checkpoints signed with it "
            "could no longer be verified). Choose another path.",
            [Problem("path", str(path))],
        ) from None
    except OSError as exc:
        raise InvalidInput(
            f"Cannot create {path}: {exc.strerror or exc}.", [Problem("path", str(path))]
        ) from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key.public_key()

"""API keys of model endpoints, encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The Fernet key is derived (HKDF-SHA256) from ``LABELHOUSE_MODELS_SECRET_KEY``, which lives
in the server's environment, never in the database: a copy of the database (a backup, a
dump) holds only ciphertext. There is no default key: without one, storing a key is refused
with a sentence saying what to set.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from labelhouse.config import Settings
from labelhouse.errors import InvalidInput, Problem

MIN_KEY_CHARS = 32
_INFO = b"labelhouse model endpoint secrets v1"


def _fernet(settings: Settings) -> Fernet:
    raw = settings.models_secret_key.get_secret_value() if settings.models_secret_key else ""
    if not raw:
        raise InvalidInput(
            "No key to encrypt API keys with: set LABELHOUSE_MODELS_SECRET_KEY on the server to "
            f"a random secret of at least {MIN_KEY_CHARS} characters (e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`), kept apart from "
            "the database, then try again.",
            [Problem("api_key", "cannot be stored without LABELHOUSE_MODELS_SECRET_KEY")],
        )
    if len(raw) < MIN_KEY_CHARS:
        raise InvalidInput(
            f"LABELHOUSE_MODELS_SECRET_KEY is too short ({len(raw)} characters); use a random "
            f"secret of at least {MIN_KEY_CHARS}.",
            [Problem("api_key", "the server's encryption key is too short")],
        )
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(raw.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(settings: Settings, secret: str) -> bytes:
    return _fernet(settings).encrypt(secret.encode())


def decrypt(settings: Settings, token: bytes, endpoint_name: str) -> str:
    try:
        return _fernet(settings).decrypt(bytes(token)).decode()
    except InvalidToken:
        raise InvalidInput(
            f"The API key of endpoint '{endpoint_name}' cannot be decrypted: "
            "LABELHOUSE_MODELS_SECRET_KEY changed since it was stored. Set the key it was "
            "stored with, or store the API key again."
        ) from None


def hint(secret: str) -> str:
    """What may be shown of a stored key: its last four characters (none of a short one)."""
    return secret[-4:] if len(secret) >= 12 else ""

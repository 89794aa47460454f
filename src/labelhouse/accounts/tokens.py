"""Random secrets for API tokens, sessions and invitations; only SHA-256 digests are stored.

A fast hash is right here (unlike passwords): the secrets carry 256 bits of entropy.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "lh_"


def new_secret(prefix: str = TOKEN_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()

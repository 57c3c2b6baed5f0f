"""Client identifiers and secrets: generating them, hashing them, checking them."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from receiver.ids import new_id


def new_client_id() -> str:
    """A fresh client id, `cli_` + 26 base32 characters (not a secret)."""
    return new_id("cli")


def new_client_secret() -> str:
    """A fresh client secret: 32 random bytes (256 bits), base64url, 43 characters."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest under which a secret is stored.

    A plain hash is enough: our secrets carry 256 random bits, so there is no dictionary to
    try and a slow KDF (bcrypt, argon2) would only slow every token request down.
    """
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def secret_matches(secret: str, hashed: str) -> bool:
    """True if `secret` hashes to `hashed`, compared in constant time."""
    return hmac.compare_digest(hash_secret(secret).encode(), hashed.encode("utf-8"))

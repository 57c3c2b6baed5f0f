"""The ES256 signing key: loaded from (or created as) a 0600 PEM file, published as a JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from receiver.errors import ConfigError

_COORDINATE_BYTES = 32  # P-256


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An EC P-256 private key with its `kid` (RFC 7638 thumbprint) and public JWK."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey
    public_jwk: dict[str, str]

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half, which verifies the tokens this key signs."""
        return self.private_key.public_key()


def signing_key_from_private(private_key: ec.EllipticCurvePrivateKey) -> SigningKey:
    """Wrap a P-256 private key, deriving its public JWK and thumbprint `kid`."""
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise ConfigError(f"signing key must be on curve P-256, not {private_key.curve.name}")
    numbers = private_key.public_key().public_numbers()
    members = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(_COORDINATE_BYTES, "big")),
        "y": _b64url(numbers.y.to_bytes(_COORDINATE_BYTES, "big")),
    }
    kid = _thumbprint(members)
    jwk = {**members, "kid": kid, "use": "sig", "alg": "ES256"}
    return SigningKey(kid=kid, private_key=private_key, public_jwk=jwk)


def load_or_create_signing_key(path: Path) -> SigningKey:
    """Load the PEM key at `path`, or generate one and write it there with mode 0600.

    ConfigError if the file is readable by group or others, or is not an unencrypted PKCS8
    EC P-256 key.
    """
    if not path.exists():
        _create_key_file(path, ec.generate_private_key(ec.SECP256R1()))
    return _load_key_file(path)


def jwks(keys: Sequence[SigningKey]) -> dict[str, list[dict[str, str]]]:
    """The JWK Set document (RFC 7517 §5) publishing the public halves of `keys`."""
    return {"keys": [dict(key.public_jwk) for key in keys]}


def _load_key_file(path: Path) -> SigningKey:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"signing key {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(mode):o}); fix it with: chmod 600 {path}"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read signing key {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(
            f"signing key {path} is not an unencrypted PEM private key; "
            "move it away to have a new one generated"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"signing key {path} must be an EC P-256 key (ES256)")
    return signing_key_from_private(key)


def _create_key_file(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            _publish(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write signing key {path}: {exc.strerror}") from None


def _publish(tmp: Path, path: Path) -> None:
    # A hard link never overwrites: when two processes start at once on a fresh directory,
    # the first key written wins and both load it, instead of each signing with its own.
    try:
        os.link(tmp, path)
    except FileExistsError:
        return
    except OSError:
        os.replace(tmp, path)  # filesystems without hard links


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # platforms that cannot open a directory have nothing to sync
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _thumbprint(members: dict[str, str]) -> str:
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

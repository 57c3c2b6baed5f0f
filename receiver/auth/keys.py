"""ES256 signing keys and the key file that holds them: PEM private keys, each with the time it
starts signing, in a 0600 file every replica reads; their public halves published as a JWKS.

The file is a PEM bundle. Lines of `name: value` before a key block are that key's attributes,
as in the "Bag Attributes" OpenSSL writes beside keys; `#` lines are comments:

    kid: 7ZtA...
    activates_at: 2026-12-01T10:15:00+00:00
    -----BEGIN PRIVATE KEY-----
    ...

A plain PEM file with one key (what receiver has always created beside its SQLite database) is a
key file whose only key signs from the start.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from receiver.errors import ConfigError

_COORDINATE_BYTES = 32  # P-256
_BEGIN = re.compile(r"-----BEGIN ([A-Z ]+)-----")
_ATTRIBUTE = re.compile(r"([a-z_]+):\s*(\S.*)")
_KEY_BLOCKS = frozenset({"PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"})
_IGNORED_BLOCKS = frozenset({"EC PARAMETERS"})  # what `openssl ecparam -genkey` puts first
_HEADER = (
    "# receiver token signing keys. Each key signs from its activates_at (or from the start)\n"
    "# until the next key's; `receiver keys list` shows every key's windows. Keep it mode 0600.\n"
)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An EC P-256 private key with its `kid` (RFC 7638 thumbprint) and public JWK."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    public_jwk: dict[str, str] = field(repr=False)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half, which verifies the tokens this key signs."""
        return self.private_key.public_key()


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One key of the key file and when it starts signing (None: from the start)."""

    key: SigningKey
    activates_at: datetime | None = None


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


def new_signing_key() -> SigningKey:
    """A freshly generated P-256 key."""
    return signing_key_from_private(ec.generate_private_key(ec.SECP256R1()))


def jwks(keys: Sequence[SigningKey]) -> dict[str, list[dict[str, str]]]:
    """The JWK Set document (RFC 7517 §5) publishing the public halves of `keys`."""
    return {"keys": [dict(key.public_jwk) for key in keys]}


def create_key_file(path: Path) -> None:
    """Create a key file holding one new key at `path` (mode 0600), unless one is there."""
    if not path.exists():
        write_key_file(path, (KeyEntry(new_signing_key()),), replace=False)


def load_or_create_signing_key(path: Path) -> SigningKey:
    """The first key of the key file at `path`, created first if missing (`create_key_file`).
    ConfigError as for `load_key_file`."""
    create_key_file(path)
    return load_key_file(path)[0].key


def load_key_file(path: Path) -> tuple[KeyEntry, ...]:
    """The keys of the key file at `path`, in file order.

    ConfigError if it cannot be read, is open to others (see `mode_problem`), holds no key,
    or holds anything but unencrypted EC P-256 private keys and their attributes.
    """
    try:
        info = path.stat()
        problem = mode_problem(info.st_mode, info.st_uid, os.geteuid())
        if problem:
            raise ConfigError(f"signing key file {path} {problem}")
        text = path.read_bytes().decode("ascii")
    except OSError as exc:
        raise ConfigError(f"cannot read signing key file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"signing key file {path} is not a PEM file") from None
    return parse_key_file(text, str(path))


def mode_problem(mode: int, owner: int, euid: int) -> str | None:
    """Why a key file with `mode` owned by `owner` must not be used by user `euid`, if it must not.

    As PostgreSQL rules for its TLS key: a file of our own may be open to nobody else (0600);
    a file owned by root may also be readable by its group (0640), which is how a Kubernetes
    Secret volume with an fsGroup reaches a non-root process.
    """
    allowed = stat.S_IRGRP if owner == 0 and owner != euid else 0
    if mode & (stat.S_IRWXG | stat.S_IRWXO) & ~allowed:
        return (
            f"is accessible by group or others (mode {stat.S_IMODE(mode):o}); "
            "make it readable by its owner only (chmod 600)"
        )
    return None


def parse_key_file(text: str, name: str) -> tuple[KeyEntry, ...]:
    """The keys in a key file's text (`name` is only for messages). ConfigError if malformed;
    no message quotes the file's content."""
    entries: list[KeyEntry] = []
    attributes: dict[str, str] = {}
    block: list[str] | None = None
    label = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if block is not None:
            block.append(line)
            if line == f"-----END {label}-----":
                if label in _KEY_BLOCKS:
                    entries.append(_entry("\n".join(block), attributes, name, len(entries) + 1))
                    attributes = {}
                block = None
            continue
        begin = _BEGIN.fullmatch(line)
        if begin is not None:
            label, block = begin.group(1), [line]
            if label not in _KEY_BLOCKS | _IGNORED_BLOCKS:
                raise ConfigError(f"signing key file {name}: a {label} is not a private key")
        elif line and not line.startswith("#"):
            _read_attribute(line, attributes, name, number)
    if block is not None:
        raise ConfigError(f"signing key file {name}: the last PEM block has no END line")
    if attributes:
        raise ConfigError(f"signing key file {name}: attributes after the last key")
    if not entries:
        raise ConfigError(f"signing key file {name} holds no PEM private key")
    return tuple(entries)


def render_key_file(entries: Sequence[KeyEntry]) -> bytes:
    """The key file holding `entries`, in order (the inverse of `parse_key_file`)."""
    parts = [_HEADER]
    for entry in entries:
        parts.append(f"kid: {entry.key.kid}\n")
        if entry.activates_at is not None:
            parts.append(f"activates_at: {entry.activates_at.isoformat()}\n")
        pem = entry.key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        parts.append(pem.decode("ascii"))
    return "".join(parts).encode("ascii")


def write_key_file(path: Path, entries: Sequence[KeyEntry], *, replace: bool) -> None:
    """Write `entries` to `path` with mode 0600, all or nothing (a reader sees the old file or
    the new one). Without `replace`, an existing file is left alone: when two processes create
    one at once, the first written wins and both use it. ConfigError if it cannot be written."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(render_key_file(entries))
                fh.flush()
                os.fsync(fh.fileno())
            if replace:
                os.replace(tmp, path)
            else:
                _publish(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write signing key file {path}: {exc.strerror}") from None


def _read_attribute(line: str, attributes: dict[str, str], name: str, number: int) -> None:
    match = _ATTRIBUTE.fullmatch(line)
    if match is None or match.group(1) not in {"kid", "activates_at"}:
        raise ConfigError(
            f"signing key file {name}: line {number} is neither a PEM block, a comment, "
            "nor a kid: or activates_at: attribute"
        )
    attributes[match.group(1)] = match.group(2).strip()


def _entry(pem: str, attributes: dict[str, str], name: str, number: int) -> KeyEntry:
    try:
        private = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(
            f"signing key file {name}: key {number} is not an unencrypted PEM private key"
        ) from None
    if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(
        private.curve, ec.SECP256R1
    ):
        raise ConfigError(f"signing key file {name}: key {number} must be EC P-256 (ES256)")
    key = signing_key_from_private(private)
    if attributes.get("kid", key.kid) != key.kid:
        raise ConfigError(f"signing key file {name}: key {number} does not match its kid")
    return KeyEntry(key, _activation(attributes.get("activates_at"), name, number))


def _activation(raw: str | None, name: str, number: int) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ConfigError(
            f"signing key file {name}: key {number} activates_at must be an ISO 8601 time "
            "with a timezone"
        )
    return moment


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

"""The ES256 signing key file: created 0600, reloaded with the same kid, refused when unsafe."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from receiver.auth import keys
from receiver.auth.keys import jwks, load_or_create_signing_key
from receiver.errors import ConfigError


def _write_pem(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def test_creates_key_file_with_mode_0600_and_parent_dir(tmp_path: Path) -> None:
    path = tmp_path / "state" / "signing.pem"
    key = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert isinstance(key.private_key.curve, ec.SECP256R1)
    assert [p.name for p in path.parent.iterdir()] == ["signing.pem"]  # no temp file left


def test_reload_gives_same_key_and_kid(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    first = load_or_create_signing_key(path)
    second = load_or_create_signing_key(path)
    assert first.kid == second.kid
    assert first.public_jwk == second.public_jwk


def test_kid_is_rfc7638_thumbprint(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path / "k.pem")
    jwk = key.public_jwk
    canonical = f'{{"crv":"P-256","kty":"EC","x":"{jwk["x"]}","y":"{jwk["y"]}"}}'
    digest = hashlib.sha256(canonical.encode()).digest()
    assert key.kid == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    reference = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key))
    assert (reference["x"], reference["y"]) == (jwk["x"], jwk["y"])


def test_loads_existing_p256_key(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    private = ec.generate_private_key(ec.SECP256R1())
    _write_pem(path, private)
    key = load_or_create_signing_key(path)
    assert key.private_key.private_numbers() == private.private_numbers()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_refuses_key_readable_by_group_or_others(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "k.pem"
    load_or_create_signing_key(path)
    path.chmod(mode)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_signing_key(path)


def test_refuses_rsa_key(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    _write_pem(path, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(ConfigError, match="P-256"):
        load_or_create_signing_key(path)


def test_refuses_other_curve(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    _write_pem(path, ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(ConfigError, match="P-256"):
        load_or_create_signing_key(path)


def test_refuses_garbage_and_encrypted_pem(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="not an unencrypted PEM"):
        load_or_create_signing_key(path)
    encrypted = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    path.write_bytes(encrypted)
    with pytest.raises(ConfigError, match="not an unencrypted PEM"):
        load_or_create_signing_key(path)


def test_unwritable_location_is_a_config_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(ConfigError, match="cannot write signing key"):
        load_or_create_signing_key(not_a_dir / "k.pem")


def test_jwks_shape(tmp_path: Path) -> None:
    one = load_or_create_signing_key(tmp_path / "a.pem")
    two = load_or_create_signing_key(tmp_path / "b.pem")
    document = jwks([one, two])
    assert [k["kid"] for k in document["keys"]] == [one.kid, two.kid]
    for jwk in document["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
        assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("EC", "P-256", "sig", "ES256")
        assert "d" not in jwk
    json.dumps(document)  # serialisable as is


def test_concurrent_creation_keeps_first_key(tmp_path: Path) -> None:
    # Two processes starting at once each generate a key; the second must not replace the
    # file the first may already be signing with.
    path = tmp_path / "k.pem"
    first = load_or_create_signing_key(path)
    keys._create_key_file(path, ec.generate_private_key(ec.SECP256R1()))
    assert load_or_create_signing_key(path).kid == first.kid
    assert [p.name for p in tmp_path.iterdir()] == ["k.pem"]

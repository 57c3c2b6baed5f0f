"""The ES256 signing key file: created 0600, reloaded with the same kid, refused when unsafe."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from receiver.auth.keys import (
    KeyEntry,
    jwks,
    load_key_file,
    load_or_create_signing_key,
    mode_problem,
    new_signing_key,
    parse_key_file,
    render_key_file,
    write_key_file,
)
from receiver.errors import ConfigError

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


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
    assert b"\n-----BEGIN PRIVATE KEY-----\n" in path.read_bytes()
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
    with pytest.raises(ConfigError, match="line 1 is neither a PEM block"):
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
    write_key_file(path, (KeyEntry(new_signing_key()),), replace=False)
    assert load_or_create_signing_key(path).kid == first.kid
    assert [p.name for p in tmp_path.iterdir()] == ["k.pem"]


def test_a_key_file_round_trips_keys_in_order_with_their_activation(tmp_path: Path) -> None:
    entries = (KeyEntry(new_signing_key()), KeyEntry(new_signing_key(), activates_at=T0))
    path = tmp_path / "keys.pem"
    write_key_file(path, entries, replace=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_key_file(path)
    assert [(e.key.kid, e.activates_at) for e in loaded] == [
        (entries[0].key.kid, None),
        (entries[1].key.kid, T0),
    ]
    text = path.read_text()
    assert text.count("-----BEGIN PRIVATE KEY-----") == 2
    assert f"kid: {entries[1].key.kid}\nactivates_at: 2026-12-01T10:00:00+00:00\n" in text


def test_replace_rewrites_an_existing_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "keys.pem"
    write_key_file(path, (KeyEntry(new_signing_key()),), replace=False)
    other = KeyEntry(new_signing_key())
    write_key_file(path, (other,), replace=True)
    assert [e.key.kid for e in load_key_file(path)] == [other.key.kid]
    assert [p.name for p in tmp_path.iterdir()] == ["keys.pem"]


def test_a_plain_pem_is_a_key_file_of_one_key_signing_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    private = ec.generate_private_key(ec.SECP256R1())
    _write_pem(path, private)
    (entry,) = load_key_file(path)
    assert entry.activates_at is None
    assert entry.key.private_key.private_numbers() == private.private_numbers()


def test_openssl_ecparam_output_is_read_past_its_parameters_block() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    sec1 = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    text = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + sec1
    (entry,) = parse_key_file(text, "k.pem")
    assert entry.key.private_key.private_numbers() == private.private_numbers()


def _one_key(**attributes: str) -> str:
    pem = render_key_file((KeyEntry(new_signing_key()),)).decode()
    block = pem[pem.index("-----BEGIN") :]
    return "".join(f"{name}: {value}\n" for name, value in attributes.items()) + block


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no PEM private key"),
        ("# only a comment\n", "holds no PEM private key"),
        (_one_key(kid="not-its-kid"), "does not match its kid"),
        (_one_key(activates_at="tomorrow"), "ISO 8601 time with a timezone"),
        (_one_key(activates_at="2026-12-01T10:00:00"), "with a timezone"),
        (_one_key(signs_until="2026-12-01T10:00:00Z"), "line 1 is neither"),
        ("SECRET-LOOKING-TEXT\n" + _one_key(), "line 1 is neither"),
        (_one_key() + "kid: x\n", "attributes after the last key"),
        (_one_key().rsplit("-----END", 1)[0], "has no END line"),
        ("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", "not a private key"),
    ],
)
def test_a_malformed_key_file_is_refused_without_quoting_it(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_key_file(text, "keys.pem")
    assert "SECRET-LOOKING-TEXT" not in info.value.detail
    assert "PRIVATE KEY-----" not in info.value.detail


@pytest.mark.parametrize(
    ("mode", "owner", "euid", "allowed"),
    [
        (0o600, 1000, 1000, True),
        (0o400, 1000, 1000, True),
        (0o640, 1000, 1000, False),
        (0o604, 1000, 1000, False),
        # A root-owned file read through its group, as a Kubernetes Secret with an fsGroup is.
        (0o440, 0, 1000, True),
        (0o640, 0, 1000, True),
        (0o660, 0, 1000, False),
        (0o644, 0, 1000, False),
        (0o640, 0, 0, False),  # running as root, the file is our own: 0600 only
    ],
)
def test_mode_rules_follow_postgresqls_for_its_tls_key(
    mode: int, owner: int, euid: int, allowed: bool
) -> None:
    assert (mode_problem(stat.S_IFREG | mode, owner, euid) is None) is allowed

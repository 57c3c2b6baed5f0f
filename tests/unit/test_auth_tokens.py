"""Access tokens: the issue/verify round trip and every forgery we must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from receiver.auth.clients import new_client
from receiver.auth.keys import SigningKey, load_or_create_signing_key, signing_key_from_private
from receiver.auth.tokens import TokenClaims, issue_access_token, verify_access_token
from receiver.errors import BearerError
from receiver.models import Client

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
ISSUER = "https://receiver.example.com"
AUDIENCE = "https://receiver.example.com"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return load_or_create_signing_key(tmp_path_factory.mktemp("keys") / "k.pem")


@pytest.fixture(scope="module")
def client() -> Client:
    return new_client("optum", ["callbacks:coverage-discovery", "events:read"], NOW)[0]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segment(data: dict[str, Any]) -> str:
    return b64(json.dumps(data).encode())


def sign_es256(
    header: dict[str, Any], claims: dict[str, Any], private: ec.EllipticCurvePrivateKey
) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}".encode()
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input, private)
    return f"{signing_input.decode()}.{b64(signature)}"


def sign_hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{b64(signature)}"


def good_claims(client: Client, **changes: Any) -> dict[str, Any]:
    issued = int(NOW.timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": client.client_id,
        "client_id": client.client_id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + 600,
        "jti": "jti-1",
        "scope": "events:read",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def good_header(key: SigningKey, **changes: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not None}


def verify(token: str, key: SigningKey, *, now: datetime = NOW) -> TokenClaims:
    return verify_access_token(token, {key.kid: key}, issuer=ISSUER, audience=AUDIENCE, now=now)


def assert_rejected(token: str, key: SigningKey, *, now: datetime = NOW) -> BearerError:
    with pytest.raises(BearerError) as info:
        verify(token, key, now=now)
    assert info.value.code == "invalid_token"
    assert info.value.status_code == 401
    if token:
        assert token not in info.value.detail
    return info.value


def issue(key: SigningKey, client: Client, *, now: datetime = NOW, **kw: Any) -> str:
    options: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "ttl_seconds": 600}
    options.update(kw)
    return issue_access_token(key, client, ("events:read",), now=now, **options)


class TestRoundTrip:
    def test_issue_then_verify(self, key: SigningKey, client: Client) -> None:
        token = issue_access_token(
            key,
            client,
            ("callbacks:coverage-discovery", "events:read"),
            issuer=ISSUER,
            audience=AUDIENCE,
            now=NOW,
            ttl_seconds=3600,
        )
        claims = verify(token, key)
        assert claims.client_id == client.client_id
        assert claims.subject == client.client_id
        assert claims.scopes == frozenset({"callbacks:coverage-discovery", "events:read"})
        assert claims.expires_at == NOW + timedelta(seconds=3600)
        assert claims.jti

    def test_rfc9068_header_and_claims(self, key: SigningKey, client: Client) -> None:
        token = issue(key, client)
        assert jwt.get_unverified_header(token) == {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
        claims = jwt.decode(token, options={"verify_signature": False})
        assert set(claims) == {
            "iss",
            "aud",
            "sub",
            "client_id",
            "iat",
            "nbf",
            "exp",
            "jti",
            "scope",
        }
        assert claims["scope"] == "events:read"

    def test_each_token_has_its_own_jti(self, key: SigningKey, client: Client) -> None:
        assert verify(issue(key, client), key).jti != verify(issue(key, client), key).jti

    def test_verifiable_from_public_jwk_alone(self, key: SigningKey, client: Client) -> None:
        public = jwt.PyJWK(key.public_jwk).key
        claims = jwt.decode(
            issue(key, client),
            public,
            algorithms=["ES256"],
            audience=AUDIENCE,
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
        assert claims["client_id"] == client.client_id

    @pytest.mark.parametrize(
        "typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"]
    )
    def test_typ_variants_accepted(self, key: SigningKey, client: Client, typ: str) -> None:
        token = sign_es256(good_header(key, typ=typ), good_claims(client), key.private_key)
        assert verify(token, key).client_id == client.client_id

    def test_leeway_of_30_seconds(self, key: SigningKey, client: Client) -> None:
        token = issue(key, client, ttl_seconds=60)
        assert verify(token, key, now=NOW + timedelta(seconds=89))
        assert_rejected(token, key, now=NOW + timedelta(seconds=90))
        assert verify(token, key, now=NOW - timedelta(seconds=30))
        assert_rejected(token, key, now=NOW - timedelta(seconds=31))

    def test_uses_injected_now_not_real_clock(self, key: SigningKey, client: Client) -> None:
        long_ago = datetime(2001, 1, 1, tzinfo=UTC)
        token = issue(key, client, now=long_ago)
        assert verify(token, key, now=long_ago).client_id == client.client_id

    def test_key_chosen_by_kid(self, key: SigningKey, client: Client) -> None:
        other = signing_key_from_private(ec.generate_private_key(ec.SECP256R1()))
        token = issue(other, client)
        keys = {key.kid: key, other.kid: other}
        claims = verify_access_token(token, keys, issuer=ISSUER, audience=AUDIENCE, now=NOW)
        assert claims.client_id == client.client_id


class TestAttacks:
    def test_alg_none(self, key: SigningKey, client: Client) -> None:
        token = f"{segment(good_header(key, alg='none'))}.{segment(good_claims(client))}."
        assert_rejected(token, key)

    @pytest.mark.parametrize("alg", ["None", "NONE"])
    def test_alg_none_spellings(self, key: SigningKey, client: Client, alg: str) -> None:
        token = f"{segment(good_header(key, alg=alg))}.{segment(good_claims(client))}."
        assert_rejected(token, key)

    def test_hs256_with_public_key_pem(self, key: SigningKey, client: Client) -> None:
        pem = key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        token = sign_hs256(good_header(key, alg="HS256"), good_claims(client), pem)
        assert_rejected(token, key)

    def test_hs256_with_public_jwk(self, key: SigningKey, client: Client) -> None:
        secret = json.dumps(key.public_jwk).encode()
        token = sign_hs256(good_header(key, alg="HS256"), good_claims(client), secret)
        assert_rejected(token, key)

    @pytest.mark.parametrize("alg", ["ES384", "RS256", "PS256", "EdDSA"])
    def test_other_algorithms(self, key: SigningKey, client: Client, alg: str) -> None:
        header = good_header(key, alg=alg)
        token = f"{segment(header)}.{segment(good_claims(client))}.c2ln"
        assert_rejected(token, key)

    def test_expired(self, key: SigningKey, client: Client) -> None:
        token = issue(key, client, now=NOW - timedelta(hours=2))
        assert "expired" in assert_rejected(token, key).detail

    def test_not_yet_valid(self, key: SigningKey, client: Client) -> None:
        token = issue(key, client, now=NOW + timedelta(minutes=5))
        assert "not valid yet" in assert_rejected(token, key).detail

    def test_nbf_in_future(self, key: SigningKey, client: Client) -> None:
        nbf = int(NOW.timestamp()) + 300
        token = sign_es256(good_header(key), good_claims(client, nbf=nbf), key.private_key)
        assert_rejected(token, key)

    def test_wrong_audience(self, key: SigningKey, client: Client) -> None:
        token = issue(key, client, audience="https://elsewhere.example.com")
        assert "audience" in assert_rejected(token, key).detail

    def test_wrong_issuer(self, key: SigningKey, client: Client) -> None:
        token = issue(key, client, issuer="https://evil.example.com")
        assert "issuer" in assert_rejected(token, key).detail

    def test_tampered_signature(self, key: SigningKey, client: Client) -> None:
        head, payload, signature = issue(key, client).split(".")
        raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
        raw[5] ^= 0x01
        assert_rejected(f"{head}.{payload}.{b64(bytes(raw))}", key)

    def test_tampered_payload(self, key: SigningKey, client: Client) -> None:
        head, _, signature = issue(key, client).split(".")
        forged = segment(good_claims(client, scope="events:read events:replay audit:read"))
        assert_rejected(f"{head}.{forged}.{signature}", key)

    def test_signed_by_other_key_with_our_kid(self, key: SigningKey, client: Client) -> None:
        other = ec.generate_private_key(ec.SECP256R1())
        assert_rejected(sign_es256(good_header(key), good_claims(client), other), key)

    def test_unknown_kid(self, key: SigningKey, client: Client) -> None:
        other = signing_key_from_private(ec.generate_private_key(ec.SECP256R1()))
        assert "unknown" in assert_rejected(issue(other, client), key).detail

    def test_missing_kid(self, key: SigningKey, client: Client) -> None:
        token = sign_es256(good_header(key, kid=None), good_claims(client), key.private_key)
        assert_rejected(token, key)

    def test_non_string_kid(self, key: SigningKey, client: Client) -> None:
        token = sign_es256(good_header(key, kid=7), good_claims(client), key.private_key)
        assert_rejected(token, key)

    @pytest.mark.parametrize("typ", [None, "JWT", "jwt", "at+jwt+x", "dpop+jwt", 1])
    def test_wrong_typ(self, key: SigningKey, client: Client, typ: object) -> None:
        token = sign_es256(good_header(key, typ=typ), good_claims(client), key.private_key)
        assert "typ" in assert_rejected(token, key).detail

    def test_crit_header(self, key: SigningKey, client: Client) -> None:
        header = good_header(key, crit=["exp"])
        assert_rejected(sign_es256(header, good_claims(client), key.private_key), key)

    @pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub", "jti", "client_id"])
    def test_missing_required_claim(self, key: SigningKey, client: Client, claim: str) -> None:
        claims = good_claims(client, **{claim: None})
        assert_rejected(sign_es256(good_header(key), claims, key.private_key), key)

    @pytest.mark.parametrize(
        ("claim", "value"),
        [
            ("exp", "tomorrow"),
            ("exp", True),
            ("exp", 1e300),
            ("iat", "now"),
            ("client_id", 5),
            ("scope", ["events:read"]),
            ("jti", 1),
        ],
    )
    def test_claim_of_wrong_type(
        self, key: SigningKey, client: Client, claim: str, value: object
    ) -> None:
        claims = good_claims(client, **{claim: value})
        assert_rejected(sign_es256(good_header(key), claims, key.private_key), key)

    def test_nan_exp(self, key: SigningKey, client: Client) -> None:
        signing_input = (
            f"{segment(good_header(key))}.".encode()
            + b64(
                json.dumps(good_claims(client))
                .replace(str(int(NOW.timestamp()) + 600), "NaN")
                .encode()
            ).encode()
        )
        signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input, key.private_key)
        assert_rejected(f"{signing_input.decode()}.{b64(signature)}", key)

    @pytest.mark.parametrize(
        "garbage",
        [
            "",
            "abc",
            "a.b.c",
            "...",
            "a.b",
            "\u00fc.\u00fc.\u00fc",
            "null",
            "x" * 10_000,
            "eyJhbGciOiJFUzI1NiJ9",
            "eyJ.eyJ.eyJ",
            "Bearer abc",
        ],
    )
    def test_garbage(self, key: SigningKey, garbage: str) -> None:
        assert_rejected(garbage, key)

    def test_header_not_an_object(self, key: SigningKey, client: Client) -> None:
        token = f"{b64(b'[1,2]')}.{segment(good_claims(client))}.c2ln"
        assert_rejected(token, key)

    def test_jwe_shaped_token(self, key: SigningKey) -> None:
        header = segment({"alg": "RSA-OAEP", "enc": "A256GCM", "typ": "at+jwt", "kid": key.kid})
        assert_rejected(f"{header}.a.b.c.d", key)

    def test_payload_not_json(self, key: SigningKey) -> None:
        signing_input = f"{segment(good_header(key))}.{b64(b'not json')}".encode()
        signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input, key.private_key)
        assert_rejected(f"{signing_input.decode()}.{b64(signature)}", key)

    def test_error_never_contains_token(self, key: SigningKey, client: Client) -> None:
        token = issue(key, client, audience="other")
        error = assert_rejected(token, key)
        assert token not in str(error)
        assert token not in json.dumps(error.headers)

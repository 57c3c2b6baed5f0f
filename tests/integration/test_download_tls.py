"""Stedi's download redirect, pinned to the checked address, over real TLS on loopback: the
certificate is verified against the download host's name, not the address connected to."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from receiver.policy import FailureKind
from receiver.upstream.stedi import StediClient, UpstreamError
from tests.conftest import FIXTURES, fixture_bytes
from tests.mocks.stedi import DOWNLOAD_QUERY, MockStediState, serve_mock_stedi

pytestmark = pytest.mark.anyio

API_KEY = "test-stedi-key-9f8e7d6c5b4a"
TRANSACTION_ID = "0f3a9c2e-6b1d-4e8a-9c47-2d5e8f1a7b30"
NOW = dt.datetime(2025, 3, 14, 15, 5, tzinfo=dt.UTC)
DOWNLOAD_HOST = "files.example.test"  # the only name the certificate holds (no IP address)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(directory: Path) -> tuple[bytes, tuple[str, str]]:
    """A test CA (PEM) and a server certificate for DOWNLOAD_HOST only, signed by it."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    end = start + dt.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("receiver test CA"))
        .issuer_name(_name("receiver test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(DOWNLOAD_HOST))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOWNLOAD_HOST)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca.public_bytes(serialization.Encoding.PEM), (str(cert_file), str(key_file))


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, tuple[str, str]]:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def stedi() -> Iterator[tuple[str, MockStediState]]:
    """The mock Stedi core API, over plain http."""
    with serve_mock_stedi(FIXTURES) as running:
        yield running


@pytest.fixture
def files(certificates: tuple[bytes, tuple[str, str]]) -> Iterator[tuple[int, MockStediState]]:
    """A second mock serving the download over https, with the certificate for DOWNLOAD_HOST."""
    _, tls = certificates
    with serve_mock_stedi(FIXTURES, tls=tls) as (base_url, state):
        yield int(base_url.rsplit(":", 1)[1]), state


async def to_loopback(host: str, port: int) -> list[str]:
    """Every name resolves to loopback (allowed here: the servers are local)."""
    return ["127.0.0.1"]


async def download_via(core_url: str, ca_pem: bytes) -> bytes:
    """Fetch the 837 output through Stedi's redirect, trusting only the test CA."""
    context = ssl.create_default_context(cadata=ca_pem.decode())
    client = StediClient(
        healthcare_url=core_url,
        core_url=core_url,
        transport=httpx.AsyncHTTPTransport(verify=context),
        download_hosts="*.example.test",
        resolver=to_loopback,
        allow_private_downloads=True,
        read_timeout=5.0,
    )
    try:
        return await client.fetch_transaction_output(
            account="acme", api_key=API_KEY, transaction_id=TRANSACTION_ID, now=NOW
        )
    finally:
        await client.aclose()


async def test_the_certificate_is_verified_for_the_download_host_name(
    certificates: tuple[bytes, tuple[str, str]],
    stedi: tuple[str, MockStediState],
    files: tuple[int, MockStediState],
) -> None:
    ca_pem, _ = certificates
    core_url, core = stedi
    port, download = files
    core.output_redirect_base = f"https://{DOWNLOAD_HOST}:{port}"

    assert await download_via(core_url, ca_pem) == fixture_bytes("stedi/transaction-837p.x12")

    (request,) = download.requests
    assert request.headers["host"] == f"{DOWNLOAD_HOST}:{port}"
    assert request.query == DOWNLOAD_QUERY
    assert "authorization" not in request.headers


async def test_a_certificate_for_another_name_is_refused(
    certificates: tuple[bytes, tuple[str, str]],
    stedi: tuple[str, MockStediState],
    files: tuple[int, MockStediState],
) -> None:
    """The same server at the same checked address, named by a host its certificate does not
    hold: the TLS handshake fails, nothing is downloaded."""
    ca_pem, _ = certificates
    core_url, core = stedi
    port, download = files
    core.output_redirect_base = f"https://other.example.test:{port}"

    with pytest.raises(UpstreamError) as caught:
        await download_via(core_url, ca_pem)

    assert caught.value.kind is FailureKind.TRANSIENT
    assert caught.value.reason == "connection error: ConnectError"
    assert download.requests == []

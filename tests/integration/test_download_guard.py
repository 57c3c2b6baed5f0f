"""Stedi's download redirect over real loopback: a host resolving to a non-public address
kills the worker's job before anything is requested from it, and the pinned connection
verifies TLS against the download host's name, not the address connected to."""

from __future__ import annotations

import datetime as dt
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from receiver.followup.worker import Worker
from receiver.intake.stedi import parse_stedi_webhook
from receiver.models import Account, JobFilter
from receiver.net.client import outbound_transport
from receiver.policy import FailureKind, RetryPolicy
from receiver.store.base import PROCESS_JOB
from receiver.store.sqlite import SqliteStore
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


def make_certificates(directory: Path, host: str = DOWNLOAD_HOST) -> tuple[bytes, tuple[str, str]]:
    """A test CA (PEM) and a server certificate for `host` only, signed by it."""
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
        .subject_name(_name(host))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
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


async def download_via(core_url: str, ca_pem: bytes, backend: str = "httpx") -> bytes:
    """Fetch the 837 output through Stedi's redirect over `backend`'s transport, trusting only
    the test CA."""
    context = ssl.create_default_context(cadata=ca_pem.decode())
    client = StediClient(
        healthcare_url=core_url,
        core_url=core_url,
        transport=outbound_transport(backend, verify=context),
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


@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
async def test_the_certificate_is_verified_for_the_download_host_name(
    certificates: tuple[bytes, tuple[str, str]],
    stedi: tuple[str, MockStediState],
    files: tuple[int, MockStediState],
    backend: str,
) -> None:
    ca_pem, _ = certificates
    core_url, core = stedi
    port, download = files
    core.output_redirect_base = f"https://{DOWNLOAD_HOST}:{port}"

    expected = fixture_bytes("stedi/transaction-837p.x12")
    assert await download_via(core_url, ca_pem, backend) == expected

    (request,) = download.requests
    assert request.headers["host"] == f"{DOWNLOAD_HOST}:{port}"
    assert request.query == DOWNLOAD_QUERY
    assert "authorization" not in request.headers


@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
async def test_a_certificate_for_another_name_is_refused(
    certificates: tuple[bytes, tuple[str, str]],
    stedi: tuple[str, MockStediState],
    files: tuple[int, MockStediState],
    backend: str,
) -> None:
    """The same server at the same checked address, named by a host its certificate does not
    hold: the TLS handshake fails, nothing is downloaded."""
    ca_pem, _ = certificates
    core_url, core = stedi
    port, download = files
    core.output_redirect_base = f"https://other.example.test:{port}"

    with pytest.raises(UpstreamError) as caught:
        await download_via(core_url, ca_pem, backend)

    assert caught.value.kind is FailureKind.TRANSIENT
    assert caught.value.reason == "connection error: ConnectError"
    assert download.requests == []


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "::1", "::ffff:127.0.0.1"])
async def test_a_job_whose_download_host_resolves_to_a_private_address_dies_unrequested(
    tmp_path: Path, stedi: tuple[str, MockStediState], address: str
) -> None:
    core_url, core = stedi
    core.output_redirect_base = "https://127.0.0.1.amazonaws.com"  # matches *.amazonaws.com
    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return [address]

    store = SqliteStore(tmp_path / "receiver.db")
    await store.open()
    client = StediClient(
        healthcare_url=core_url, core_url=core_url, resolver=resolver, read_timeout=5.0
    )
    try:
        account = Account("acme", "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6", NOW, api_key=API_KEY)
        await store.add_account(account)
        body = fixture_bytes("stedi/transaction-processed-v2.outbound-837p.webhook.json")
        event = parse_stedi_webhook(
            json.loads(body),
            account=account,
            event_id="evt_837",
            body=body,
            headers={},
            received_at=NOW,
        )
        await store.record_inbound(event, PROCESS_JOB)
        worker = Worker(store=store, stedi=client, policy=RetryPolicy(), clock=lambda: NOW)

        assert await worker.run_once() == 1

        (job,) = (await store.list_jobs(JobFilter(event_id="evt_837"), limit=5, cursor=None)).items
        assert job.status == "dead"
        assert job.last_error is not None
        assert job.last_error.startswith(
            "837 output: download refused: destination host '127.0.0.1.amazonaws.com' "
            "resolves to a non-public address"
        )
        assert DOWNLOAD_QUERY not in job.last_error
        assert asked == ["127.0.0.1.amazonaws.com"]
        assert [r.path for r in core.requests] == [f"/transactions/{TRANSACTION_ID}/output"]
        assert await store.fetch_documents("evt_837") == []
    finally:
        await client.aclose()
        await store.close()

"""Sender.post and OptumClient over both outbound transports on real loopback: the same
answers, and network trouble read the same way (a SendResult naming the same httpx error; an
Optum POST cut off after sending an unknown outcome, a refused one known not sent)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from receiver.delivery.sender import EXCERPT_BYTES, Sender
from receiver.net.ssrf import system_resolver
from receiver.upstream.optum import OptumClient, OptumConnection, OptumDefaults, OptumError
from tests.integration.raw_http import Connection, raw_server

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
BACKENDS = ["aiohttp", "httpx"]
OPTUM = OptumConnection(name="acme", tenant_id="TESTWINH", client_id="id", client_secret="s")


def sender(backend: str) -> Sender:
    return Sender(
        allow_insecure=True, resolver=system_resolver, timeout_seconds=2, outbound_http=backend
    )


async def post(backend: str, url: str) -> tuple[int | None, str | None, str | None]:
    delivering = sender(backend)
    try:
        result = await delivering.post(
            pool_key="sub_1", url=url, body=b'{"id": 1}', headers={"webhook-id": "m1"}, now=NOW
        )
    finally:
        await delivering.aclose()
    return result.status_code, result.excerpt, result.error


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_answer_is_recorded_with_its_excerpt(backend: str) -> None:
    async def answers(connection: Connection) -> None:
        await connection.read_request()
        await connection.answer("503 Service Unavailable", b"e" * 5000, "Retry-After: 7")

    async with raw_server(answers) as server:
        status, excerpt, error = await post(backend, server.url + "/hook")

    assert (status, excerpt, error) == (503, "e" * EXCERPT_BYTES, None)
    (request,) = server.requests
    assert request.body == b'{"id": 1}'
    assert request.headers["host"] == f"127.0.0.1:{server.port}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "receiver-webhooks/1"
    assert request.headers["webhook-id"] == "m1"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_refused_connection_is_a_connect_error_result(backend: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, _, error = await post(backend, f"http://127.0.0.1:{port}/hook")
    assert status is None
    assert error is not None
    assert error.startswith("ConnectError: ")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_hang_up_after_the_request_is_a_remote_protocol_error_result(
    backend: str,
) -> None:
    async def hangs_up(connection: Connection) -> None:
        await connection.read_request()

    async with raw_server(hangs_up) as server:
        status, _, error = await post(backend, server.url + "/hook")

    assert status is None
    assert error is not None
    assert error.startswith("RemoteProtocolError: ")
    assert len(server.requests) == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_no_answer_is_a_timeout_result(backend: str) -> None:
    async def mute(connection: Connection) -> None:
        await connection.read_request()
        await connection.reader.read()

    async with raw_server(mute) as server:
        status, _, error = await post(backend, server.url + "/hook")

    assert (status, error) == (None, "timeout: ReadTimeout")


async def submission_error(backend: str, url: str) -> OptumError:
    """The OptumError an ERA enrollment submitted to `url` (token endpoint `url`/token) ends in."""
    defaults = OptumDefaults(base_url=url, token_url=url + "/token")
    client = OptumClient(defaults=defaults, read_timeout=2.0, outbound_http=backend)
    try:
        with pytest.raises(OptumError) as caught:
            await client.submit_era_enrollment(OPTUM, [{"record": 1}])
    finally:
        await client.aclose()
    return caught.value


TOKEN = b'{"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600}'


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_optum_post_cut_off_after_sending_is_an_unknown_outcome(backend: str) -> None:
    """The submission may have arrived: it must not read as "not sent" (a resend duplicates)."""

    async def token_then_hang_up(connection: Connection) -> None:
        while (request := await connection.read_request()) is not None:
            if "/token" not in request.line:
                return
            await connection.answer("200 OK", TOKEN, "Content-Type: application/json")

    async with raw_server(token_then_hang_up) as server:
        error = await submission_error(backend, server.url)

    assert error.outcome_unknown is True
    assert error.reason == "ERA enrollment: connection error (RemoteProtocolError)"
    assert [r.line.split()[0] for r in server.requests] == ["POST", "POST"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_optum_post_refused_is_known_not_sent(backend: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    error = await submission_error(backend, url)
    assert error.outcome_unknown is False
    assert error.reason == "token endpoint: connection error (ConnectError)"

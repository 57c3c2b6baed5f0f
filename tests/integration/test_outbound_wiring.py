"""RECEIVER_OUTBOUND_HTTP reaches every outbound client the composition root builds: the
transport shows in the Connection header (httpcore sends httpx's `keep-alive`, the aiohttp
transport leaves it out, keep-alive being HTTP/1.1's default)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from receiver.app import build_dispatcher, build_optum_client, build_worker
from receiver.clock import utc_now
from receiver.net.ssrf import system_resolver
from receiver.settings import load_settings
from receiver.store.sqlite import SqliteStore
from receiver.upstream.optum import OptumConnection, OptumError
from receiver.upstream.stedi import ReportKind
from tests.integration.raw_http import Connection, raw_server

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SENT_CONNECTION = {"httpx": "keep-alive", "aiohttp": None}
REPORT = b'{"transactionId": "t-1"}'


async def answer_json(connection: Connection) -> None:
    while await connection.read_request() is not None:
        await connection.answer("200 OK", REPORT, "Content-Type: application/json")


@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
async def test_every_client_runs_over_the_configured_transport(
    backend: str, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "receiver.db")
    async with raw_server(answer_json) as server:
        settings = load_settings(
            {},
            outbound_http=backend,
            allow_insecure_destinations="true",
            stedi_healthcare_url=server.url,
            optum_base_url=server.url,
            optum_token_url=server.url + "/token",
        )
        _, sender = build_dispatcher(settings, store, utc_now, resolver=system_resolver)
        _, stedi = build_worker(settings, store, utc_now)
        optum = build_optum_client(settings)
        try:
            await sender.post(pool_key="s", url=server.url, body=b"{}", headers={}, now=NOW)
            await stedi.fetch_report(
                account="a", api_key="k", transaction_id="t-1", kind=ReportKind.ERA_835, now=NOW
            )
            connection = OptumConnection(
                name="acme", tenant_id="T", client_id="id", client_secret="s"
            )
            with pytest.raises(OptumError):  # the answer is no token: enough, it was sent
                await optum.fetch_era_result(connection, "p-1")
        finally:
            await sender.aclose()
            await stedi.aclose()
            await optum.aclose()

    sent = [(r.line.split()[0], r.headers.get("connection")) for r in server.requests]
    expected = SENT_CONNECTION[backend]
    # the delivery, the 835 report, Optum's token request
    assert sent == [("POST", expected), ("GET", expected), ("POST", expected)]

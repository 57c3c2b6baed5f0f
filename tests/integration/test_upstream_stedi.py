"""StediClient against a mock Stedi over real loopback HTTP, plus redirect and URL checks."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest

from receiver.policy import FailureKind
from receiver.upstream.stedi import ReportKind, StediClient, UpstreamError, report_url
from tests.conftest import FIXTURES, fixture_bytes
from tests.mocks.stedi import MockStediState, serve_mock_stedi

pytestmark = pytest.mark.anyio

API_KEY = "test-stedi-key-9f8e7d6c5b4a"
TRANSACTION_ID = "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"
NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
REPORT_PATH = "/change/medicalnetwork/reports/v2"


@pytest.fixture
def mock_stedi() -> Iterator[tuple[str, MockStediState]]:
    """The mock Stedi on a free loopback port, stopped at teardown."""
    with serve_mock_stedi(FIXTURES) as running:
        yield running


@asynccontextmanager
async def stedi_client(
    base_url: str, *, max_concurrency_per_account: int = 5, read_timeout: float = 5.0
) -> AsyncIterator[StediClient]:
    """A StediClient on `base_url`, closed on exit."""
    client = StediClient(
        healthcare_url=base_url,
        max_concurrency_per_account=max_concurrency_per_account,
        read_timeout=read_timeout,
    )
    try:
        yield client
    finally:
        await client.aclose()


async def fetch(
    client: StediClient,
    kind: ReportKind = ReportKind.ACK_277,
    *,
    account: str = "acme",
    api_key: str = API_KEY,
) -> bytes:
    """Fetch TRANSACTION_ID's report as `account`."""
    return await client.fetch_report(
        account=account, api_key=api_key, transaction_id=TRANSACTION_ID, kind=kind, now=NOW
    )


async def fetch_error(base_url: str, *, read_timeout: float = 5.0) -> UpstreamError:
    """The UpstreamError a single 277 fetch raises."""
    async with stedi_client(base_url, read_timeout=read_timeout) as client:
        with pytest.raises(UpstreamError) as caught:
            await fetch(client)
    return caught.value


class TestFetchReport:
    @pytest.mark.parametrize(
        ("kind", "fixture"),
        [
            (ReportKind.ACK_277, "stedi/report-277ca.accepted.json"),
            (ReportKind.ERA_835, "stedi/report-835-era.json"),
        ],
    )
    async def test_returns_the_exact_fixture_bytes(
        self, mock_stedi: tuple[str, MockStediState], kind: ReportKind, fixture: str
    ) -> None:
        base_url, state = mock_stedi
        state.api_key = API_KEY
        async with stedi_client(base_url) as client:
            body = await fetch(client, kind)
        assert body == fixture_bytes(fixture)
        [request] = state.requests
        assert request.path == f"{REPORT_PATH}/{TRANSACTION_ID}/{kind.value}"
        assert request.headers["authorization"] == API_KEY
        assert request.headers["accept"] == "application/json"

    async def test_429_with_retry_after_is_transient(
        self, mock_stedi: tuple[str, MockStediState]
    ) -> None:
        base_url, state = mock_stedi
        state.script = [(429, {"Retry-After": "1"})]
        error = await fetch_error(base_url)
        assert error.kind is FailureKind.TRANSIENT
        assert error.status == 429
        assert error.retry_after == 1.0

    async def test_429_without_retry_after_has_none(
        self, mock_stedi: tuple[str, MockStediState]
    ) -> None:
        base_url, state = mock_stedi
        state.script = [(429, {})]
        error = await fetch_error(base_url)
        assert error.kind is FailureKind.TRANSIENT
        assert error.retry_after is None

    async def test_script_is_consumed_in_order_then_serves_the_report(
        self, mock_stedi: tuple[str, MockStediState]
    ) -> None:
        base_url, state = mock_stedi
        state.script = [(500, {}), (404, {})]
        async with stedi_client(base_url) as client:
            kinds = []
            for _ in range(2):
                with pytest.raises(UpstreamError) as caught:
                    await fetch(client)
                kinds.append((caught.value.kind, caught.value.status))
            body = await fetch(client)
        assert kinds == [(FailureKind.TRANSIENT, 500), (FailureKind.NOT_FOUND, 404)]
        assert body == fixture_bytes("stedi/report-277ca.accepted.json")

    async def test_401_is_permanent_and_never_names_the_key(
        self, mock_stedi: tuple[str, MockStediState]
    ) -> None:
        base_url, state = mock_stedi
        state.api_key = "the-right-key"
        error = await fetch_error(base_url)
        assert error.kind is FailureKind.PERMANENT
        assert error.status == 401
        assert "401" in error.reason
        for text in (error.reason, str(error), repr(error)):
            assert API_KEY not in text

    async def test_slow_response_is_a_transient_timeout(
        self, mock_stedi: tuple[str, MockStediState]
    ) -> None:
        base_url, state = mock_stedi
        state.delay_seconds = 1.0
        error = await fetch_error(base_url, read_timeout=0.2)
        assert (error.kind, error.status, error.reason) == (FailureKind.TRANSIENT, None, "timeout")

    async def test_connection_refused_is_transient(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        error = await fetch_error(f"http://127.0.0.1:{port}")
        assert error.kind is FailureKind.TRANSIENT
        assert error.status is None
        assert error.reason == "connection error: ConnectError"


class TestConcurrency:
    async def test_in_flight_requests_per_account_are_bounded(
        self, mock_stedi: tuple[str, MockStediState]
    ) -> None:
        base_url, state = mock_stedi
        state.delay_seconds = 0.3
        async with stedi_client(base_url, max_concurrency_per_account=2) as client:
            bodies = await asyncio.gather(*(fetch(client) for _ in range(6)))
        assert len(bodies) == 6
        assert len(state.requests) == 6
        assert state.max_in_flight == 2

    async def test_accounts_do_not_share_a_bound(
        self, mock_stedi: tuple[str, MockStediState]
    ) -> None:
        base_url, state = mock_stedi
        state.delay_seconds = 0.3
        async with stedi_client(base_url, max_concurrency_per_account=1) as client:
            await asyncio.gather(*(fetch(client, account=name) for name in ("a", "b", "a", "b")))
        assert state.max_in_flight == 2


class TestReportUrl:
    def test_builds_the_report_path_from_the_base(self) -> None:
        url = report_url(
            "https://healthcare.us.stedi.com/2024-04-01/", "abc-123", ReportKind.ERA_835
        )
        assert url == f"https://healthcare.us.stedi.com/2024-04-01{REPORT_PATH}/abc-123/835"

    @pytest.mark.parametrize(
        "transaction_id",
        ["../x", "a/b", "x?y", "", "https://evil.example/x", "a" * 65, "abc\n", "a%2Fb", "a b"],
    )
    def test_rejects_unsafe_transaction_ids(self, transaction_id: str) -> None:
        with pytest.raises(ValueError, match="transaction id"):
            report_url(
                "https://healthcare.us.stedi.com/2024-04-01", transaction_id, ReportKind.ACK_277
            )


class TestWithMockTransport:
    async def test_redirect_is_not_followed(self) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(302, headers={"Location": "https://evil.example/steal"})

        async with stedi_client_with(handler) as client:
            with pytest.raises(UpstreamError) as caught:
                await fetch(client)
        assert (caught.value.kind, caught.value.status) == (FailureKind.PERMANENT, 302)
        assert [str(r.url.host) for r in seen] == ["stedi.test"]

    @pytest.mark.parametrize("content", [b"[1, 2]", b"not json", b"", b'"text"', b"\xff\xfe"])
    async def test_200_without_a_json_object_is_transient(self, content: bytes) -> None:
        async with stedi_client_with(lambda _: httpx.Response(200, content=content)) as client:
            with pytest.raises(UpstreamError) as caught:
                await fetch(client)
        error = caught.value
        assert (error.kind, error.status, error.reason) == (
            FailureKind.TRANSIENT,
            200,
            "invalid report body",
        )

    async def test_reason_keeps_the_code_and_trace_id_but_no_text(self) -> None:
        body = {
            "message": "Patient TESTPATIENT JANE born 19800101 not found",
            "detail": "secret body text",
            "code": "ACCESS_DENIED",
        }
        trace = {"x-amzn-requestid": "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"}
        answer = httpx.Response(403, json=body, headers=trace)
        async with stedi_client_with(lambda _: answer) as client:
            with pytest.raises(UpstreamError) as caught:
                await fetch(client)
        assert caught.value.reason == (
            "HTTP 403 (code ACCESS_DENIED, trace 5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f)"
        )


@asynccontextmanager
async def stedi_client_with(
    handler: Callable[[httpx.Request], httpx.Response],
) -> AsyncIterator[StediClient]:
    """A StediClient whose transport is an httpx.MockTransport running `handler`."""
    transport = httpx.MockTransport(handler)
    client = StediClient(healthcare_url="https://stedi.test/2024-04-01", transport=transport)
    try:
        yield client
    finally:
        await client.aclose()


async def test_no_cookie_set_for_one_account_is_sent_with_another(
    mock_stedi: tuple[str, MockStediState],
) -> None:
    base_url, state = mock_stedi
    # A load balancer's stickiness cookie, set on one account's failed fetch.
    state.script = [(503, {"set-cookie": "AWSALB=sticky-acme; Path=/"})]
    async with stedi_client(base_url) as client:
        with pytest.raises(UpstreamError):
            await fetch(client, account="acme")
        await fetch(client, account="globex", api_key="globex-key")
    assert [r.headers.get("cookie") for r in state.requests] == [None, None]


async def test_a_report_over_the_size_limit_is_a_permanent_error(
    mock_stedi: tuple[str, MockStediState],
) -> None:
    base_url, _ = mock_stedi
    # Between the fixtures' sizes: the 277CA report is 3.7 KB, the 835 6.5 KB.
    client = StediClient(healthcare_url=base_url, max_response_bytes=5000)
    try:
        assert len(await fetch(client, ReportKind.ACK_277)) > 3000
        with pytest.raises(UpstreamError) as caught:
            await fetch(client, ReportKind.ERA_835)
    finally:
        await client.aclose()
    assert (caught.value.kind, caught.value.status) == (FailureKind.PERMANENT, 200)
    assert "larger than 5000 bytes (RECEIVER_STEDI_MAX_RESPONSE_BYTES" in caught.value.reason

"""OptumClient against a mock Optum over real loopback HTTP: tokens (cached, renewed once
after a 401, per API), tenant headers, failures with trace ids, paging, and log hygiene."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from receiver.policy import FailureKind
from receiver.upstream.optum import (
    OptumClient,
    OptumConnection,
    OptumDefaults,
    OptumError,
    TokenAuthMethod,
)
from tests.conftest import FIXTURES
from tests.mocks.optum import (
    DISCOVERY_PATH,
    ERA_PREFIX,
    TOKEN_PATHS,
    MockOptumState,
    make_tasks,
    serve_mock_optum,
)

pytestmark = pytest.mark.anyio

CLIENT_ID = "syn-client-id"
SECRET = "syn-secret-Zq8!x:7"  # a colon and punctuation, as real secrets have
TENANT = "TESTWINH"
RECORDS = json.loads((FIXTURES / "optum/era-enrollment.submission.request.json").read_bytes())
T0 = datetime(2025, 3, 12, 14, 0, tzinfo=UTC)
TRACE_503 = "133cab33-6839-423e-b554-eeec78c9b3e9"
TRACE_404 = "3d5f7b9d-1f3b-4d5f-8b9d-1f3b5d7f9b88"


@pytest.fixture
def state() -> MockOptumState:
    return MockOptumState(client_id=CLIENT_ID, client_secret=SECRET, tenant_id=TENANT)


@pytest.fixture
def base_url(state: MockOptumState) -> Iterator[str]:
    with serve_mock_optum(FIXTURES, state) as url:
        yield url


def connection(**changes: object) -> OptumConnection:
    plain = OptumConnection(
        name="acme", tenant_id=TENANT, client_id=CLIENT_ID, client_secret=SECRET
    )
    return replace(plain, **changes)  # type: ignore[arg-type]


@asynccontextmanager
async def optum(base_url: str, **options: object) -> AsyncIterator[OptumClient]:
    defaults = OptumDefaults(base_url=base_url, token_url=base_url + TOKEN_PATHS[0])
    client = OptumClient(defaults=defaults, read_timeout=5.0, **options)  # type: ignore[arg-type]
    try:
        yield client
    finally:
        await client.aclose()


def bearer_tokens(state: MockOptumState) -> list[str]:
    return [seen.headers["authorization"].removeprefix("Bearer ") for seen in state.api_requests()]


class TestTokens:
    async def test_one_token_per_api_serves_every_call(
        self, base_url: str, state: MockOptumState
    ) -> None:
        """Submission, three result polls and a task list take one token per API."""
        async with optum(base_url) as client:
            payload_id = await client.submit_era_enrollment(connection(), RECORDS)
            statuses = [
                (await client.fetch_era_result(connection(), payload_id))["status"]
                for _ in range(3)
            ]
            await client.list_coverage_discovery_tasks(connection())
        assert statuses == ["Processing", "Processing", "Complete"]
        assert state.submissions[payload_id] == RECORDS
        era_token, eligibility_token = (token.access_token for token in state.issued)
        assert bearer_tokens(state) == [era_token] * 4 + [eligibility_token]
        [request] = {seen.body for seen in state.token_requests}
        assert request == b"grant_type=client_credentials"  # no scope unless configured

    async def test_a_refused_token_is_renewed_exactly_once(
        self, base_url: str, state: MockOptumState
    ) -> None:
        async with optum(base_url) as client:
            payload_id = await client.submit_era_enrollment(connection(), RECORDS)
            state.revoke_all()
            body = await client.fetch_era_result(connection(), payload_id)
            await client.fetch_era_result(connection(), payload_id)
        assert body["status"] == "Processing"
        first, second = (token.access_token for token in state.issued)
        assert bearer_tokens(state) == [first, first, second, second]

    async def test_concurrent_refusals_share_one_new_token(
        self, base_url: str, state: MockOptumState
    ) -> None:
        """Twenty calls at once take one first token, and after a revocation one new one."""
        async with optum(base_url) as client:
            payload_id = await client.submit_era_enrollment(connection(), RECORDS)
            state.revoke_all()
            await asyncio.gather(
                *(client.fetch_era_result(connection(), payload_id) for _ in range(20))
            )
            fresh = OptumConnection("other", TENANT, CLIENT_ID, SECRET)
            await asyncio.gather(*(client.fetch_era_result(fresh, payload_id) for _ in range(20)))
        assert len(state.issued) == 3
        first, second, third = (token.access_token for token in state.issued)
        used = bearer_tokens(state)
        refused = used.count(first) - 1  # calls sent with the revoked token, then again
        assert 1 <= refused <= 20
        assert (used.count(second), used.count(third)) == (20, 20)

    async def test_a_second_401_is_permanent(self, base_url: str, state: MockOptumState) -> None:
        state.refuse_tokens = True
        async with optum(base_url) as client:
            with pytest.raises(OptumError) as caught:
                await client.fetch_era_result(connection(), "6b8d0f2a-4c6e")
        error = caught.value
        assert (error.kind, error.status) == (FailureKind.PERMANENT, 401)
        assert error.reason == "ERA enrollment (after a new token): HTTP 401"
        assert len(state.issued) == 2
        assert len(state.api_requests()) == 2

    async def test_a_token_shorter_lived_than_the_leeway_is_still_reused(
        self, base_url: str, state: MockOptumState
    ) -> None:
        """expires_in 30 with a 60 s leeway: renewed 15 s before expiry, not on every call."""
        state.expires_in = 30
        async with optum(base_url, token_leeway_seconds=60) as client:
            for _ in range(3):
                await client.list_coverage_discovery_tasks(connection())
        assert len(state.issued) == 1

    async def test_an_expired_token_is_renewed_before_use(
        self, base_url: str, state: MockOptumState
    ) -> None:
        """A 1 s token is past its expiry 1.1 s later: the next call takes a new token first
        instead of being refused with the old one."""
        state.expires_in = 1
        async with optum(base_url) as client:
            await client.list_coverage_discovery_tasks(connection())
            await asyncio.sleep(1.1)
            await client.list_coverage_discovery_tasks(connection())
        first, second = bearer_tokens(state)
        assert first != second
        assert second == state.issued[-1].access_token

    async def test_a_token_without_expires_in_is_kept_until_refused(
        self, base_url: str, state: MockOptumState
    ) -> None:
        state.expires_in = None
        async with optum(base_url) as client:
            await client.list_coverage_discovery_tasks(connection())
            state.revoke_all()
            await client.list_coverage_discovery_tasks(connection())
            await client.list_coverage_discovery_tasks(connection())
        assert len(state.issued) == 2

    async def test_client_secret_post_sends_the_credentials_in_the_body(
        self, base_url: str, state: MockOptumState
    ) -> None:
        state.auth_method = "client_secret_post"
        method = TokenAuthMethod.CLIENT_SECRET_POST
        async with optum(base_url) as client:
            await client.list_coverage_discovery_tasks(connection(token_auth_method=method))
        [request] = state.token_requests
        assert "authorization" not in request.headers
        assert b"grant_type=client_credentials" in request.body
        assert b"client_id=syn-client-id" in request.body

    async def test_each_api_uses_its_own_token_url_and_scope(
        self, base_url: str, state: MockOptumState
    ) -> None:
        era = connection(
            era_token_url=base_url + TOKEN_PATHS[1], eligibility_scope="read_coveragediscovery"
        )
        async with optum(base_url) as client:
            await client.submit_era_enrollment(era, RECORDS)
            await client.list_coverage_discovery_tasks(era)
        assert [(t.token_path, t.scope) for t in state.issued] == [
            (TOKEN_PATHS[1], None),
            (TOKEN_PATHS[0], "read_coveragediscovery"),
        ]

    async def test_a_rotated_secret_takes_a_new_token(
        self, base_url: str, state: MockOptumState
    ) -> None:
        async with optum(base_url) as client:
            await client.list_coverage_discovery_tasks(connection())
            state.client_secret = "rotated-secret"
            await client.list_coverage_discovery_tasks(connection(client_secret="rotated-secret"))
        assert len(state.issued) == 2

    async def test_a_wrong_secret_is_permanent_and_keeps_only_the_oauth_code(
        self, base_url: str, state: MockOptumState
    ) -> None:
        async with optum(base_url) as client:
            with pytest.raises(OptumError) as caught:
                await client.list_coverage_discovery_tasks(connection(client_secret="wrong"))
        error = caught.value
        assert (error.kind, error.status) == (FailureKind.PERMANENT, 401)
        assert error.reason == "token endpoint: HTTP 401 invalid_client"
        assert state.api_requests() == []

    async def test_token_endpoint_503_is_transient(
        self, base_url: str, state: MockOptumState
    ) -> None:
        state.token_script = [(503, {"Retry-After": "30"})]
        async with optum(base_url) as client:
            with pytest.raises(OptumError) as caught:
                await client.list_coverage_discovery_tasks(connection())
            await client.list_coverage_discovery_tasks(connection())  # the next try works
        error = caught.value
        assert (error.kind, error.status, error.retry_after) == (FailureKind.TRANSIENT, 503, 30.0)
        assert error.reason == "token endpoint: HTTP 503 temporarily_unavailable"


class TestTenantAndFailures:
    async def test_every_call_carries_the_tenant_header_of_its_api(
        self, base_url: str, state: MockOptumState
    ) -> None:
        state.tasks = make_tasks(FIXTURES, 3, start=T0)
        async with optum(base_url) as client:
            payload_id = await client.submit_era_enrollment(connection(), RECORDS)
            await client.fetch_era_result(connection(), payload_id)
            page = await client.list_coverage_discovery_tasks(connection())
            await client.fetch_coverage_discovery_task(connection(), str(page.tasks[0]["id"]))
        seen = state.api_requests()
        assert len(seen) == 4
        for request in seen:
            header = "tenant-id" if request.path.startswith(ERA_PREFIX) else "x-optum-tenant-id"
            assert request.headers[header] == TENANT
            assert request.headers["accept"] == "application/json"

    async def test_a_wrong_tenant_is_a_permanent_403(
        self, base_url: str, state: MockOptumState
    ) -> None:
        async with optum(base_url) as client:
            with pytest.raises(OptumError) as caught:
                await client.list_coverage_discovery_tasks(connection(tenant_id="OTHER"))
        error = caught.value
        assert (error.kind, error.status) == (FailureKind.PERMANENT, 403)
        assert error.trace_id is not None  # from the x-optum-trace-id header
        assert "tenant" not in error.reason  # the body's text is not kept

    async def test_503_is_transient_with_retry_after_and_trace_id(
        self, base_url: str, state: MockOptumState
    ) -> None:
        async with optum(base_url) as client:
            payload_id = await client.submit_era_enrollment(connection(), RECORDS)
            state.script = [(503, {"Retry-After": "7"})]
            with pytest.raises(OptumError) as caught:
                await client.fetch_era_result(connection(), payload_id)
        error = caught.value
        assert (error.kind, error.status, error.retry_after) == (FailureKind.TRANSIENT, 503, 7.0)
        assert error.trace_id == TRACE_503
        assert str(error) == f"ERA enrollment result: HTTP 503 (Optum trace id {TRACE_503})"
        assert "Service Unavailable" not in str(error)

    async def test_an_unknown_payload_id_is_a_distinguishable_404(
        self, base_url: str, state: MockOptumState
    ) -> None:
        async with optum(base_url) as client:
            with pytest.raises(OptumError) as caught:
                await client.fetch_era_result(connection(), "6b8d0f2a-4c6e-4b8d-9f2a-4c6e8b0d2f00")
        error = caught.value
        assert error.is_not_found
        assert (error.kind, error.status, error.trace_id) == (
            FailureKind.NOT_FOUND,
            404,
            TRACE_404,
        )

    async def test_an_unsafe_payload_id_never_reaches_the_network(
        self, base_url: str, state: MockOptumState
    ) -> None:
        async with optum(base_url) as client:
            with pytest.raises(ValueError, match="payload id"):
                await client.fetch_era_result(connection(), "../../rcm/eligibility/v1")
        assert state.token_requests == []


class TestCoverageDiscoveryList:
    async def test_pages_follow_the_next_link_offset_only(
        self, base_url: str, state: MockOptumState
    ) -> None:
        """The link's host is foreign: only its offset is used, on the configured base."""
        state.tasks = make_tasks(FIXTURES, 5, start=T0)
        state.link_base = "https://attacker.example.invalid"
        async with optum(base_url) as client:
            pages = []
            offset: int | None = 0
            while offset is not None:
                page = await client.list_coverage_discovery_tasks(
                    connection(), since=T0, offset=offset, limit=2
                )
                pages.append(page)
                offset = page.next_offset
        assert [[task["id"] for task in page.tasks] for page in pages] == [
            [task["id"] for task in state.tasks[0:2]],
            [task["id"] for task in state.tasks[2:4]],
            [state.tasks[4]["id"]],
        ]
        assert [(p.offset, p.next_offset, p.total_count) for p in pages] == [
            (0, 2, 5),
            (2, 4, 5),
            (4, None, 5),
        ]
        first = state.api_requests()[0]
        assert first.path == DISCOVERY_PATH
        assert first.query == (
            "limit=2&offset=0&sort=startDateTime&startDateTime=2025-03-12T14%3A00%3A00Z"
        )

    async def test_without_a_link_the_total_count_pages(
        self, base_url: str, state: MockOptumState
    ) -> None:
        state.tasks = make_tasks(FIXTURES, 3, start=T0)
        state.send_link = False
        async with optum(base_url) as client:
            first = await client.list_coverage_discovery_tasks(connection(), limit=2)
            last = await client.list_coverage_discovery_tasks(connection(), offset=2, limit=2)
        assert (first.next_offset, last.next_offset) == (2, None)

    async def test_filters_reach_optum_by_their_spec_names(
        self, base_url: str, state: MockOptumState
    ) -> None:
        state.tasks = make_tasks(FIXTURES, 6, start=T0)
        async with optum(base_url) as client:
            page = await client.list_coverage_discovery_tasks(
                connection(),
                since=T0 + timedelta(minutes=1),
                until=T0 + timedelta(hours=1),
                status="pending",
                correlation_id="syn-corr-000771",
                newest_first=True,
            )
        assert [task["status"] for task in page.tasks] == ["pending", "pending"]
        query = state.api_requests()[0].query
        assert "status=pending" in query
        assert "correlationId=syn-corr-000771" in query
        assert "sort=-startDateTime" in query
        assert "endDateTime=2025-03-12T15%3A00%3A00Z" in query


class TestLogHygiene:
    async def test_no_secret_or_token_in_logs_errors_or_reprs(
        self, base_url: str, state: MockOptumState, caplog: pytest.LogCaptureFixture
    ) -> None:
        """httpx, httpcore and Authlib logging at DEBUG, structlog too, through success,
        renewal and failure: neither the secret, its Basic encoding nor any token appears."""
        import structlog

        caplog.set_level(logging.DEBUG)
        errors: list[OptumError] = []
        with structlog.testing.capture_logs() as structured:
            async with optum(base_url) as client:
                payload_id = await client.submit_era_enrollment(connection(), RECORDS)
                state.revoke_all()
                await client.fetch_era_result(connection(), payload_id)
                state.script = [(503, {})]
                for call in (
                    client.fetch_era_result(connection(), payload_id),
                    client.list_coverage_discovery_tasks(connection(client_secret="wrong")),
                ):
                    try:
                        await call
                    except OptumError as exc:
                        errors.append(exc)
        assert len(errors) == 2
        basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
        forbidden = [SECRET, basic, *(token.access_token for token in state.issued)]
        text = io.StringIO()
        text.write(caplog.text)
        text.write(repr(structured))
        for error in errors:
            text.write(f"{error} {error!r} {error.__cause__!r} {error.__context__!r}")
        text.write(repr(connection()))
        assert caplog.records  # httpx did log the requests
        for secret in forbidden:
            assert secret not in text.getvalue()

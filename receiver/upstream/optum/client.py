"""OptumClient: ERA Enrollment and Coverage Discovery calls, each with a client-credentials
token per connection and API (Authlib's AsyncOAuth2Client on httpx), renewed before it
expires and once more after a 401; every failure is an OptumError."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import httpx

from receiver.net.client import AIOHTTP, outbound_transport, trusts_env
from receiver.policy import FailureKind
from receiver.upstream.optum.connection import (
    TENANT_HEADERS,
    Endpoint,
    OptumApi,
    OptumConnection,
    OptumDefaults,
    coverage_discovery_url,
    era_result_url,
    era_submission_url,
    is_safe_id,
)
from receiver.upstream.optum.errors import OptumError, parse_json, status_error, trace_id_of
from receiver.upstream.optum.paging import (
    MAX_PAGE_SIZE,
    TaskPage,
    link_next_offset,
    next_offset,
    task_query,
    total_count,
)
from receiver.upstream.optum.tokens import TokenSession, invalid_answer, session_fingerprint
from receiver.upstream.optum.transport import CappedTransport

DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEFAULT_TOKEN_LEEWAY_SECONDS = 60
_ACCEPTED = frozenset({200, 201, 202})
_WHERE = {
    OptumApi.ERA_ENROLLMENT: "ERA enrollment",
    OptumApi.ENHANCED_ELIGIBILITY: "coverage discovery",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OptumClient:
    """Calls Optum for many connections; tokens are cached per connection and API until
    `token_leeway_seconds` before their `expires_in`. Redirects are never followed, cookies
    never kept, and response bodies are read up to `max_response_bytes`."""

    def __init__(
        self,
        *,
        defaults: OptumDefaults | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        token_leeway_seconds: int = DEFAULT_TOKEN_LEEWAY_SECONDS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], datetime] = _utc_now,
        outbound_http: str = AIOHTTP,
    ) -> None:
        if token_leeway_seconds < 0:
            raise ValueError("token_leeway_seconds must not be negative")
        self._defaults = defaults or OptumDefaults()
        self._transport = transport
        self._outbound_http = outbound_http
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._leeway = token_leeway_seconds
        self._max_bytes = max_response_bytes
        self._clock = clock
        self._sessions: dict[tuple[str, OptumApi], TokenSession] = {}
        self._retired: list[TokenSession] = []

    async def submit_era_enrollment(
        self, connection: OptumConnection, records: Sequence[Mapping[str, object]]
    ) -> str:
        """Submit ERA enrollment records (validate them first: receiver.enrollment.records);
        Optum's payloadId for fetching the results. A failure whose `outcome_unknown` is set
        may still have been accepted."""
        if not records:
            raise ValueError("at least one enrollment record is required")
        api = OptumApi.ERA_ENROLLMENT
        url = era_submission_url(connection.endpoint(api, self._defaults))
        response = await self._call(connection, api, "POST", url, json_body=list(records))
        where = "ERA enrollment submission"
        if response.status_code not in _ACCEPTED:
            raise status_error(response, self._clock(), where=where)
        body = parse_json(response.content)
        payload_id = body.get("payloadId") if isinstance(body, dict) else None
        if isinstance(payload_id, str) and is_safe_id(payload_id):
            return payload_id
        raise OptumError(
            FailureKind.PERMANENT,
            status=response.status_code,
            reason=f"{where}: answer has no valid payloadId",
            trace_id=trace_id_of(response.headers, body),
            outcome_unknown=True,
        )

    async def fetch_era_result(
        self, connection: OptumConnection, payload_id: str
    ) -> dict[str, object]:
        """The `ResultSummary` JSON object of a submission (read it with
        receiver.enrollment.results); a 404 is an OptumError of kind NOT_FOUND."""
        api = OptumApi.ERA_ENROLLMENT
        url = era_result_url(connection.endpoint(api, self._defaults), payload_id)
        return await self._fetch_object(connection, api, url, "ERA enrollment result")

    async def fetch_coverage_discovery_task(
        self, connection: OptumConnection, task_id: str
    ) -> dict[str, object]:
        """One `CoverageDiscoveryTask` JSON object by its id."""
        api = OptumApi.ENHANCED_ELIGIBILITY
        url = coverage_discovery_url(connection.endpoint(api, self._defaults), task_id)
        return await self._fetch_object(connection, api, url, "coverage discovery task")

    async def list_coverage_discovery_tasks(
        self,
        connection: OptumConnection,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        correlation_id: str | None = None,
        offset: int = 0,
        limit: int = MAX_PAGE_SIZE,
        newest_first: bool = False,
    ) -> TaskPage:
        """One page of tasks whose start falls in [since, until], oldest first by default (so
        tasks created while paging land after the pages already read). Pass the page's
        `next_offset` as `offset` for the next page; None means the last page."""
        params = task_query(since, until, status, correlation_id, offset, limit, newest_first)
        api = OptumApi.ENHANCED_ELIGIBILITY
        url = coverage_discovery_url(connection.endpoint(api, self._defaults))
        response = await self._call(connection, api, "GET", url, params=params)
        where = "coverage discovery list"
        if response.status_code != 200:
            raise status_error(response, self._clock(), where=where)
        body = parse_json(response.content)
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise invalid_answer(response, where, "answer is not a JSON array of tasks")
        count = total_count(response.headers.get("x-total-count"))
        try:
            following = next_offset(
                link_offset=link_next_offset(response.headers.get("link")),
                count=count,
                offset=offset,
                returned=len(body),
            )
        except ValueError as exc:
            raise invalid_answer(response, where, str(exc), kind=FailureKind.PERMANENT) from None
        return TaskPage(tuple(body), offset=offset, next_offset=following, total_count=count)

    async def aclose(self) -> None:
        """Close every token session's connections."""
        sessions = [*self._sessions.values(), *self._retired]
        self._sessions.clear()
        self._retired.clear()
        for session in sessions:
            await session.aclose()

    async def _fetch_object(
        self, connection: OptumConnection, api: OptumApi, url: str, where: str
    ) -> dict[str, object]:
        response = await self._call(connection, api, "GET", url)
        if response.status_code != 200:
            raise status_error(response, self._clock(), where=where)
        body = parse_json(response.content)
        if not isinstance(body, dict):
            raise invalid_answer(response, where, "answer is not a JSON object")
        return body

    async def _call(
        self,
        connection: OptumConnection,
        api: OptumApi,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: object = None,
    ) -> httpx.Response:
        """Send one request with the connection's token; after a 401, once more with a new
        token (a second 401 is a permanent OptumError)."""
        endpoint = connection.endpoint(api, self._defaults)
        session = self._session(connection, api, endpoint)
        headers = {TENANT_HEADERS[api]: connection.tenant_id, "Accept": "application/json"}
        where = _WHERE[api]
        response = await session.request(
            method, url, where=where, headers=headers, params=params, json_body=json_body
        )
        if response.status_code == 401:
            raise status_error(response, self._clock(), where=f"{where} (after a new token)")
        return response

    def _session(
        self, connection: OptumConnection, api: OptumApi, endpoint: Endpoint
    ) -> TokenSession:
        """The cached token session, or a new one when the connection's credentials or token
        endpoint changed (the old one is closed with the client)."""
        key = (connection.name, api)
        session = self._sessions.get(key)
        if session is not None and session.fingerprint == session_fingerprint(connection, endpoint):
            return session
        if session is not None:
            self._retired.append(session)
        transport = CappedTransport(
            self._transport or outbound_transport(self._outbound_http),
            self._max_bytes,
            owns_inner=self._transport is None,
        )
        session = self._sessions[key] = TokenSession(
            connection,
            endpoint,
            transport=transport,
            timeout=self._timeout,
            leeway=self._leeway,
            clock=self._clock,
            trust_env=trusts_env(self._outbound_http),
        )
        return session

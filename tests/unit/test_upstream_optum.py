"""OptumClient edges with httpx.MockTransport (redirects, cookies, size caps, token answers,
transport failures), and the pure parts: connections, ids, URLs, link paging, leeway."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from receiver.policy import FailureKind
from receiver.upstream.optum import OptumClient, OptumConnection, OptumDefaults, OptumError
from receiver.upstream.optum.connection import (
    OptumApi,
    check_id,
    coverage_discovery_url,
    era_result_url,
)
from receiver.upstream.optum.paging import link_next_offset, next_offset, task_query, total_count
from receiver.upstream.optum.tokens import effective_leeway, token_problem

pytestmark = pytest.mark.anyio

BASE = "https://apigw.example.invalid"
TOKEN_URL = f"{BASE}/apip/auth/v2/token"
RESULT_URL = f"{BASE}/intelligentclearinghouse/iedi/enrollment/v1/era/results/abc-123"
CONNECTION = OptumConnection("acme", "TESTWINH", "client-id", "client-secret-value")
TOKEN = {"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600}
NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response]


def api(handler: Handler) -> Handler:
    """A handler that answers the token endpoint with TOKEN and everything else by `handler`."""

    def route(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return httpx.Response(200, json=TOKEN)
        return handler(request)

    return route


async def call(handler: Handler, *, max_response_bytes: int = 1024) -> dict[str, object]:
    client = OptumClient(
        defaults=OptumDefaults(BASE, TOKEN_URL),
        transport=httpx.MockTransport(handler),
        max_response_bytes=max_response_bytes,
        clock=lambda: NOW,
    )
    try:
        return await client.fetch_era_result(CONNECTION, "abc-123")
    finally:
        await client.aclose()


async def error_of(handler: Handler, **options: int) -> OptumError:
    with pytest.raises(OptumError) as caught:
        await call(handler, **options)
    return caught.value


async def submission_error(handler: Handler) -> OptumError:
    """The OptumError an ERA enrollment submission over `handler` ends in."""
    client = OptumClient(
        defaults=OptumDefaults(BASE, TOKEN_URL), transport=httpx.MockTransport(handler)
    )
    try:
        with pytest.raises(OptumError) as caught:
            await client.submit_era_enrollment(CONNECTION, [{"payerId": "X"}])
    finally:
        await client.aclose()
    return caught.value


class TestResponses:
    async def test_a_redirect_is_not_followed(self) -> None:
        seen: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(str(request.url))
            return httpx.Response(302, headers={"Location": "https://elsewhere.invalid/x"})

        error = await error_of(api(handler))
        assert (error.kind, error.status) == (FailureKind.PERMANENT, 302)
        assert seen == [RESULT_URL]

    async def test_cookies_are_neither_kept_nor_sent(self) -> None:
        cookies: list[str | None] = []

        def handler(request: httpx.Request) -> httpx.Response:
            cookies.append(request.headers.get("cookie"))
            return httpx.Response(200, json={"status": "Processing"}, headers={"Set-Cookie": "s=1"})

        client = OptumClient(
            defaults=OptumDefaults(BASE, TOKEN_URL), transport=httpx.MockTransport(api(handler))
        )
        try:
            for _ in range(2):
                await client.fetch_era_result(CONNECTION, "abc-123")
        finally:
            await client.aclose()
        assert cookies == [None, None]

    @pytest.mark.parametrize("declared", [True, False])
    async def test_a_body_over_the_cap_is_permanent(self, declared: bool) -> None:
        body = json.dumps({"status": "Complete", "pad": "x" * 2000}).encode()

        def handler(request: httpx.Request) -> httpx.Response:
            if declared:
                return httpx.Response(200, content=body)
            return httpx.Response(200, stream=httpx.ByteStream(body))

        error = await error_of(api(handler), max_response_bytes=1024)
        assert (error.kind, error.reason) == (
            FailureKind.PERMANENT,
            "response larger than 1024 bytes",
        )

    async def test_a_token_answer_over_the_cap_is_refused_too(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={**TOKEN, "pad": "x" * 4000})

        error = await error_of(handler, max_response_bytes=1024)
        assert error.reason == "response larger than 1024 bytes"

    async def test_a_200_that_is_not_an_object_is_transient(self) -> None:
        error = await error_of(api(lambda request: httpx.Response(200, content=b"<html>")))
        assert (error.kind, error.reason) == (
            FailureKind.TRANSIENT,
            "ERA enrollment result: answer is not a JSON object",
        )

    async def test_429_keeps_an_http_date_retry_after(self) -> None:
        date = "Thu, 20 Mar 2025 12:01:00 GMT"
        error = await error_of(
            api(lambda request: httpx.Response(429, headers={"Retry-After": date}))
        )
        assert (error.kind, error.retry_after) == (FailureKind.TRANSIENT, 60.0)

    async def test_a_trace_id_that_is_not_an_id_is_dropped(self) -> None:
        body = {"error": "x", "traceId": "call 555-0101 for help"}
        error = await error_of(api(lambda request: httpx.Response(500, json=body)))
        assert error.trace_id is None

    async def test_junk_around_a_trace_id_is_cleaned(self) -> None:
        body = {"traceId": " 942537e6-d544-ed7c-469b-a27efc4a6cff,"}
        error = await error_of(api(lambda request: httpx.Response(500, json=body)))
        assert error.trace_id == "942537e6-d544-ed7c-469b-a27efc4a6cff"


class TestTokenAnswers:
    @pytest.mark.parametrize(
        ("answer", "problem"),
        [
            (b"<html>gateway</html>", "answer is not a JSON object"),
            (b'{"token_type": "Bearer"}', "answer has no usable access_token"),
            (b'{"access_token": "a b"}', "answer has no usable access_token"),
            (b'{"access_token": "t", "token_type": "mac"}', "token_type is not Bearer"),
            (b'{"access_token": "t", "expires_in": "soon"}', "expires_in is not a positive"),
            (b'{"access_token": "t", "expires_in": 0}', "expires_in is not a positive"),
            (b'{"access_token": "t", "expires_in": "' + b"9" * 400 + b'"}', "expires_in is not"),
        ],
    )
    async def test_an_unusable_token_answer_is_refused_before_any_api_call(
        self, answer: bytes, problem: str
    ) -> None:
        api_calls: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            if str(request.url) == TOKEN_URL:
                return httpx.Response(200, content=answer)
            api_calls.append(request)
            return httpx.Response(200, json={})

        error = await error_of(handler)
        assert error.kind is FailureKind.TRANSIENT
        assert error.reason.startswith(f"token endpoint: {problem}")
        assert api_calls == []

    async def test_a_400_without_an_oauth_code_keeps_no_body_text(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(400, json={"error": "Secret client-secret-value is wrong!"})

        error = await error_of(handler)
        assert error.reason == "token endpoint: HTTP 400"

    def test_token_problem_accepts_a_plain_bearer_answer(self) -> None:
        assert token_problem({"access_token": "eyJ.a-b_c~", "token_type": "bearer"}) is None
        assert token_problem({"access_token": "t", "expires_in": "3600"}) is None

    @pytest.mark.parametrize(
        ("leeway", "expires_in", "effective"),
        [(60, None, 60), (60, 3600, 60), (60, 30, 15), (60, "90", 45), (60, 1, 0), (60, 7.9, 3)],
    )
    def test_the_leeway_is_at_most_half_the_lifetime(
        self, leeway: int, expires_in: object, effective: int
    ) -> None:
        assert effective_leeway(leeway, expires_in) == effective


class TestTransportFailures:
    @pytest.mark.parametrize(
        ("exc", "unknown"),
        [
            (httpx.ConnectError("refused"), False),
            (httpx.ConnectTimeout("slow"), False),
            (httpx.ReadTimeout("slow"), True),
            (httpx.RemoteProtocolError("cut"), True),
        ],
    )
    async def test_a_submission_that_may_have_arrived_is_marked_unknown(
        self, exc: httpx.TransportError, unknown: bool
    ) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            raise exc

        error = await submission_error(api(handler))
        assert (error.kind, error.status, error.outcome_unknown) == (
            FailureKind.TRANSIENT,
            None,
            unknown,
        )
        assert error.reason.startswith("ERA enrollment: ")

    async def test_a_submission_answer_that_does_not_decode_is_unknown(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(202, content=b"not gzip", headers={"Content-Encoding": "gzip"})

        error = await submission_error(api(handler))
        assert (error.kind, error.outcome_unknown) == (FailureKind.TRANSIENT, True)
        assert error.reason == "ERA enrollment: undecodable answer (DecodingError)"

    @pytest.mark.parametrize(
        "failure", [httpx.ReadTimeout("slow"), httpx.Response(504), httpx.Response(502)]
    )
    async def test_a_token_endpoint_failure_during_a_submission_is_not_unknown(
        self, failure: httpx.Response | httpx.TransportError
    ) -> None:
        """The token request is a POST too, but the submission was never sent."""
        submissions: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            if str(request.url) != TOKEN_URL:
                submissions.append(request)
                return httpx.Response(202, json={"payloadId": "p-1"})
            if isinstance(failure, httpx.Response):
                return failure
            raise failure

        error = await submission_error(handler)
        assert error.kind is FailureKind.TRANSIENT
        assert error.reason.startswith("token endpoint: ")
        assert not error.outcome_unknown
        assert submissions == []

    async def test_a_read_timeout_on_a_get_is_not_marked_unknown(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("slow")

        error = await error_of(api(handler))
        assert (error.kind, error.outcome_unknown) == (FailureKind.TRANSIENT, False)
        assert error.reason == "ERA enrollment: timeout (ReadTimeout)"

    async def test_a_token_endpoint_failure_is_named_as_such(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused")

        error = await error_of(handler)
        assert error.reason == "token endpoint: connection error (ConnectError)"

    @pytest.mark.parametrize(
        ("status", "body"), [(502, b""), (504, b""), (202, b'{"payloadId": "../x"}'), (202, b"")]
    )
    async def test_a_submission_answer_without_a_payload_id_is_unknown(
        self, status: int, body: bytes
    ) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(status, content=body)

        error = await submission_error(api(handler))
        assert error.outcome_unknown


class TestConnection:
    def test_the_secret_is_not_in_the_repr(self) -> None:
        assert "client-secret-value" not in repr(CONNECTION)

    @pytest.mark.parametrize(
        "changes",
        [
            {"tenant_id": "bad\r\nx-injected: 1"},
            {"tenant_id": ""},
            {"client_secret": ""},
            {"era_base_url": "ftp://host"},
            {"eligibility_token_url": "https://user:pw@host/token"},
            {"era_token_url": "https://host/token?x=1"},
            {"token_auth_method": "private_key_jwt"},
        ],
    )
    def test_unusable_values_are_refused(self, changes: dict[str, str]) -> None:
        fields = {"name": "acme", "tenant_id": "T", "client_id": "c", "client_secret": "s"}
        with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
            OptumConnection(**{**fields, **changes})  # type: ignore[arg-type]

    def test_endpoints_default_per_api_and_are_overridden_per_api(self) -> None:
        defaults = OptumDefaults(BASE, TOKEN_URL)
        sntl = f"{BASE}/apip/auth/sntl/v1/token"
        overridden = OptumConnection("a", "T", "c", "s", era_token_url=sntl, era_scope="profile")
        era = overridden.endpoint(OptumApi.ERA_ENROLLMENT, defaults)
        eligibility = overridden.endpoint(OptumApi.ENHANCED_ELIGIBILITY, defaults)
        assert (era.base_url, era.token_url, era.scope) == (
            f"{BASE}/intelligentclearinghouse/iedi/enrollment/v1",
            sntl,
            "profile",
        )
        assert (eligibility.base_url, eligibility.token_url, eligibility.scope) == (
            BASE,
            TOKEN_URL,
            None,
        )


class TestIds:
    @pytest.mark.parametrize(
        "value", ["e2ea9f8f-2460-4330-8c78-6ad7624fda855", "09876z5y-43x2", "a"]
    )
    def test_spec_example_ids_are_accepted(self, value: str) -> None:
        assert check_id(value, "payload id") == value

    @pytest.mark.parametrize(
        "value",
        ["", "../x", "a/b", "a?b", "a#b", "a%2Fb", "-a", "a b", "a\n", "a" * 65, "ａ", "a.b"],
    )
    def test_unsafe_ids_are_refused_by_every_url_builder(self, value: str) -> None:
        endpoint = CONNECTION.endpoint(OptumApi.ERA_ENROLLMENT, OptumDefaults(BASE, TOKEN_URL))
        with pytest.raises(ValueError, match="payload id"):
            era_result_url(endpoint, value)
        with pytest.raises(ValueError, match="task id"):
            coverage_discovery_url(endpoint, value)


class TestPaging:
    @pytest.mark.parametrize(
        ("header", "offset"),
        [
            ('</?limit=30&offset=2>; rel="next"', 2),
            ("</x?offset=60&limit=30>; rel=next", 60),
            ('</?offset=0>; rel="prev", </?offset=30>; title="a, b"; rel="next last"', 30),
            ('<https://evil.invalid/y?offset=90>; REL="Next"', 90),
            ('</?offset=30>; rel="prev"', None),
            ('</?offset=x>; rel="next"', None),
            ('</?offset=1&offset=2>; rel="next"', None),
            ("garbage", None),
            ("", None),
            (None, None),
        ],
    )
    def test_the_next_links_offset(self, header: str | None, offset: int | None) -> None:
        assert link_next_offset(header) == offset

    def test_without_a_link_the_total_count_decides(self) -> None:
        assert next_offset(link_offset=None, count=5, offset=0, returned=2) == 2
        assert next_offset(link_offset=None, count=5, offset=4, returned=1) is None
        assert next_offset(link_offset=None, count=None, offset=0, returned=30) is None
        assert next_offset(link_offset=None, count=9, offset=0, returned=0) is None

    def test_a_link_that_does_not_move_forward_is_refused(self) -> None:
        with pytest.raises(ValueError, match="does not move"):
            next_offset(link_offset=30, count=None, offset=30, returned=30)

    @pytest.mark.parametrize(
        ("header", "count"), [("1440", 1440), (" 7 ", 7), ("x", None), (None, None)]
    )
    def test_total_count(self, header: str | None, count: int | None) -> None:
        assert total_count(header) == count


class TestTaskQuery:
    def test_the_default_query_pages_oldest_first(self) -> None:
        assert task_query(None, None, None, None, 0, 100, False) == {
            "limit": "100",
            "offset": "0",
            "sort": "startDateTime",
        }

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ((None, None, None, None, 0, 0, False), "limit"),
            ((None, None, None, None, 0, 101, False), "limit"),
            ((None, None, None, None, -1, 10, False), "offset"),
            ((None, None, "done", None, 0, 10, False), "status"),
            ((NOW, NOW, None, None, 0, 10, False), "before"),
            ((datetime(2025, 3, 20), None, None, None, 0, 10, False), "timezone"),
        ],
    )
    def test_bad_arguments_are_refused(self, args: tuple[object, ...], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            task_query(*args)  # type: ignore[arg-type]

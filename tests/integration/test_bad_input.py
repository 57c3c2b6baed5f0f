"""Hostile or broken requests: always a JSON 4xx with a request id, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import fixture_bytes
from tests.integration.conftest import StartServer
from tests.integration.harness import INBOUND_SECRET, LiveServer

LIMIT = 1024
STEDI = "/webhooks/stedi/acme"
AUTH = {"x-api-key": INBOUND_SECRET}
JSON = {"content-type": "application/json", **AUTH}


@pytest.fixture
def server(start_server: StartServer) -> LiveServer:
    return start_server(max_body_bytes=LIMIT)


def _error(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, str]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["x-request-id"]
    body: dict[str, str] = resp.json()
    assert set(body) == {"error", "detail"}
    if code is not None:
        assert body["error"] == code
    return body


def _oversized() -> bytes:
    return b'{"id": "x", "detail-type": "y", "pad": "' + b"a" * (4 * LIMIT) + b'"}'


def test_body_over_limit_with_content_length_is_413(server: LiveServer) -> None:
    resp = server.http.post(STEDI, content=_oversized(), headers=JSON)
    _error(resp, 413, "payload_too_large")
    assert server.events() == []


def test_chunked_body_over_limit_is_413(server: LiveServer) -> None:
    data = _oversized()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 256):
            yield data[start : start + 256]

    resp = server.http.post(STEDI, content=chunks(), headers=JSON)
    assert "content-length" not in resp.request.headers
    assert resp.request.headers["transfer-encoding"] == "chunked"
    _error(resp, 413, "payload_too_large")


def test_chunked_body_under_limit_is_accepted(server: LiveServer) -> None:
    data = b'{"id": "small-1", "detail-type": "x.y"}'

    def chunks() -> Iterator[bytes]:
        yield data[:10]
        yield data[10:]

    resp = server.http.post(STEDI, content=chunks(), headers=JSON)
    assert resp.status_code == 200, resp.text


def test_optum_body_over_limit_is_413(server: LiveServer) -> None:
    resp = server.http.post(
        "/callbacks/optum/coverage-discovery",
        content=_oversized(),
        headers={"content-type": "application/json", **server.bearer("optum")},
    )
    _error(resp, 413)


def test_optum_fixture_is_over_a_1k_limit(server: LiveServer) -> None:
    body = fixture_bytes("optum/coverage-discovery.callback.success.json")
    assert len(body) > LIMIT
    resp = server.http.post(
        "/callbacks/optum/coverage-discovery",
        content=body,
        headers={"content-type": "application/json", **server.bearer("optum")},
    )
    _error(resp, 413)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/json; charset=latin-1"]
)
def test_non_json_content_type_is_415(server: LiveServer, content_type: str) -> None:
    resp = server.http.post(
        STEDI,
        content=b'{"id":"a","detail-type":"b"}',
        headers={**AUTH, "content-type": content_type},
    )
    _error(resp, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="invalid-json"),
        pytest.param(b"", id="empty"),
        pytest.param(b'[{"id": "a", "detail-type": "b"}]', id="array"),
        pytest.param(b'"just a string"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"[" * 10_000 + b"]" * 10_000, id="array-depth-10000"),
        pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, id="object-depth-10000"),
        pytest.param(b'{"id": "\xff\xfe", "detail-type": "b"}', id="invalid-utf8"),
        pytest.param(b'{"id": "\xed\xa0\x80", "detail-type": "b"}', id="utf8-surrogate"),
        pytest.param(b'{"id": NaN, "detail-type": "b"}', id="nan"),
    ],
)
def test_malformed_bodies_are_400(start_server: StartServer, body: bytes) -> None:
    live = start_server()  # default 1 MiB limit, so deep bodies reach the parser
    resp = live.http.post(STEDI, content=body, headers=JSON)
    _error(resp, 400, "invalid_request")


def test_depth_limit_boundary(start_server: StartServer) -> None:
    live = start_server()
    depth = live.settings.max_json_depth

    def nested(total_depth: int, event_id: str) -> bytes:
        # The top-level object is depth 1; each list adds one.
        inner = "[" * (total_depth - 1) + "]" * (total_depth - 1)
        return f'{{"id": "{event_id}", "detail-type": "x.y", "deep": {inner}}}'.encode()

    ok = live.http.post(STEDI, content=nested(depth, "at-limit"), headers=JSON)
    assert ok.status_code == 200, ok.text
    _error(live.http.post(STEDI, content=nested(depth + 1, "over"), headers=JSON), 400)


def test_invalid_utf8_is_400_on_optum_and_destinations(server: LiveServer) -> None:
    bad = b'{"id": "\xff", "status": "success"}'
    optum = server.http.post(
        "/callbacks/optum/coverage-discovery",
        content=bad,
        headers={"content-type": "application/json", **server.bearer("optum")},
    )
    _error(optum, 400)
    dest = server.http.post(
        "/webhooks/stedi/acme/event-destinations",
        content=bad,
        headers={
            "content-type": "application/json",
            "webhook-id": "msg_1",
            "webhook-timestamp": "1742544664",
            "webhook-signature": "v1,AAAA",
        },
    )
    assert dest.status_code in (400, 401)
    _error(dest, dest.status_code)


def test_unknown_route_is_404_json(server: LiveServer) -> None:
    _error(server.http.get("/nothing/here"), 404, "not_found")
    _error(server.http.post("/webhooks/stedi"), 404, "not_found")


def test_wrong_method_is_405_json(server: LiveServer) -> None:
    resp = server.http.get(STEDI)
    _error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["allow"]
    _error(server.http.post("/events"), 405, "method_not_allowed")
    _error(server.http.delete("/oauth/token"), 405, "method_not_allowed")


def test_garbage_authorization_headers_never_500(server: LiveServer) -> None:
    values: list[str | bytes] = [
        "Bearer",
        "Bearer a b",
        "Bearer " + "a" * 10_000,
        "Bearer ..",
        "Bearer e30.e30.",
        "Basic",
        "Basic ====",
        "\u00e9\u00e9".encode("latin-1"),
    ]
    for value in values:
        for method, path in (("GET", "/events"), ("POST", "/oauth/token"), ("POST", STEDI)):
            resp = server.http.request(
                method,
                path,
                headers={
                    "authorization": value,
                    "content-type": "application/x-www-form-urlencoded",
                },
                content=b"grant_type=client_credentials",
            )
            assert 400 <= resp.status_code < 500, (value, path, resp.status_code)
            assert resp.headers["x-request-id"]

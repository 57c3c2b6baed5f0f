"""What of an upstream error answer is kept: the status, Stedi's code and trace id, no text."""

from __future__ import annotations

import json

import httpx
import pytest

from receiver.upstream.failure import describe_upstream_failure

PATIENT = "TESTPATIENT JANE"
TRACE = "1c9d4e2a-7b3f-4d6e-9a8b-0c1d2e3f4a5b"


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


class TestDescribeUpstreamFailure:
    def test_the_status_alone_when_nothing_else_is_known(self) -> None:
        assert describe_upstream_failure(503, {}, b"") == "HTTP 503"
        assert describe_upstream_failure(500, {}, b"<html>Patient JANE</html>") == "HTTP 500"

    def test_stedis_code_and_trace_id_are_kept_and_the_message_is_not(self) -> None:
        answer = body(message=f"Member {PATIENT} not found", code="NOT_FOUND", traceId=TRACE)
        assert describe_upstream_failure(404, {}, answer) == (
            f"HTTP 404 (code NOT_FOUND, trace {TRACE})"
        )

    def test_a_trace_id_from_the_headers(self) -> None:
        headers = httpx.Headers({"X-Amzn-RequestId": TRACE})
        answer = body(message="throttled: CUSTOMER_LIMIT", code="TOO_MANY_REQUESTS")
        assert describe_upstream_failure(429, headers, answer) == (
            f"HTTP 429 (code TOO_MANY_REQUESTS, trace {TRACE})"
        )

    @pytest.mark.parametrize(
        "fields",
        [
            {"code": PATIENT},
            {"code": "Jane Testpatient"},
            {"code": "x" * 65},
            {"code": 404},
            {"traceId": "TESTPATIENT"},  # a word, not an id
            {"traceId": f"{TRACE} {PATIENT}"},
            {"requestId": ["1234-5678-9012"]},
        ],
    )
    def test_anything_not_shaped_like_a_code_or_an_id_is_dropped(
        self, fields: dict[str, object]
    ) -> None:
        assert describe_upstream_failure(400, {}, body(**fields)) == "HTTP 400"

    def test_a_body_that_is_not_a_json_object_is_ignored(self) -> None:
        assert describe_upstream_failure(400, {}, b'["NOT_FOUND"]') == "HTTP 400"
        assert describe_upstream_failure(400, {}, b"\xff\xfe") == "HTTP 400"

"""schemathesis over the ops API of a live app: no 5xx, and every answer as /openapi.json says."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import fixture_bytes
from tests.integration.harness import STEDI_WEBHOOK_FIXTURES, LiveServer

# Intake is signature-checked and the token endpoint takes client secrets: fuzzing them only
# exercises the refusals, which test_bad_input and test_token_endpoint cover precisely.
NOT_FUZZED = r"^/(webhooks|callbacks|oauth)/"
# The eligibility and ERA enrollment submissions send to Stedi and Optum, and this token lacks
# their scopes: fuzzing them only generates big bodies (12 s) for a 403.
# test_openapi_routes sends real ones to the mocks and checks every answer against the document.
NOT_FUZZED_POSTS = r"^/(eligibility|era-enrollments)"
EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """One keep-alive session for every case: without one, each case builds a session (and a
    TLS context) and opens a connection of its own, most of the test's time."""
    with requests.Session() as opened:
        yield opened


def test_ops_api_answers_every_conformant_request_as_documented(
    server: LiveServer, session: requests.Session
) -> None:
    for name in STEDI_WEBHOOK_FIXTURES:  # something to list, so 200 pages carry items
        assert server.stedi(fixture_bytes(name)).status_code == 200
    doc = server.http.get("/openapi.json").json()
    schema = (
        schemathesis.openapi.from_dict(doc)
        .exclude(path_regex=NOT_FUZZED)
        .exclude(method="POST", path_regex=NOT_FUZZED_POSTS)
    )
    headers = server.bearer("admin")  # subscriptions:write, events:read, events:replay
    started = time.monotonic()
    fuzzed = []
    for result in schema.get_all_operations():
        operation = result.ok()
        fuzzed.append(operation.label)

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=server.base_url, session=session, headers=headers, checks=CHECKS
            )

        call()
    assert len(fuzzed) >= 18, fuzzed
    assert not any("/webhooks/" in label or "/oauth/" in label for label in fuzzed)
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("path", ["/events", "/jobs", "/deliveries"])
def test_limit_bounds_match_the_document(server: LiveServer, path: str) -> None:
    doc = server.http.get("/openapi.json").json()
    params = {p["name"]: p["schema"] for p in doc["paths"][path]["get"]["parameters"]}
    low, high = params["limit"]["minimum"], params["limit"]["maximum"]
    for ok in (low, high):
        resp = server.http.get(path, params={"limit": ok}, headers=server.bearer())
        assert resp.status_code == 200, resp.text
    for bad in (low - 1, high + 1):
        resp = server.http.get(path, params={"limit": bad}, headers=server.bearer())
        assert resp.status_code == 400, resp.text

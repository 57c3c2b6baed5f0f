"""The newest routes answer as the served /openapi.json says: real requests to a live app (its
poller on, Stedi eligibility and Optum mocked), each body checked against the document's
closed schemas; and an unknown filter value is a 400 naming the allowed values, in the same
words from the API and the CLI, with the same values the document lists."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator, FormatChecker

from receiver.auth.clients import new_client
from receiver.cli import main
from receiver.enrollment.submissions import StoredConnection, SubmissionStatus
from receiver.ops.filters import not_one_of
from receiver.store.base import Store
from receiver.upstream.optum import OptumConnection
from tests.conftest import FIXTURES
from tests.fanout_seed import seed_deliveries
from tests.integration.conftest import StartServer
from tests.integration.harness import LiveServer
from tests.mocks.optum import TOKEN_PATHS, MockOptumState, serve_mock_optum
from tests.mocks.stedi_eligibility import MockEligibilityState, mock_stedi_eligibility, poll_item

API_KEY = "acme-stedi-key-0a1b2c3d"
NPI = "1999999984"
FIRST_BATCH = "01958a3c-0000-7000-8000-000000000001"
OPTUM = {"client_id": "syn-client-id", "client_secret": "syn-secret-Zq8!x:7", "tenant_id": "T1"}
RECORDS: list[dict[str, Any]] = json.loads(
    (FIXTURES / "optum/era-enrollment.submission.request.json").read_bytes()
)
COMPLETE: dict[str, Any] = json.loads(
    (FIXTURES / "optum/era-enrollment.results.complete.json").read_bytes()
)
SCOPES = ("eligibility:write", "enrollment:write", "audit:read", "events:read", "events:replay")
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _rfc3339(value: object) -> bool:
    """RFC 3339 date-times: ISO-8601 with a date, a time and a timezone."""
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return "T" in value.upper() and parsed.tzinfo is not None


def check(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "submitterTransactionIdentifier": f"STI{number:06d}",
        "controlNumber": f"{number:09d}",
        "tradingPartnerServiceId": "SYNPAYER01",
        "provider": {"organizationName": "SYNTHETIC FAMILY CLINIC", "npi": NPI},
        "subscriber": {"memberId": f"ZZT{number:09d}", "lastName": "TESTPATIENT"},
        "encounter": {"serviceTypeCodes": ["30"]},
        **fields,
    }


@pytest.fixture
def stedi() -> Iterator[tuple[str, MockEligibilityState]]:
    with mock_stedi_eligibility(MockEligibilityState(api_key=API_KEY)) as served:
        yield served


@pytest.fixture
def optum_url() -> Iterator[str]:
    with serve_mock_optum(FIXTURES, MockOptumState(**OPTUM)) as url:
        yield url


class Documented:
    """Requests to a live app, each checked against the operation the served document holds."""

    def __init__(self, server: LiveServer, headers: dict[str, str]) -> None:
        self.server = server
        self.headers = headers
        self.doc: dict[str, Any] = server.http.get("/openapi.json").json()

    def problems(self, schema: dict[str, Any], instance: object) -> list[str]:
        validator = Draft202012Validator(
            {**schema, "components": self.doc["components"]}, format_checker=FORMATS
        )
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(instance)
        ]

    def conforms(self, schema: dict[str, Any], instance: object, what: str) -> None:
        errors = self.problems(schema, instance)
        assert not errors, (what, errors)

    def call(
        self,
        method: str,
        template: str,
        path: str,
        status: int,
        body: object = None,
        *,
        body_valid: bool | None = True,
    ) -> httpx.Response:
        """`method path` (the route `template`): its status and body as the document says; a
        JSON `body` is checked against the documented request body first (valid, invalid or,
        with None, a rule the schema cannot express)."""
        operation = self.doc["paths"][template][method.lower()]
        what = f"{method} {template}"
        if body is not None and body_valid is not None:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            if body_valid:
                self.conforms(schema, body, f"{what} request")
            else:
                assert self.problems(schema, body), (what, "the document accepts", body)
        resp = self.server.http.request(method, path, json=body, headers=self.headers)
        assert resp.status_code == status, (what, resp.status_code, resp.text)
        documented = operation["responses"][str(status)]
        self.conforms(
            documented["content"]["application/json"]["schema"], resp.json(), f"{what} {status}"
        )
        return resp


def _client(server: LiveServer) -> dict[str, str]:
    client, secret = new_client("everything", SCOPES, datetime.now(UTC))
    connection = OptumConnection(name="acme", **OPTUM)

    async def seed(store: Store) -> None:
        await store.add_client(client)
        await store.add_optum_connection(StoredConnection(connection, datetime.now(UTC)))

    server.with_store(seed)
    resp = server.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret),
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _complete(server: LiveServer, submission_id: str) -> None:
    """Store Optum's Complete result on a submission, as the poller would."""

    async def finish(store: Store) -> None:
        found = await store.fetch_era_submission(submission_id)
        assert found is not None
        done = dataclasses.replace(
            found,
            status=SubmissionStatus.COMPLETE,
            attempts=3,
            last_polled_at=datetime.now(UTC),
            next_poll_at=None,
            result=COMPLETE,
            completed_at=datetime.now(UTC),
        )
        await store.save_era_submission(done)

    server.with_store(finish)


def test_the_newest_routes_answer_as_documented(
    start_server: StartServer, stedi: tuple[str, MockEligibilityState], optum_url: str
) -> None:
    url, mock = stedi
    mock.poll_pages = [
        {"items": [poll_item(FIRST_BATCH, 1), poll_item(FIRST_BATCH, 2, error=True)]}
    ]
    server = start_server(
        run_workers=True,
        stedi_api_key=API_KEY,
        stedi_healthcare_url=url,
        stedi_manager_url=url,
        eligibility_poll_schedule="0.05",
        eligibility_poll_idle_ms=20,
        worker_idle_ms=50,
        reconcile_interval_seconds=0,
        optum_base_url=optum_url,
        optum_token_url=optum_url + TOKEN_PATHS[0],
        allow_insecure_destinations=True,
    )
    api = Documented(server, _client(server))

    checks, batches, enrollments = "/eligibility/checks", "/eligibility/batches", "/era-enrollments"
    real_time = {k: v for k, v in check(9).items() if k != "submitterTransactionIdentifier"}
    answered = api.call("POST", checks, checks, 200, {"account": "acme", **real_time})
    event_id = answered.headers["x-eligibility-event-id"]
    refused = {"account": "acme", **check(9, controlNumber="12ab")}
    api.call("POST", checks, checks, 400, refused, body_valid=False)
    batch = {"account": "acme", "items": [check(1), check(2)]}
    submitted = api.call("POST", batches, batches, 202, batch).json()
    assert submitted["batch_ids"] == [FIRST_BATCH]
    progress = f"{batches}/{submitted['id']}"
    assert api.call("GET", batches + "/{id}", progress, 200).json()["status"] == "polling"
    _wait_for(
        lambda: server.http.get(progress, headers=api.headers).json()["status"] == "completed",
        "the batch's results",
    )
    done = api.call("GET", batches + "/{id}", progress, 200).json()
    assert done["results"] == {"active": 1, "error": 1}
    assert done["batches"][0]["completed_at"] is not None

    # The second record's NPI fails its check digit: a rule the schema cannot express.
    bad_npi = {"optum": "acme", "records": RECORDS}
    api.call("POST", enrollments, enrollments, 400, bad_npi, body_valid=None)
    good = {"optum": "acme", "records": RECORDS[:1]}
    era = api.call("POST", enrollments, enrollments, 202, good).json()
    shown = f"{enrollments}/{era['id']}"
    assert api.call("GET", enrollments + "/{id}", shown, 200).json()["status"] == "polling"
    _complete(server, era["id"])
    assert api.call("GET", enrollments + "/{id}", shown, 200).json()["result"] == COMPLETE

    reprocess = f"/events/{event_id}/reprocess"
    assert api.call("POST", "/events/{id}/reprocess", reprocess, 202).json()["queued"] is True

    created = server.http.post(
        "/subscriptions",
        json={"url": "http://127.0.0.1:9/in", "types": ["claim.*"], "account": "acme"},
        headers=server.bearer("admin"),
    )
    assert created.status_code == 201, created.text
    seeded = seed_deliveries(server.db_path, created.json()["id"])
    detail = api.call("GET", "/deliveries/{id}", f"/deliveries/{seeded.dead}", 200).json()
    assert detail["attempt_count"] == len(detail["attempts"]) == 1
    api.call("POST", "/deliveries/{id}/retry", f"/deliveries/{seeded.dead}/retry", 202)

    rows = api.call("GET", "/audit", "/audit", 200).json()["items"]
    assert {"event.reprocess", "delivery.retry"} <= {row["action"] for row in rows}


FILTERS = [
    ("/events", "status", ("events", "list", "--status")),
    ("/events", "source", ("events", "list", "--source")),
    ("/jobs", "status", ("jobs", "list", "--status")),
    ("/jobs", "kind", ("jobs", "list", "--kind")),
    ("/deliveries", "status", ("deliveries", "list", "--status")),
    ("/audit", "action", ("audit", "list", "--action")),
]


def test_an_unknown_filter_value_is_refused_naming_the_documented_values(
    start_server: StartServer,
) -> None:
    server = start_server()
    client, secret = new_client("reader", ["events:read", "audit:read"], datetime.now(UTC))
    server.with_store(lambda store: store.add_client(client))
    token = server.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client.client_id, secret)
    ).json()["access_token"]
    doc = server.http.get("/openapi.json").json()
    runner = CliRunner()
    env = {"RECEIVER_DATABASE_URL": server.settings.database_url, "RECEIVER_LOG_FORMAT": "json"}
    for path, name, command in FILTERS:
        params = {p["name"]: p["schema"] for p in doc["paths"][path]["get"]["parameters"]}
        allowed = params[name]["enum"]
        detail = not_one_of(name, allowed)
        headers = {"Authorization": f"Bearer {token}"}
        for value in allowed:
            assert server.http.get(path, params={name: value}, headers=headers).status_code == 200
        resp = server.http.get(path, params={name: "bogus"}, headers=headers)
        assert resp.status_code == 400, (path, resp.text)
        assert resp.json() == {"error": "invalid_request", "detail": detail}
        assert ", ".join(allowed) in detail
        result = runner.invoke(main, [*command, "bogus"], env=env)
        assert result.exit_code == 2, (command, result.output)
        assert detail in result.output, (command, result.output)

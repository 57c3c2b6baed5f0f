"""Stedi eligibility through receiver over real HTTP: the live app under uvicorn (worker and
poller in process, real SQLite) against the mock of Stedi's eligibility endpoints."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from receiver.auth.clients import new_client
from receiver.models import OutboundMessage
from receiver.store.base import Store
from receiver.store.sqlite import SqliteStore
from tests.integration.conftest import StartServer
from tests.integration.harness import LiveServer
from tests.mocks.stedi_eligibility import (
    CUSTOMER_LIMIT_BODY,
    MockEligibilityState,
    mock_stedi_eligibility,
    poll_item,
)

API_KEY = "acme-stedi-key-0a1b2c3d"
VALID_NPI = "1999999984"
FIRST_BATCH = "01958a3c-0000-7000-8000-000000000001"
PHI = ("ZZT000123401", "TESTPATIENT", "19800101", "ALEX")


def check(number: int = 1, **fields: Any) -> dict[str, Any]:
    """A valid check (a batch item: with its submitterTransactionIdentifier)."""
    body: dict[str, Any] = {
        "submitterTransactionIdentifier": f"STI{number:06d}",
        "controlNumber": f"{number % 1_000_000_000:09d}",
        "tradingPartnerServiceId": "SYNPAYER01",
        "provider": {"organizationName": "SYNTHETIC FAMILY CLINIC", "npi": VALID_NPI},
        "subscriber": {"memberId": f"ZZT{number:09d}", "lastName": "TESTPATIENT"},
        "encounter": {"serviceTypeCodes": ["30"]},
    }
    body.update(fields)
    return body


@pytest.fixture
def stedi() -> Iterator[tuple[str, MockEligibilityState]]:
    with mock_stedi_eligibility(MockEligibilityState(api_key=API_KEY)) as served:
        yield served


Start = Callable[..., LiveServer]


def _settings(url: str, **settings: object) -> dict[str, object]:
    values: dict[str, object] = {
        "stedi_healthcare_url": url,
        "stedi_manager_url": url,
        "eligibility_poll_schedule": "0.05",
        "eligibility_poll_idle_ms": 20,
        "worker_idle_ms": 50,
        "reconcile_interval_seconds": 0,
        "stedi_api_key": API_KEY,
    }
    values.update(settings)
    return values


@pytest.fixture
def start(start_serving: StartServer, stedi: tuple[str, MockEligibilityState]) -> Start:
    """`receiver serve` (worker and poller in process) on each store, Stedi at the mock."""
    return lambda **settings: start_serving(**_settings(stedi[0], **settings))


@pytest.fixture
def start_sqlite(start_server: StartServer, stedi: tuple[str, MockEligibilityState]) -> Start:
    """The same on SQLite only, for restarts on one database file."""
    return lambda **settings: start_server(**_settings(stedi[0], run_workers=True, **settings))


_CLIENTS: dict[str, tuple[str, str]] = {}  # database -> (client id, secret)
_BEARERS: dict[str, dict[str, str]] = {}  # server URL -> Bearer header


def eligibility_token(server: LiveServer) -> dict[str, str]:
    """A Bearer header for a client with eligibility:write, created in the server's database
    on first use."""
    bearer = _BEARERS.get(server.base_url)
    if bearer is not None:
        return bearer
    # One client per database: a restarted server shares its file; PostgreSQL servers each
    # have a schema of their own.
    settings = server.settings
    database = settings.database_url if settings.is_sqlite else str(server.tmp_path)
    if database not in _CLIENTS:
        client, secret = new_client("billing", ["eligibility:write"], datetime.now(UTC))
        server.with_store(lambda store: store.add_client(client))
        _CLIENTS[database] = (client.client_id, secret)
    resp = server.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=_CLIENTS[database]
    )
    assert resp.status_code == 200, resp.text
    bearer = _BEARERS[server.base_url] = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    return bearer


def messages(server: LiveServer, message_type: str) -> list[OutboundMessage]:
    async def read(store: Store) -> list[OutboundMessage]:
        page = await store.list_messages(limit=500, cursor=None)
        return [m for m in page.items if m.type == message_type]

    found: list[OutboundMessage] = server.with_store(read)
    return found


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def progress(server: LiveServer, submission_id: str) -> dict[str, Any]:
    resp = server.http.get(
        f"/eligibility/batches/{submission_id}", headers=eligibility_token(server)
    )
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()
    return found


def test_a_real_time_check_answers_stedis_response_stores_and_publishes_it(
    start: Start, stedi: tuple[str, MockEligibilityState]
) -> None:
    _, mock = stedi
    server = start()
    body = check(1, subscriber={"memberId": "ZZT000123401", "lastName": "O`TESTPATIENT"})
    del body["submitterTransactionIdentifier"]

    resp = server.http.post(
        "/eligibility/checks", json={"account": "acme", **body}, headers=eligibility_token(server)
    )

    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["id"].startswith("ec_")
    assert resp.headers["x-eligibility-warnings"]
    assert "subscriber.lastName" in resp.headers["x-eligibility-warnings"]
    sent = mock.seen("/eligibility/v3")
    assert len(sent) == 1
    assert sent[0].headers["authorization"] == API_KEY
    assert "account" not in sent[0].body
    assert sent[0].body["subscriber"]["lastName"] == "O'TESTPATIENT"
    event = server.event(resp.headers["x-eligibility-event-id"])
    assert event["type"] == "stedi.eligibility.check"
    wait_for(lambda: bool(messages(server, "eligibility.check.completed")), "the message")
    (message,) = messages(server, "eligibility.check.completed")
    assert message.account == "acme"
    assert message.data["eligibility_check_id"] == answer["id"]
    assert message.data["status"] == "active"
    assert message.data["plan_dates"] == {"planBegin": "20250101", "eligibilityBegin": "20240115"}
    assert not any(value in str(message.data) for value in PHI)
    scraped = server.http.get("/metrics").text
    assert 'receiver_upstream_requests_total{endpoint="eligibility_check",status="200"} 1.0' in (
        scraped
    )


def test_each_rule_error_names_its_item_and_field_and_nothing_is_sent(
    start: Start, stedi: tuple[str, MockEligibilityState]
) -> None:
    _, mock = stedi
    server = start()
    bad = [
        check(0),
        check(1, controlNumber="12ab"),
        {k: v for k, v in check(2).items() if k != "tradingPartnerServiceId"},
        check(3, provider={"npi": VALID_NPI}),
        check(4, provider={"organizationName": "X CLINIC", "npi": "1999999985"}),
        check(5, subscriber={"firstName": "ALEX"}),
        check(6, dependents=[{"lastName": "A"}, {"lastName": "B"}]),
        check(7, encounter={"dateOfService": "20250231"}),
        check(
            8,
            encounter={
                "dateOfService": "20250301",
                "beginningDateOfService": "20250301",
                "endDateOfService": "20250302",
            },
        ),
        check(9, subscriber={"memberId": "ZZT1", "lastName": "TEST~PATIENT"}),
        check(10, portalUsername="u" * 51),
        check(11, submitterTransactionIdentifier="STI000001"),
        check(12, subscriber={"memberId": "ZZT1", "lastName": "TESTPATIENT\u00c9"}),
        check(13, provider={"organizationName": "X CLINIC"}),
        check(14, tradingPartnerServiceId="P" * 81),
    ]

    resp = server.http.post(
        "/eligibility/batches",
        json={"account": "acme", "items": bad},
        headers=eligibility_token(server),
    )

    assert resp.status_code == 400, resp.text
    paths = {error["path"] for error in resp.json()["errors"]}
    for expected in (
        "items[1].controlNumber",
        "items[2].tradingPartnerServiceId",
        "items[3].provider.organizationName",
        "items[4].provider.npi",
        "items[5].subscriber",
        "items[6].dependents",
        "items[7].encounter.dateOfService",
        "items[8].encounter.dateOfService",
        "items[9].subscriber.lastName",
        "items[10].portalUsername",
        "items[11].submitterTransactionIdentifier",
        "items[12].subscriber.lastName",
        "items[13].provider",
        "items[14].tradingPartnerServiceId",
    ):
        assert expected in paths, (expected, paths)
    assert not any(path.startswith("items[0]") for path in paths)
    assert not any(value in resp.text for value in ("TEST~PATIENT", "u" * 51))

    one = check(1, controlNumber="12ab")
    resp = server.http.post(
        "/eligibility/checks", json={"account": "acme", **one}, headers=eligibility_token(server)
    )
    assert resp.status_code == 400
    assert [e["path"] for e in resp.json()["errors"]] == ["controlNumber"]
    assert mock.requests == []


def test_1200_checks_become_3_batches(
    start: Start, stedi: tuple[str, MockEligibilityState]
) -> None:
    _, mock = stedi
    server = start(eligibility_poll_schedule="3600")
    items = [check(n) for n in range(1, 1201)]

    resp = server.http.post(
        "/eligibility/batches",
        json={"account": "acme", "items": items},
        headers=eligibility_token(server),
    )

    assert resp.status_code == 202, resp.text
    answer = resp.json()
    assert answer["id"].startswith("elb_")
    assert len(answer["batch_ids"]) == 3
    assert [len(batch) for batch in mock.submitted] == [500, 500, 200]
    sent = [item["submitterTransactionIdentifier"] for batch in mock.submitted for item in batch]
    assert sent == [item["submitterTransactionIdentifier"] for item in items]
    shown = progress(server, answer["id"])
    assert shown["expected"] == 1200
    assert [b["batch_id"] for b in shown["batches"]] == answer["batch_ids"]
    assert [b["expected"] for b in shown["batches"]] == [500, 500, 200]


def test_results_arrive_over_several_polls_and_pages(
    start: Start, stedi: tuple[str, MockEligibilityState]
) -> None:
    _, mock = stedi
    items = [poll_item(FIRST_BATCH, n, error=n == 4) for n in range(1, 5)]
    mock.poll_pages = [
        {"items": [items[0]], "nextPageToken": "pass1-page2"},
        {"items": [items[1]]},
        {"items": []},
        {"items": [items[1], items[2]], "nextPageToken": "pass3-page2"},
        {"items": [items[3]]},
    ]
    server = start()

    resp = server.http.post(
        "/eligibility/batches",
        json={"account": "acme", "items": [check(n) for n in range(1, 5)]},
        headers=eligibility_token(server),
    )
    assert resp.status_code == 202, resp.text
    submission = resp.json()["id"]
    assert resp.json()["batch_ids"] == [FIRST_BATCH]

    wait_for(lambda: progress(server, submission)["status"] == "completed", "completion")
    shown = progress(server, submission)
    assert shown["stored"] == 4
    assert shown["results"] == {"active": 3, "error": 1}
    polls = mock.seen("/polling/batch-eligibility")
    assert [p.query.get("pageToken") for p in polls] == [
        None,
        "pass1-page2",
        None,
        None,
        "pass3-page2",
    ]
    assert all(p.query["batchId"] == FIRST_BATCH for p in polls)
    assert all("gzip" in p.headers["accept-encoding"] for p in polls)
    wait_for(lambda: len(messages(server, "eligibility.check.completed")) == 4, "4 messages")
    wait_for(lambda: bool(messages(server, "eligibility.batch.completed")), "the batch message")
    (done,) = messages(server, "eligibility.batch.completed")
    assert done.data["batch_id"] == FIRST_BATCH
    assert (done.data["total"], done.data["active"], done.data["errors"]) == (4, 3, 1)
    assert done.data["submission_id"] == submission
    checks = messages(server, "eligibility.check.completed")
    assert sorted(m.data["eligibility_check_id"] for m in checks) == sorted(i["id"] for i in items)
    assert len(server.events(type="stedi.eligibility.check")) == 4


def test_a_restart_mid_poll_resumes_from_the_saved_page(
    start_sqlite: Start, stedi: tuple[str, MockEligibilityState]
) -> None:
    start = start_sqlite
    _, mock = stedi
    items = [poll_item(FIRST_BATCH, n) for n in range(1, 4)]
    mock.poll_pages = [{"items": [items[0]], "nextPageToken": "page-2"}]
    mock.poll_when_empty = (503, {"message": "unavailable"})  # page 2 is not served
    first = start()
    resp = first.http.post(
        "/eligibility/batches",
        json={"account": "acme", "items": [check(n) for n in range(1, 4)]},
        headers=eligibility_token(first),
    )
    assert resp.status_code == 202, resp.text
    submission = resp.json()["id"]
    wait_for(lambda: progress(first, submission)["stored"] == 1, "the first page")
    wait_for(
        lambda: any(p.query.get("pageToken") == "page-2" for p in mock.seen("/batch-eligibility")),
        "a poll of page 2",
    )
    first.stop()
    seen_before = len(mock.seen("/polling/batch-eligibility"))

    mock.poll_when_empty = None
    mock.poll_pages = [
        {"items": [items[0], items[1]], "nextPageToken": "page-3"},
        {"items": [items[2]]},
    ]
    second = start(
        store=SqliteStore(first.db_path),
        seeder=lambda: first.seed,
        database_url=first.settings.database_url,
        signing_key_path=str(first.key_path),
    )
    second.store_of = first.store_of  # the same database file

    wait_for(lambda: progress(second, submission)["status"] == "completed", "completion")
    after = mock.seen("/polling/batch-eligibility")[seen_before:]
    assert after[0].query.get("pageToken") == "page-2"
    assert progress(second, submission)["stored"] == 3
    assert len(second.events(type="stedi.eligibility.check")) == 3
    wait_for(lambda: len(messages(second, "eligibility.check.completed")) == 3, "3 messages")
    wait_for(lambda: bool(messages(second, "eligibility.batch.completed")), "the batch message")
    assert len(messages(second, "eligibility.batch.completed")) == 1


def test_12_concurrent_checks_with_one_throttled_all_answer_200_never_more_than_5_in_flight(
    start: Start, stedi: tuple[str, MockEligibilityState]
) -> None:
    _, mock = stedi
    mock.check_delay_seconds = 0.3
    mock.check_script = [(429, CUSTOMER_LIMIT_BODY)]
    server = start()
    bearer = eligibility_token(server)

    def post(number: int) -> httpx.Response:
        body = {k: v for k, v in check(number).items() if k != "submitterTransactionIdentifier"}
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            return http.post(
                "/eligibility/checks", json={"account": "acme", **body}, headers=bearer
            )

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(post, range(1, 13)))

    assert [a.status_code for a in answers] == [200] * 12
    assert len({a.json()["id"] for a in answers}) == 12
    assert len(mock.seen("/eligibility/v3")) == 13
    assert mock.max_in_flight == 5


def test_upstream_failures_are_502_and_504_with_a_clear_detail(
    start: Start, stedi: tuple[str, MockEligibilityState]
) -> None:
    _, mock = stedi
    server = start(eligibility_deadline_seconds=1)
    body = {k: v for k, v in check(1).items() if k != "submitterTransactionIdentifier"}
    bearer = eligibility_token(server)

    mock.check_script = [(500, {"message": "boom for ALEX", "code": "INTERNAL_ERROR"})]
    resp = server.http.post("/eligibility/checks", json={"account": "acme", **body}, headers=bearer)
    assert resp.status_code == 502
    assert resp.json()["error"] == "upstream_error"
    assert "HTTP 500" in resp.json()["detail"]
    assert "INTERNAL_ERROR" in resp.json()["detail"]
    assert "ALEX" not in resp.text

    mock.check_delay_seconds = 2
    resp = server.http.post("/eligibility/checks", json={"account": "acme", **body}, headers=bearer)
    assert resp.status_code == 504
    assert "did not answer in time" in resp.json()["detail"]


def test_a_batch_stedi_refuses_after_others_is_a_502_naming_what_was_kept(
    start: Start, stedi: tuple[str, MockEligibilityState]
) -> None:
    _, mock = stedi
    mock.submit_script = [None, (400, {"message": "bad batch", "code": "VALIDATION_ERROR"})]
    server = start(eligibility_batch_size=2, eligibility_poll_schedule="3600")

    resp = server.http.post(
        "/eligibility/batches",
        json={"account": "acme", "items": [check(n) for n in range(1, 6)]},
        headers=eligibility_token(server),
    )

    assert resp.status_code == 502, resp.text
    detail = resp.json()["detail"]
    assert "batch 2 of 3" in detail
    assert "HTTP 400 (code VALIDATION_ERROR)" in detail
    assert "1 earlier batch was submitted and followed as elb_" in detail
    submission = detail.rsplit(" ", 1)[-1]
    shown = progress(server, submission)
    assert [b["batch_id"] for b in shown["batches"]] == [FIRST_BATCH]
    assert shown["expected"] == 2
    assert len(mock.seen("/eligibility-manager/batch-eligibility")) == 2  # not the third


def test_logs_carry_no_patient_data_or_keys(
    captured: io.StringIO, start: Start, stedi: tuple[str, MockEligibilityState]
) -> None:
    _, mock = stedi
    mock.poll_pages = [{"items": [poll_item(FIRST_BATCH, 1)]}]
    mock.check_script = [(429, CUSTOMER_LIMIT_BODY), (500, {"message": "ALEX TESTPATIENT"})]
    server = start()
    bearer = eligibility_token(server)
    body = {k: v for k, v in check(1).items() if k != "submitterTransactionIdentifier"}
    body["subscriber"] = {"memberId": "ZZT000123401", "lastName": "TESTPATIENT"}
    assert (
        server.http.post(
            "/eligibility/checks", json={"account": "acme", **body}, headers=bearer
        ).status_code
        == 502
    )
    assert (
        server.http.post(
            "/eligibility/checks", json={"account": "acme", **body}, headers=bearer
        ).status_code
        == 200
    )
    resp = server.http.post(
        "/eligibility/batches", json={"account": "acme", "items": [check(1)]}, headers=bearer
    )
    assert resp.status_code == 202
    wait_for(lambda: progress(server, resp.json()["id"])["status"] == "completed", "completion")
    wait_for(lambda: bool(messages(server, "eligibility.batch.completed")), "the batch message")

    logged = captured.getvalue()
    assert "eligibility.batch_completed" in logged
    for secret in (*PHI, API_KEY, "19800101"):
        assert secret not in logged

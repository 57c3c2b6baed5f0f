"""ERA enrollment over real HTTP against the mock Optum: the route (records named by field,
202 with the payloadId, an accepted record refused again with 409) and the poller on both
stores (one token reused and renewed after a 401, Processing, Processing, Complete stored
and published once, a restart mid-poll resuming from the store)."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from receiver.auth.clients import new_client
from receiver.enrollment.events import ERA_RESULT_TYPE
from receiver.enrollment.poller import EnrollmentPoller
from receiver.enrollment.submissions import StoredConnection, SubmissionStatus
from receiver.followup.plan import build_result
from receiver.models import EventFilter
from receiver.ops import enrollment as use
from receiver.store.base import Store
from receiver.upstream.optum import OptumClient, OptumConnection, OptumDefaults
from tests.conftest import FIXTURES
from tests.integration.conftest import StartServer
from tests.mocks.optum import TOKEN_PATHS, MockOptumState, serve_mock_optum

CLIENT_ID = "syn-client-id"
SECRET = "syn-secret-Zq8!x:7"
TENANT = "TESTWINH"
RECORDS: list[dict[str, Any]] = json.loads(
    (FIXTURES / "optum/era-enrollment.submission.request.json").read_bytes()
)
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def state() -> MockOptumState:
    return MockOptumState(client_id=CLIENT_ID, client_secret=SECRET, tenant_id=TENANT)


@pytest.fixture
def optum_url(state: MockOptumState) -> Iterator[str]:
    with serve_mock_optum(FIXTURES, state) as url:
        yield url


def _connection() -> StoredConnection:
    return StoredConnection(
        OptumConnection(name="acme", tenant_id=TENANT, client_id=CLIENT_ID, client_secret=SECRET),
        created_at=T0,
    )


class FakeClock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _client(optum_url: str) -> OptumClient:
    return OptumClient(
        defaults=OptumDefaults(base_url=optum_url, token_url=optum_url + TOKEN_PATHS[0])
    )


def test_the_route_names_bad_records_accepts_good_ones_and_refuses_them_again(
    start_server: StartServer, optum_url: str, state: MockOptumState
) -> None:
    server = start_server(optum_base_url=optum_url, optum_token_url=optum_url + TOKEN_PATHS[0])
    writer, secret = new_client("enroller", ["enrollment:write"], datetime.now(UTC))
    assert server.store_of is not None
    store = server.store_of()

    async def seed() -> None:
        await store.open()
        try:
            await store.add_client(writer)
            await store.add_optum_connection(_connection())
        finally:
            await store.close()

    asyncio.run(seed())
    answer = server.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(writer.client_id, secret),
    )
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    bad = server.http.post(
        "/era-enrollments", json={"optum": "acme", "records": RECORDS}, headers=headers
    )
    assert bad.status_code == 400, bad.text
    assert {e["path"] for e in bad.json()["errors"]} == {
        "records[1].preferenceForAggregation.npi",
        "records[1].providerIdentifiers.npi",
    }
    assert state.submissions == {}

    good = server.http.post(
        "/era-enrollments", json={"optum": "acme", "records": RECORDS[:1]}, headers=headers
    )
    assert good.status_code == 202, good.text
    submitted = good.json()
    assert submitted["status"] == "polling"
    assert list(state.submissions) == [submitted["payloadId"]]
    assert all(seen.headers["tenant-id"] == TENANT for seen in state.api_requests())

    # The same record again, respelled (key order, e-mail case): refused, naming both.
    again = dict(reversed(list(RECORDS[0].items())))
    again["emailAddress"] = str(again["emailAddress"]).upper()
    refused = server.http.post(
        "/era-enrollments", json={"optum": "acme", "records": [again]}, headers=headers
    )
    assert refused.status_code == 409, refused.text
    assert f"records[0] equals records[0] of submission {submitted['id']}" in refused.text
    assert len(state.submissions) == 1

    shown = server.http.get(f"/era-enrollments/{submitted['id']}", headers=headers)
    assert shown.status_code == 200
    assert shown.json()["payloadId"] == submitted["payloadId"]
    missing = server.http.get("/era-enrollments/era_nope", headers=headers)
    assert missing.status_code == 404


@pytest.mark.anyio
async def test_processing_processing_complete_is_published_once_across_a_restart(
    store: Store, optum_url: str, state: MockOptumState
) -> None:
    await store.add_optum_connection(_connection())
    clock = FakeClock(T0)
    client = _client(optum_url)
    submitted = await use.submit(
        store, client, connection_name="acme", records=RECORDS[:1], now=clock
    )
    assert submitted.payload_id is not None
    poller = EnrollmentPoller(store=store, client=client, clock=clock)

    assert await poller.run_once() == 0  # not due yet
    clock.now = submitted.next_poll_at or T0
    assert await poller.run_once() == 1
    first = await store.fetch_era_submission(submitted.id)
    assert first is not None
    assert first.status is SubmissionStatus.POLLING
    assert first.attempts == 1
    assert first.next_poll_at is not None
    assert len(state.issued) == 1  # the submission's token, reused for the poll

    # Optum revokes the token: the next poll takes a new one once, after the 401.
    state.revoke_all()
    await client.aclose()
    # A restart: a new poller and client, nothing but the store carried over.
    client = _client(optum_url)
    poller = EnrollmentPoller(store=store, client=client, clock=clock)
    clock.now = first.next_poll_at
    assert await poller.run_once() == 1
    second = await store.fetch_era_submission(submitted.id)
    assert second is not None
    assert second.status is SubmissionStatus.POLLING
    assert second.attempts == 2

    state.revoke_all()  # now the restarted client's token is refused: renewed after a 401
    clock.now = second.next_poll_at or clock.now
    assert await poller.run_once() == 1
    done = await store.fetch_era_submission(submitted.id)
    assert done is not None
    assert done.status is SubmissionStatus.COMPLETE
    assert done.result is not None
    assert done.result["records_accepted"] == 1
    assert state.polls[submitted.payload_id] == 3
    assert len(state.issued) == 3
    unauthorized = [s for s in state.api_requests() if s.method == "GET"]
    assert len(unauthorized) == 4  # three polls and one retried after the 401

    # Polling a finished submission again stores nothing new.
    await poller.poll(replace(done, status=SubmissionStatus.POLLING))
    events = await store.list_events(EventFilter(type=ERA_RESULT_TYPE), limit=10, cursor=None)
    assert len(events.items) == 1
    event = await store.fetch_event(events.items[0].id)
    assert event is not None
    result = build_result(event, report=None, kind=None, now=clock.now)
    assert [m.type for m in result.messages] == ["era_enrollment.completed"]
    data = result.messages[0].data
    assert data["status"] == "complete"
    assert data["submission_id"] == submitted.id
    assert data["rejected"]
    assert data["rejected"][0]["errors"]
    assert await poller.run_once() == 0
    await client.aclose()


@pytest.mark.anyio
async def test_a_result_never_found_is_given_up_with_the_reason(
    store: Store, optum_url: str, state: MockOptumState
) -> None:
    await store.add_optum_connection(_connection())
    clock = FakeClock(T0)
    client = _client(optum_url)
    submitted = await use.submit(
        store, client, connection_name="acme", records=RECORDS[:1], now=clock
    )
    state.submissions.clear()  # Optum forgets it: every poll is a 404
    poller = EnrollmentPoller(store=store, client=client, clock=clock)
    current = submitted
    for _ in range(5):
        clock.now = current.next_poll_at or clock.now
        current = await poller.poll(current)
    assert current.status is SubmissionStatus.DEAD
    assert current.reason is not None
    assert current.reason.startswith("not found after 5 polls")
    # Its records are released: corrected or not, they may go again.
    again = await use.submit(store, client, connection_name="acme", records=RECORDS[:1], now=clock)
    assert again.status is SubmissionStatus.POLLING
    await client.aclose()


def test_the_served_app_polls_beside_the_worker_and_publishes_once(
    start_server: StartServer, optum_url: str, state: MockOptumState
) -> None:
    clock = FakeClock(datetime.now(UTC))
    server = start_server(
        run_workers=True,
        clock=clock,
        era_poll_idle_ms=20,
        worker_idle_ms=20,
        optum_discovery_interval_seconds=0,
        optum_base_url=optum_url,
        optum_token_url=optum_url + TOKEN_PATHS[0],
    )
    writer, secret = new_client("enroller", ["enrollment:write"], datetime.now(UTC))
    assert server.store_of is not None
    store = server.store_of()

    async def seed() -> None:
        await store.open()
        try:
            await store.add_client(writer)
            await store.add_optum_connection(_connection())
        finally:
            await store.close()

    asyncio.run(seed())
    answer = server.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(writer.client_id, secret)
    )
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    submitted = server.http.post(
        "/era-enrollments", json={"optum": "acme", "records": RECORDS[:1]}, headers=headers
    ).json()

    async def status() -> SubmissionStatus | None:
        await store.open()
        try:
            found = await store.fetch_era_submission(submitted["id"])
            return None if found is None else found.status
        finally:
            await store.close()

    deadline = time.monotonic() + 20
    current = asyncio.run(status())
    while current is SubmissionStatus.POLLING and time.monotonic() < deadline:
        # Past any backoff (at most an hour, jittered); our own tokens are not used meanwhile.
        clock.now += timedelta(hours=2)
        time.sleep(0.1)
        current = asyncio.run(status())
    assert current is SubmissionStatus.COMPLETE
    assert state.polls[submitted["payloadId"]] == 3

    async def messages() -> list[str]:
        await store.open()
        try:
            page = await store.list_messages(limit=50, cursor=None)
            return [m.type for m in page.items]
        finally:
            await store.close()

    published: list[str] = []
    while time.monotonic() < deadline:
        published = asyncio.run(messages())
        if published:
            break
        time.sleep(0.05)
    assert published == ["era_enrollment.completed"]


@pytest.mark.anyio
async def test_a_503_is_retried_with_optum_trace_id_kept_and_nothing_secret_logged(
    store: Store, optum_url: str, state: MockOptumState, captured: io.StringIO
) -> None:
    await store.add_optum_connection(_connection())
    clock = FakeClock(T0)
    client = _client(optum_url)
    submitted = await use.submit(
        store, client, connection_name="acme", records=RECORDS[:1], now=clock
    )
    state.script.append((503, {}))
    poller = EnrollmentPoller(store=store, client=client, clock=clock)
    clock.now = submitted.next_poll_at or T0
    after = await poller.poll(submitted)
    assert after.status is SubmissionStatus.POLLING
    assert after.trace_id == "133cab33-6839-423e-b554-eeec78c9b3e9"
    assert after.reason is not None
    assert "503" in after.reason
    assert state.polls == {}  # the 503 came before the result was read
    await client.aclose()

    logs = captured.getvalue()
    assert "enrollment.polled" in logs
    for secret in (SECRET, *(token.access_token for token in state.issued)):
        assert secret not in logs
    contact = RECORDS[0]["providerContact"]
    assert contact["contactName"] not in logs
    assert str(RECORDS[0]["providerIdentifiers"]["npi"]) not in logs

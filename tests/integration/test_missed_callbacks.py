"""Missed Coverage Discovery callbacks over real HTTP against the mock Optum, on both stores:
finished tasks whose callback never came are recorded once, with the callback's dedup key,
a pending task holds the cursor until it finishes, and a late callback is a duplicate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from receiver.enrollment.discovery import DiscoverySweeper, cursor_name, next_cursor
from receiver.enrollment.submissions import StoredConnection
from receiver.intake.optum import COVERAGE_DISCOVERY_TYPE, parse_coverage_discovery
from receiver.models import EventFilter, InboundEvent
from receiver.store.base import PROCESS_JOB, Store
from receiver.upstream.optum import OptumClient, OptumConnection, OptumDefaults
from tests.conftest import FIXTURES
from tests.integration.conftest import StartServer
from tests.integration.harness import optum_fixture_headers
from tests.mocks.optum import TOKEN_PATHS, MockOptumState, make_tasks, serve_mock_optum

pytestmark = pytest.mark.anyio

CLIENT_ID = "syn-client-id"
SECRET = "syn-secret-Zq8!x:7"
TENANT = "TESTWINH"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def state() -> MockOptumState:
    mock = MockOptumState(client_id=CLIENT_ID, client_secret=SECRET, tenant_id=TENANT)
    mock.tasks = make_tasks(FIXTURES, 6, start=NOW - timedelta(hours=1))
    return mock


@pytest.fixture
def optum_url(state: MockOptumState) -> Iterator[str]:
    with serve_mock_optum(FIXTURES, state) as url:
        yield url


def _stored(name: str, *, discover: bool) -> StoredConnection:
    return StoredConnection(
        OptumConnection(name=name, tenant_id=TENANT, client_id=CLIENT_ID, client_secret=SECRET),
        created_at=NOW,
        discover_missed=discover,
    )


def _callback(task: dict[str, object], event_id: str) -> InboundEvent:
    """What the callback route stores for `task` (its parser, its tenant header)."""
    return parse_coverage_discovery(
        task,
        event_id=event_id,
        body=json.dumps(task).encode(),
        headers={"x-optum-tenant-id": TENANT},
        received_at=NOW,
    )


async def _discovery_events(store: Store) -> list[str]:
    page = await store.list_events(EventFilter(type=COVERAGE_DISCOVERY_TYPE), limit=50, cursor=None)
    return sorted(event.external_id for event in page.items)


async def test_a_missed_callback_is_recovered_exactly_once(
    store: Store, optum_url: str, state: MockOptumState
) -> None:
    await store.add_optum_connection(_stored("acme", discover=True))
    await store.add_optum_connection(_stored("quiet", discover=False))
    tasks = state.tasks  # statuses: success, failure, pending, success, failure, pending
    # Task 0's callback came.
    assert (await store.record_inbound(_callback(tasks[0], "evt_cb0"), PROCESS_JOB)).created
    client = OptumClient(
        defaults=OptumDefaults(base_url=optum_url, token_url=optum_url + TOKEN_PATHS[0])
    )
    sweeper = DiscoverySweeper(store=store, client=client, clock=lambda: NOW)

    assert await sweeper.run_once() == 3  # tasks 1, 3 and 4; 0 is a duplicate
    assert await _discovery_events(store) == sorted(str(tasks[i]["id"]) for i in (0, 1, 3, 4))
    # The earliest pending task (2) holds the cursor, so it is read again once finished.
    assert await store.fetch_poll_cursor(cursor_name("acme")) == "2026-12-02T11:02:00+00:00"
    assert await store.fetch_poll_cursor(cursor_name("quiet")) is None
    assert all(r.headers["x-optum-tenant-id"] == TENANT for r in state.api_requests())

    assert await sweeper.run_once() == 0  # nothing new
    tasks[2]["status"] = "success"
    assert await sweeper.run_once() == 1
    # A late callback for a swept task is a duplicate: same dedup key.
    late = await store.record_inbound(_callback(tasks[3], "evt_late3"), PROCESS_JOB)
    assert late.created is False
    assert len(await _discovery_events(store)) == 5
    await client.aclose()


def test_the_cursor_stops_at_the_earliest_pending_task_and_never_goes_back() -> None:
    start = NOW - timedelta(hours=1)
    tasks = [
        {"status": "success", "startDateTime": "2026-12-02T11:30:00Z"},
        {"status": "pending", "startDateTime": "2026-12-02T11:10:00Z"},
        {"status": "failure", "startDateTime": "2026-12-02T11:50:00Z"},
    ]
    assert next_cursor(start, tasks, now=NOW) == datetime(2026, 12, 2, 11, 10, tzinfo=UTC)
    assert next_cursor(start, tasks[::2], now=NOW) == datetime(2026, 12, 2, 11, 50, tzinfo=UTC)
    assert next_cursor(start, [], now=NOW) == start
    assert (
        next_cursor(NOW, [{"status": "pending", "startDateTime": "2026-12-02T09:00:00Z"}], now=NOW)
        == NOW
    )


def test_the_callback_route_and_the_sweep_dedup_each_other(
    start_server: StartServer, optum_url: str, state: MockOptumState
) -> None:
    server = start_server()
    assert server.store_of is not None
    store = server.store_of()
    tasks = state.tasks

    def post_callback(task: dict[str, object]) -> int:
        headers = optum_fixture_headers(server.token("optum"))
        headers["x-optum-tenant-id"] = TENANT
        answer = server.http.post(
            "/callbacks/optum/coverage-discovery", content=json.dumps(task), headers=headers
        )
        return answer.status_code

    assert post_callback(tasks[0]) == 204  # task 0's callback came before the sweep

    async def sweep() -> int:
        await store.open()
        client = OptumClient(
            defaults=OptumDefaults(base_url=optum_url, token_url=optum_url + TOKEN_PATHS[0])
        )
        try:
            if await store.fetch_optum_connection("acme") is None:
                await store.add_optum_connection(_stored("acme", discover=True))
            sweeper = DiscoverySweeper(store=store, client=client, clock=lambda: NOW)
            return await sweeper.run_once()
        finally:
            await client.aclose()
            await store.close()

    assert asyncio.run(sweep()) == 3
    assert post_callback(tasks[3]) == 204  # task 3's callback, late: a duplicate
    events = server.events(type=COVERAGE_DISCOVERY_TYPE)
    assert sorted(e["external_id"] for e in events) == sorted(
        str(tasks[i]["id"]) for i in (0, 1, 3, 4)
    )

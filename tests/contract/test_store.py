"""The Store contract: each behaviour asserted once, run against every adapter."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import anyio
import pytest

from receiver.errors import BadRequestError, ConflictError, NotFoundError
from receiver.ids import new_id
from receiver.models import (
    Account,
    AccountCredential,
    Client,
    CredentialKind,
    EventFilter,
    JobFilter,
    Source,
)
from receiver.store.base import PROCESS_JOB, Store
from tests.contract.support import (
    T0,
    make_event,
)

pytestmark = pytest.mark.anyio


class TestRecordInbound:
    async def test_stores_event_with_exact_bytes_and_one_pending_job(self, store: Store) -> None:
        event = make_event(1)
        result = await store.record_inbound(event, PROCESS_JOB)
        assert result.created is True
        assert result.event_id == event.id
        stored = await store.fetch_event(event.id)
        assert stored is not None
        assert stored.body == event.body
        assert stored.headers == event.headers
        assert stored.summary == {"mode": "test", "n": 1}
        assert stored.received_at == event.received_at
        assert (stored.source, stored.type, stored.account, stored.status) == (
            "stedi",
            "transaction.processed.v2",
            "acme",
            "received",
        )
        assert (stored.transaction_id, stored.transaction_set, stored.direction) == (
            "txn-1",
            "835",
            "INBOUND",
        )
        jobs = await store.list_jobs(JobFilter(event_id=event.id), limit=10, cursor=None)
        assert [(j.kind, j.status, j.attempts) for j in jobs.items] == [(PROCESS_JOB, "pending", 0)]
        assert jobs.items[0].next_attempt_at == event.received_at

    async def test_a_job_is_listed_by_its_id_alone(self, store: Store) -> None:
        for n in (1, 2):
            await store.record_inbound(make_event(n), PROCESS_JOB)
        every = await store.list_jobs(JobFilter(), limit=10, cursor=None)
        assert len(every.items) == 2
        for job in every.items:
            found = await store.list_jobs(JobFilter(id=job.id), limit=10, cursor=None)
            assert found.items == [job]
        nothing = await store.list_jobs(JobFilter(id="job_nope"), limit=10, cursor=None)
        assert nothing.items == []

    async def test_duplicate_by_any_key_stores_nothing(self, store: Store) -> None:
        first = make_event(1, keys=("stedi:event:a", "stedi:txn:t1:transaction.processed.v2"))
        await store.record_inbound(first, PROCESS_JOB)
        # Stedi's re-emit: a new event id, the same transaction.
        again = make_event(2, keys=("stedi:event:b", "stedi:txn:t1:transaction.processed.v2"))
        result = await store.record_inbound(again, PROCESS_JOB)
        assert result.created is False
        assert result.event_id == first.id
        assert await store.fetch_event(again.id) is None
        page = await store.list_events(EventFilter(), limit=10, cursor=None)
        assert [e.id for e in page.items] == [first.id]
        jobs = await store.list_jobs(JobFilter(), limit=10, cursor=None)
        assert len(jobs.items) == 1
        # The new event's other key was not stored either: a third event with only it is new.
        third = make_event(3, keys=("stedi:event:b",))
        assert (await store.record_inbound(third, PROCESS_JOB)).created is True

    async def test_concurrent_duplicates_create_exactly_one(self, store: Store) -> None:
        results = []

        async def send(n: int) -> None:
            results.append(await store.record_inbound(make_event(n, keys=("same",)), PROCESS_JOB))

        async with anyio.create_task_group() as tg:
            for n in range(8):
                tg.start_soon(send, n)
        assert sum(r.created for r in results) == 1
        assert len({r.event_id for r in results}) == 1
        jobs = await store.list_jobs(JobFilter(), limit=50, cursor=None)
        assert len(jobs.items) == 1

    async def test_without_job_kind_no_job(self, store: Store) -> None:
        event = make_event(1)
        await store.record_inbound(event, None)
        assert (await store.list_jobs(JobFilter(), limit=10, cursor=None)).items == []

    async def test_fetch_without_body(self, store: Store) -> None:
        event = make_event(1)
        await store.record_inbound(event, PROCESS_JOB)
        stored = await store.fetch_event(event.id, with_body=False)
        assert stored is not None
        assert stored.body is None
        assert await store.fetch_event("evt_missing") is None


class TestListEvents:
    async def test_newest_first_with_cursor_paging(self, store: Store) -> None:
        events = [make_event(n) for n in range(5)]
        for event in events:
            await store.record_inbound(event, PROCESS_JOB)
        first = await store.list_events(EventFilter(), limit=2, cursor=None)
        assert [e.id for e in first.items] == [events[4].id, events[3].id]
        assert first.next_cursor is not None
        second = await store.list_events(EventFilter(), limit=2, cursor=first.next_cursor)
        assert [e.id for e in second.items] == [events[2].id, events[1].id]
        third = await store.list_events(EventFilter(), limit=2, cursor=second.next_cursor)
        assert [e.id for e in third.items] == [events[0].id]
        assert third.next_cursor is None
        assert all(e.body is None for e in first.items)

    async def test_filters(self, store: Store) -> None:
        a = make_event(1)
        b = make_event(2, source=Source.OPTUM, type="coverage_discovery.task", account="tenant")
        c = make_event(3, account="other")
        for event in (a, b, c):
            await store.record_inbound(event, PROCESS_JOB)

        async def ids(**kw: object) -> list[str]:
            page = await store.list_events(EventFilter(**kw), limit=10, cursor=None)  # type: ignore[arg-type]
            return [e.id for e in page.items]

        assert await ids(source="optum") == [b.id]
        assert await ids(type="transaction.processed.v2") == [c.id, a.id]
        assert await ids(account="acme") == [a.id]
        assert await ids(status="received") == [c.id, b.id, a.id]
        assert await ids(status="processed") == []
        assert await ids(since=T0 + timedelta(seconds=2)) == [c.id, b.id]
        assert await ids(until=T0 + timedelta(seconds=2)) == [a.id]
        assert await ids(source="stedi", account="other") == [c.id]
        window = {"since": T0 + timedelta(seconds=2), "until": T0 + timedelta(seconds=3)}
        assert await ids(**window) == [b.id]
        assert await ids(type="transaction.processed.v2", **window) == []
        assert await ids(
            type="transaction.processed.v2", since=T0, until=T0 + timedelta(days=1)
        ) == [
            c.id,
            a.id,
        ]
        empty = {"since": T0 - timedelta(days=2), "until": T0 - timedelta(days=1)}
        assert await ids(**empty) == []

    async def test_a_window_pages_with_the_cursor(self, store: Store) -> None:
        events = [make_event(n) for n in range(1, 6)]
        for event in events:
            await store.record_inbound(event, PROCESS_JOB)
        flt = EventFilter(since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=5))
        first = await store.list_events(flt, limit=2, cursor=None)
        assert [e.id for e in first.items] == [events[3].id, events[2].id]
        rest = await store.list_events(flt, limit=2, cursor=first.next_cursor)
        assert [e.id for e in rest.items] == [events[1].id]
        assert rest.next_cursor is None

    async def test_bad_cursor_and_limit(self, store: Store) -> None:
        with pytest.raises(BadRequestError):
            await store.list_events(EventFilter(), limit=10, cursor="not-a-cursor")
        with pytest.raises(BadRequestError):
            await store.list_events(EventFilter(), limit=0, cursor=None)


class TestClients:
    def client(self, name: str = "optum") -> Client:
        return Client(
            client_id=new_id("cli"),
            name=name,
            scopes=("callbacks:coverage-discovery", "events:read"),
            secret_hash="a" * 64,
            created_at=T0,
        )

    async def test_add_fetch_update_list(self, store: Store) -> None:
        client = self.client()
        await store.add_client(client)
        assert await store.fetch_client(client.client_id) == client
        assert await store.fetch_client_by_name("optum") == client
        rotated = replace(
            client,
            secret_hash="b" * 64,
            previous_secret_hash="a" * 64,
            previous_expires_at=T0 + timedelta(hours=24),
        )
        await store.update_client(rotated)
        assert await store.fetch_client(client.client_id) == rotated
        revoked = replace(rotated, revoked_at=T0 + timedelta(hours=1))
        await store.update_client(revoked)
        assert (await store.fetch_client(client.client_id)) == revoked
        assert [c.name for c in await store.list_clients()] == ["optum"]

    async def test_name_taken_is_conflict(self, store: Store) -> None:
        await store.add_client(self.client())
        with pytest.raises(ConflictError):
            await store.add_client(self.client())

    async def test_update_missing_is_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError):
            await store.update_client(self.client())


class TestAccounts:
    def account(self) -> Account:
        return Account(
            name="acme",
            stedi_account_id="7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6",
            created_at=T0,
            credentials=(
                AccountCredential(CredentialKind.HEADER, "x-api-key", "c" * 64, T0),
                AccountCredential(
                    CredentialKind.DESTINATION,
                    "destination",
                    "whsec_c2VjcmV0",
                    T0,
                    expires_at=T0 + timedelta(hours=1),
                ),
            ),
            api_key="stedi-test-key",
        )

    async def test_add_fetch_update_remove(self, store: Store) -> None:
        account = self.account()
        await store.add_account(account)
        assert await store.fetch_account("acme") == account
        assert await store.list_accounts() == [account]
        changed = replace(account, credentials=account.credentials[:1], api_key=None)
        await store.update_account(changed)
        assert await store.fetch_account("acme") == changed
        with_uuid = replace(
            changed,
            stedi_account_id="123456789012",
            stedi_account_uuid="7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6",
        )
        await store.update_account(with_uuid)
        assert await store.fetch_account("acme") == with_uuid
        assert await store.list_accounts() == [with_uuid]
        assert await store.remove_account("acme") is True
        assert await store.remove_account("acme") is False
        assert await store.fetch_account("acme") is None

    async def test_both_stedi_ids_are_kept(self, store: Store) -> None:
        account = replace(
            self.account(),
            stedi_account_id="123456789012",
            stedi_account_uuid="7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6",
        )
        await store.add_account(account)
        assert await store.fetch_account("acme") == account

    async def test_name_taken_is_conflict(self, store: Store) -> None:
        await store.add_account(self.account())
        with pytest.raises(ConflictError):
            await store.add_account(self.account())


class TestLifecycle:
    async def test_ping_and_migrate_is_idempotent(self, store: Store) -> None:
        await store.ping()
        assert await store.migrate() == []

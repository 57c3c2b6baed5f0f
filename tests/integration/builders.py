"""Builders the dispatch, redeliver and replay tests share: sinks, subscriptions, events."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio

from receiver.auth.clients import new_client
from receiver.clock import utc_now
from receiver.delivery.dispatcher import Dispatcher
from receiver.delivery.sender import Sender
from receiver.delivery.subscriptions import generate_secret
from receiver.ids import new_id
from receiver.metrics import Metrics
from receiver.models import (
    DeliveryFilter,
    JobResult,
    OutboundMessage,
    Subscription,
    SubscriptionStatus,
)
from receiver.net.ssrf import system_resolver
from receiver.store.sqlite import SqliteStore
from tests.contract.support import claimed_job, complete
from tests.integration.harness import LiveServer, run_on_store
from tests.mocks.serving import serve_app
from tests.mocks.sink import SinkState, create_sink

ADMIN_SCOPES = ("subscriptions:write", "events:read", "events:replay")


T = TypeVar("T")


def on_store(path: Path, action: Callable[[SqliteStore], Awaitable[T]]) -> T:
    """Run `action` on a store of its own over the live server's SQLite file."""
    return run_on_store(lambda: SqliteStore(path), action)


FAST = (0, 0.05, 0.05, 0.05, 0.05)


_EVENTS = itertools.count(1)


async def _owed(store: SqliteStore) -> int:
    active = {s.id for s in await store.list_subscriptions() if s.status == "active"}
    page = await store.list_deliveries(DeliveryFilter(), limit=500, cursor=None)
    return sum(
        1
        for d in page.items
        if d.status == "running" or (d.status == "pending" and d.subscription_id in active)
    )


@dataclass
class Sink:
    url: str
    state: SinkState
    secret: str


def _running_sink(name: str) -> Iterator[Sink]:
    secret = generate_secret()
    app, state = create_sink((secret,))
    with serve_app(app, name) as base:
        yield Sink(f"{base}/hook", state, secret)


def make_dispatcher(
    store: SqliteStore,
    *,
    schedule: tuple[float, ...] = FAST,
    timeout: float = 5,
    lease_seconds: int = 30,
    per_subscription: int = 4,
    disable_after: float = 0,
    metrics: Metrics | None = None,
) -> tuple[Dispatcher, Sender]:
    sender = Sender(allow_insecure=True, resolver=system_resolver, timeout_seconds=timeout)
    dispatcher = Dispatcher(
        store=store,
        sender=sender,
        clock=utc_now,
        schedule=schedule,
        lease_seconds=lease_seconds,
        per_subscription=per_subscription,
        disable_after_seconds=disable_after,
        max_retry_after=1,
        metrics=metrics,
        random=lambda: 0.5,
    )
    return dispatcher, sender


async def subscribe(store: SqliteStore, sink: Sink, *patterns: str) -> Subscription:
    now = utc_now()
    sub = Subscription(
        id=new_id("sub"),
        url=sink.url,
        type_patterns=patterns or ("*",),
        account=None,
        description="test",
        secret=sink.secret,
        status=SubscriptionStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    await store.add_subscription(sub)
    return sub


async def publish_event(store: SqliteStore, *types: str) -> tuple[str, list[OutboundMessage]]:
    """An event whose job finished publishing one message per type: its id and messages."""
    messages = [
        OutboundMessage(
            id=new_id("msg"),
            type=type_,
            account="acme",
            data={"pcn": "SYN0001842", "n": n},
            created_at=utc_now(),
        )
        for n, type_ in enumerate(types)
    ]
    job = await claimed_job(store, next(_EVENTS))
    assert await complete(store, job, JobResult(messages=tuple(messages)))
    return job.event_id, messages


async def drain(dispatcher: Dispatcher, store: SqliteStore, *, seconds: float = 10) -> None:
    """Run the dispatcher until nothing is running or pending for an active subscription."""
    with anyio.fail_after(seconds):
        while True:
            await dispatcher.run_once()
            if not await _owed(store):
                return
            await asyncio.sleep(0.02)


JSON = {"content-type": "application/json"}


def dispatch(server: LiveServer) -> None:
    """Run a dispatcher until nothing is owed to an active subscription."""

    async def run(store: SqliteStore) -> None:
        dispatcher, sender = make_dispatcher(store)
        try:
            await drain(dispatcher, store)
        finally:
            await sender.aclose()

    on_store(server.db_path, run)


def publish(server: LiveServer, *types: str) -> tuple[str, list[OutboundMessage]]:
    """An event whose job finished publishing one message per type: its id and messages."""
    return on_store(server.db_path, lambda store: publish_event(store, *types))


def add_subscription(server: LiveServer, sink: Sink, *patterns: str) -> Subscription:
    return on_store(server.db_path, lambda store: subscribe(store, sink, *patterns))


def delivery_detail(server: LiveServer, auth: dict[str, str], message_id: str) -> Any:
    page = server.http.get("/deliveries", params={"message": message_id}, headers=auth)
    assert page.status_code == 200, page.text
    (item,) = page.json()["items"]
    shown = server.http.get(f"/deliveries/{item['id']}", headers=auth)
    assert shown.status_code == 200, shown.text
    return shown.json()


def admin(server: LiveServer, scopes: tuple[str, ...] = ADMIN_SCOPES) -> dict[str, str]:
    """Bearer headers for a client added (to the running server's store) with `scopes`."""

    async def add() -> tuple[str, str]:
        client, secret = new_client(f"admin-{len(scopes)}", scopes, datetime.now(UTC))
        store = SqliteStore(server.db_path)
        await store.open()
        try:
            await store.add_client(client)
        finally:
            await store.close()
        return client.client_id, secret

    client_id, secret = asyncio.run(add())
    resp = server.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def bad(resp: Any, status: int = 400, code: str = "invalid_request", *needles: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == code
    for needle in needles:
        assert needle in body["detail"], body

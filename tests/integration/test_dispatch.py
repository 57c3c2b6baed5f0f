"""The dispatcher over real HTTP: local sink servers verify Standard Webhooks signatures,
fail on cue, go away and come back, while the store records every attempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import anyio
import orjson
import pytest

from receiver.clock import utc_now
from receiver.delivery.subscriptions import generate_secret
from receiver.metrics import Metrics
from receiver.models import (
    DeliveryFilter,
    OutboundMessage,
    SubscriptionStatus,
)
from receiver.store.sqlite import SqliteStore
from tests.integration.builders import (
    Sink,
    _running_sink,
    drain,
    make_dispatcher,
    publish_event,
    subscribe,
)
from tests.mocks.serving import reserve_port, serve_app
from tests.mocks.sink import create_sink

pytestmark = pytest.mark.anyio


@pytest.fixture
def sink() -> Iterator[Sink]:
    yield from _running_sink("sink")


@pytest.fixture
def other_sink() -> Iterator[Sink]:
    yield from _running_sink("other-sink")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "receiver.db")
    await opened.open()
    yield opened
    await opened.close()


async def publish(store: SqliteStore, *types: str) -> list[OutboundMessage]:
    return (await publish_event(store, *types))[1]


async def until(check: Callable[[], bool], seconds: float = 10) -> None:
    """Poll `check` (a condition another thread makes true) until it holds."""
    with anyio.fail_after(seconds):
        while not check():  # noqa: ASYNC110 - the condition lives in another thread
            await asyncio.sleep(0.01)


async def until_async(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    """Poll an async `check` (a store query) until it holds."""
    with anyio.fail_after(seconds):
        while not await check():  # noqa: ASYNC110 - the state is in the database
            await asyncio.sleep(0.02)


async def deliveries(store: SqliteStore, **flt: str) -> list[dict[str, object]]:
    page = await store.list_deliveries(DeliveryFilter(**flt), limit=100, cursor=None)
    return [
        {"status": d.status.value, "attempts": d.attempts, "type": d.type, "id": d.id}
        for d in page.items
    ]


async def test_delivers_a_signed_message_once(store: SqliteStore, sink: Sink) -> None:
    sub = await subscribe(store, sink, "claim.*")
    (ack,) = await publish(store, "claim.acknowledgment.received")
    dispatcher, sender = make_dispatcher(store)
    try:
        assert await dispatcher.run_once() == 1
    finally:
        await sender.aclose()

    (got,) = sink.state.received
    assert got.verified_with == (sink.secret,)  # the standardwebhooks library agrees
    assert got.webhook_id == ack.id
    assert orjson.loads(got.body) == {
        "id": ack.id,
        "type": "claim.acknowledgment.received",
        "timestamp": ack.created_at.isoformat().replace("+00:00", "Z"),
        "account": "acme",
        "data": {"pcn": "SYN0001842", "n": 0},
    }
    assert got.signature.startswith("v1,")
    (row,) = await deliveries(store)
    assert (row["status"], row["attempts"]) == ("delivered", 1)
    (attempt,) = await store.list_attempts(str(row["id"]))
    assert (attempt.attempt, attempt.status_code, attempt.error) == (1, 200, None)
    assert attempt.response_excerpt == '{"ok":true}'
    found = await store.fetch_subscription(sub.id)
    assert found is not None
    assert found.failing_since is None


async def test_a_cookie_the_subscriber_sets_is_never_sent_back(
    store: SqliteStore, sink: Sink
) -> None:
    sink.state.set_cookie = "session=from-the-subscriber; Path=/"
    await subscribe(store, sink, "claim.*")
    dispatcher, sender = make_dispatcher(store)
    try:
        for _ in range(2):  # one after the other, on the subscription's one client
            await publish(store, "claim.acknowledgment.received")
            assert await dispatcher.run_once() == 1
    finally:
        await sender.aclose()
    assert [r.cookie for r in sink.state.received] == [None, None]


async def test_failures_are_retried_with_the_same_webhook_id(
    store: SqliteStore, sink: Sink
) -> None:
    await subscribe(store, sink)
    (msg,) = await publish(store, "claim.remittance.received")
    sink.state.script = [500, 503, 429]
    sink.state.retry_after = "0"
    sink.state.reply = b"x" * 5000
    dispatcher, sender = make_dispatcher(store)
    try:
        await drain(dispatcher, store)
    finally:
        await sender.aclose()

    assert sink.state.ids() == [msg.id] * 4
    assert all(r.verified_with == (sink.secret,) for r in sink.state.received)
    assert len({r.body for r in sink.state.received}) == 1  # byte-identical body
    (row,) = await deliveries(store)
    assert (row["status"], row["attempts"]) == ("delivered", 4)
    attempts = await store.list_attempts(str(row["id"]))
    assert [(a.attempt, a.status_code) for a in attempts] == [
        (1, 500),
        (2, 503),
        (3, 429),
        (4, 200),
    ]
    assert attempts[0].error == "HTTP 500"
    assert attempts[0].response_excerpt == "x" * 1024  # the first 1 KiB only


async def test_budget_spent_makes_the_delivery_dead(store: SqliteStore, sink: Sink) -> None:
    await subscribe(store, sink)
    await publish(store, "claim.file.failed")
    sink.state.script = [500] * 10
    dispatcher, sender = make_dispatcher(store, schedule=(0, 0.01, 0.01))
    try:
        await drain(dispatcher, store)
    finally:
        await sender.aclose()
    (row,) = await deliveries(store)
    assert (row["status"], row["attempts"]) == ("dead", 3)
    assert len(sink.state.received) == 3


async def test_a_timeout_is_an_attempt_that_is_retried(store: SqliteStore, sink: Sink) -> None:
    await subscribe(store, sink)
    await publish(store, "claim.file.failed")
    sink.state.delay_seconds = 1.5
    dispatcher, sender = make_dispatcher(store, timeout=0.3, schedule=(0, 0.01))
    try:
        await drain(dispatcher, store)
    finally:
        await sender.aclose()
    (row,) = await deliveries(store)
    assert row["status"] == "dead"
    attempts = await store.list_attempts(str(row["id"]))
    assert [a.status_code for a in attempts] == [None, None]
    assert all((a.error or "").startswith("timeout") for a in attempts)


async def test_410_disables_the_subscription_and_others_go_on(
    store: SqliteStore, sink: Sink, other_sink: Sink
) -> None:
    gone = await subscribe(store, sink)
    healthy = await subscribe(store, other_sink)
    sink.state.script = [410]
    await publish(store, "a.one")
    metrics = Metrics()
    dispatcher, sender = make_dispatcher(store, metrics=metrics)
    try:
        await drain(dispatcher, store)
        await publish(store, "a.two")
        await drain(dispatcher, store)
    finally:
        await sender.aclose()
    found = await store.fetch_subscription(gone.id)
    assert found is not None
    assert found.status == SubscriptionStatus.DISABLED
    assert found.disabled_reason == "the endpoint answered 410 Gone"
    assert len(sink.state.received) == 1  # nothing after the 410
    assert len(other_sink.state.received) == 2
    pending = await deliveries(store, subscription_id=gone.id)
    assert sorted(str(d["status"]) for d in pending) == ["dead", "pending"]
    assert metrics.subscriptions_disabled.labels("gone")._value.get() == 1
    del healthy


async def test_a_sink_down_for_a_while_gets_everything_once_back(store: SqliteStore) -> None:
    secret = generate_secret()
    app, state = create_sink((secret,))
    sock = reserve_port()  # bound, not listening: connections are refused
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    await subscribe(store, Sink(url, state, secret))
    sent = await publish(store, "claim.a", "claim.b", "claim.c")
    dispatcher, sender = make_dispatcher(store, schedule=(0, 0.05, 0.05, 0.05, 0.3, 0.3, 0.3))
    try:
        for _ in range(3):
            await dispatcher.run_once()
            await asyncio.sleep(0.06)
        assert await store.count_deliveries_by_status() == {"pending": 3}
        with serve_app(app, "sink-back", sock):
            await drain(dispatcher, store)
    finally:
        await sender.aclose()
        sock.close()
    assert sorted(state.ids()) == sorted(m.id for m in sent)
    assert all(r.verified_with == (secret,) for r in state.received)
    assert {str(d["status"]) for d in await deliveries(store)} == {"delivered"}


async def test_a_send_cut_off_mid_flight_is_resent_with_the_same_id(
    store: SqliteStore, sink: Sink
) -> None:
    await subscribe(store, sink)
    (msg,) = await publish(store, "claim.remittance.received")
    sink.state.delay_seconds = 0.5
    first, first_sender = make_dispatcher(store, lease_seconds=1)
    (item,) = await store.claim_due_deliveries(
        now=utc_now(), lease_seconds=1, limit=1, per_subscription=4
    )
    task = asyncio.get_running_loop().create_task(first.deliver(item))
    await until(lambda: bool(sink.state.received))
    task.cancel()  # the dispatcher dies after sending, before recording anything
    with pytest.raises(asyncio.CancelledError):
        await task
    await first_sender.aclose()
    assert await store.count_deliveries_by_status() == {"running": 1}

    sink.state.delay_seconds = 0
    await asyncio.sleep(1.1)  # the lease runs out
    second, second_sender = make_dispatcher(store)
    try:
        await drain(second, store)
    finally:
        await second_sender.aclose()
    assert sink.state.ids() == [msg.id, msg.id]
    (row,) = await deliveries(store)
    assert (row["status"], row["attempts"]) == ("delivered", 1)


async def test_a_dead_sink_does_not_delay_a_healthy_one(
    store: SqliteStore, sink: Sink, other_sink: Sink
) -> None:
    slow = await subscribe(store, sink, "slow.*")
    fast = await subscribe(store, other_sink, "fast.*")
    sink.state.delay_seconds = 3  # every attempt times out
    await publish(store, *(f"slow.{n}" for n in range(6)))
    await publish(store, *(f"fast.{n}" for n in range(6)))
    dispatcher, sender = make_dispatcher(store, timeout=2, per_subscription=2)
    stop = asyncio.Event()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: dispatcher.run_forever(idle_seconds=0.05, stop=stop))

            async def fast_done() -> bool:
                done = await deliveries(store, subscription_id=fast.id, status="delivered")
                return len(done) == 6

            await until_async(fast_done)
            # Everything for the healthy sink arrived before a single slow attempt ended.
            slow_rows = await deliveries(store, subscription_id=slow.id)
            assert all(row["attempts"] == 0 for row in slow_rows)
            assert len(sink.state.received) <= 2  # the per-subscription limit
            stop.set()
    finally:
        await sender.aclose()
    assert len(other_sink.state.received) == 6


async def test_prolonged_failure_disables_the_subscription(store: SqliteStore, sink: Sink) -> None:
    sub = await subscribe(store, sink)
    await publish(store, "a.b")
    sink.state.script = [500] * 10
    metrics = Metrics()
    dispatcher, sender = make_dispatcher(
        store, schedule=(0, 0.2, 0.2, 0.2), disable_after=0.3, metrics=metrics
    )
    try:
        with anyio.fail_after(10):
            while True:
                await dispatcher.run_once()
                found = await store.fetch_subscription(sub.id)
                assert found is not None
                if found.status == SubscriptionStatus.DISABLED:
                    break
                await asyncio.sleep(0.05)
    finally:
        await sender.aclose()
    assert found.disabled_reason is not None
    assert "nothing but failures" in found.disabled_reason
    assert len(sink.state.received) >= 2
    assert metrics.subscriptions_disabled.labels("failing")._value.get() == 1


async def test_during_rotation_both_secrets_sign(store: SqliteStore, sink: Sink) -> None:
    old = sink.secret
    new = generate_secret()
    sink.state.secrets = (old, new)
    sub = await subscribe(store, sink)
    now = utc_now()
    await store.update_subscription(
        replace(sub, secret=new, previous_secret=old, previous_expires_at=now + timedelta(hours=1))
    )
    await publish(store, "a.b")
    dispatcher, sender = make_dispatcher(store)
    try:
        await drain(dispatcher, store)
    finally:
        await sender.aclose()
    (got,) = sink.state.received
    assert got.verified_with == (old, new)  # a consumer on either secret accepts it
    assert len(got.signature.split(" ")) == 2


async def test_after_the_grace_period_only_the_new_secret_signs(
    store: SqliteStore, sink: Sink
) -> None:
    old = sink.secret
    new = generate_secret()
    sink.state.secrets = (old, new)
    sub = await subscribe(store, sink)
    expired: datetime = utc_now() - timedelta(seconds=1)
    await store.update_subscription(
        replace(sub, secret=new, previous_secret=old, previous_expires_at=expired)
    )
    await publish(store, "a.b")
    dispatcher, sender = make_dispatcher(store)
    try:
        await drain(dispatcher, store)
    finally:
        await sender.aclose()
    (got,) = sink.state.received
    assert got.verified_with == (new,)

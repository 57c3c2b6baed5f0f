"""`receiver events tail`: follow new events live by polling the store every second."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import click
import orjson

from receiver.cli.base import load_or_exit, refuse_missing_database
from receiver.clock import utc_now
from receiver.errors import ReceiverError
from receiver.models import EventFilter, StoredEvent
from receiver.ops.events import event_json
from receiver.store.base import Store
from receiver.store.factory import build_store

# Replicas stamp received_at with their own clocks and commit in any order: each poll looks
# this far back and skips what it already printed, so a late commit is still shown.
LOOKBACK = timedelta(seconds=10)
PAGE = 500


class Received(Protocol):
    """What `fresh` needs of an event."""

    @property
    def id(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...


E = TypeVar("E", bound=Received)


def fresh(
    page: Sequence[E], seen: dict[str, datetime], horizon: datetime
) -> tuple[list[E], dict[str, datetime]]:
    """The events of a newest-first `page` not yet printed, oldest first, and the ids to
    remember (those received after `horizon`, the start of the next poll's window)."""
    new = [e for e in reversed(page) if e.id not in seen]
    kept = {i: at for i, at in seen.items() if at >= horizon}
    kept.update({e.id: e.received_at for e in new if e.received_at >= horizon})
    return new, kept


def line(event: StoredEvent, as_json: bool) -> str:
    """One event as a JSON line or an aligned text row."""
    if as_json:
        return orjson.dumps(event_json(event)).decode()
    at = event.received_at
    return "  ".join(
        [
            f"{at:%Y-%m-%d %H:%M:%S}Z",
            event.id,
            event.source.ljust(6),
            event.type,
            event.account or "-",
            event.status,
        ]
    )


async def follow(store: Store, as_json: bool, interval: float = 1.0) -> None:
    """Print every event received from now on, oldest first, until cancelled."""
    newest = utc_now()
    seen: dict[str, datetime] = {}
    first = True
    while True:
        flt = EventFilter(since=newest - LOOKBACK)
        page = await store.list_events(flt, limit=PAGE, cursor=None)
        newest = max([newest, *(e.received_at for e in page.items)])
        new, seen = fresh(page.items, seen, newest - LOOKBACK)
        if not first:  # what was there before the tail started is not news
            for event in new:
                click.echo(line(event, as_json))
        first = False
        await asyncio.sleep(interval)


def tail(as_json: bool) -> None:
    """Run `follow` on the configured store; Ctrl-C stops it with exit 0."""
    settings = load_or_exit()
    refuse_missing_database(settings)

    async def run() -> None:
        store = build_store(settings)
        await store.open()
        try:
            await follow(store, as_json)
        finally:
            await store.close()

    if not as_json:
        click.echo("following new events; Ctrl-C to stop", err=True)
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return
    except ReceiverError as exc:
        raise click.ClickException(exc.detail) from None

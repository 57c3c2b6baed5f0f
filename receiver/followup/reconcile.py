"""Reconciliation: poll Stedi's transaction list for 277/835/837 transactions whose webhook
never arrived, and record them as inbound events (deduplicated by transaction id)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import structlog

from receiver.clock import Clock
from receiver.ids import new_id
from receiver.intake.stedi import (
    is_valid_id,
    transaction_dedup_key,
    transaction_set_of,
    x12_summary,
)
from receiver.models import Account, InboundEvent, Source
from receiver.store.base import PROCESS_JOB
from receiver.store.ports import ReconcileStore
from receiver.upstream.stedi import StediClient, UpstreamError, iso_z

_log = structlog.get_logger("receiver.followup.reconcile")

TRANSACTION_TYPE = "transaction.processed.v2"
# (direction, transaction set) pairs a poll turns into events: the inbound 277CA and 835
# reports, and submitted 837s (their file starts the claim timeline), which Stedi lists as
# OUTBOUND or as INBOUND (the X12 then is the transaction's input).
RECONCILED = frozenset(
    {("INBOUND", "277"), ("INBOUND", "835"), ("OUTBOUND", "837"), ("INBOUND", "837")}
)
MAX_PAGES_PER_RUN = 20
PAGE_SIZE = 100
# Stedi requires startDateTime at least one minute in the past.
MIN_LAG = timedelta(seconds=60)
PAGE_PREFIX = "page:"
TIME_PREFIX = "time:"


def cursor_name(account: Account) -> str:
    """The poll cursor's name for an account."""
    return f"stedi-poll:{account.name}"


def _parse_time(value: object) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime, or None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def events_from_poll(
    items: list[object],
    *,
    account: Account,
    received_at: datetime,
    new_event_id: Callable[[], str],
) -> list[InboundEvent]:
    """The events for a poll page's succeeded INBOUND 277 and 835 and INBOUND or OUTBOUND 837
    transactions.

    Each event's dedup key is the one a `transaction.processed.v2` webhook for the same
    transaction gets, so whichever arrives second is a duplicate. Summaries hold ids only.
    """
    events: list[InboundEvent] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        transaction_id = item.get("transactionId")
        if not is_valid_id(transaction_id):
            continue
        direction = item.get("direction")
        transaction_set = transaction_set_of(item)
        if item.get("status") != "succeeded" or (direction, transaction_set) not in RECONCILED:
            continue
        file_execution_id = item.get("fileExecutionId")
        summary: dict[str, object] = {
            "reconciled": True,
            "stedi_account_id": account.stedi_account_id,
            "detail_type": TRANSACTION_TYPE,
            "file_execution_id": file_execution_id if is_valid_id(file_execution_id) else None,
            **x12_summary(item),
        }
        events.append(
            InboundEvent(
                id=new_event_id(),
                source=Source.STEDI,
                type=TRANSACTION_TYPE,
                account=account.name,
                external_id=f"poll:{transaction_id}",
                dedup_keys=(transaction_dedup_key(account.name, transaction_id, TRANSACTION_TYPE),),
                body=orjson.dumps(item),
                headers={},
                received_at=received_at,
                transaction_id=transaction_id,
                transaction_set=transaction_set,
                direction=str(direction),
                summary=summary,
            )
        )
    return events


class Reconciler:
    """Polls each Stedi account that has an API key from its stored cursor."""

    def __init__(
        self,
        *,
        store: ReconcileStore,
        stedi: StediClient,
        clock: Clock,
        interval_seconds: int,
        max_pages: int = MAX_PAGES_PER_RUN,
        page_size: int = PAGE_SIZE,
        new_event_id: Callable[[], str] = lambda: new_id("evt"),
    ) -> None:
        self._store = store
        self._stedi = stedi
        self._clock = clock
        self._interval = interval_seconds
        self._max_pages = max_pages
        self._page_size = page_size
        self._new_event_id = new_event_id

    async def run_once(self) -> int:
        """Poll every account with an API key; return how many new events were recorded.

        An upstream failure for one account is logged, leaves its cursor as it was, and does
        not stop the others."""
        created = 0
        for account in await self._store.list_accounts():
            if not account.api_key:
                continue
            try:
                created += await self._reconcile(account, account.api_key)
            except UpstreamError as exc:
                _log.warning(
                    "reconcile.failed",
                    account=account.name,
                    reason=exc.reason,
                    status=exc.status,
                )
        return created

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Every `interval_seconds` (first after one interval), `run_once` until `stop` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await stop.wait()
            if stop.is_set():
                break
            try:
                await self.run_once()
            except Exception as exc:  # the store may be briefly unavailable
                _log.warning("reconcile.run_failed", error=type(exc).__name__)

    async def _reconcile(self, account: Account, api_key: str) -> int:
        now = self._clock()
        latest_start = now - MIN_LAG
        default_start = now - timedelta(seconds=self._interval) - MIN_LAG
        name = cursor_name(account)
        stored = await self._store.fetch_poll_cursor(name)
        page_token: str | None = None
        start: datetime | None = None
        if stored is not None and stored.startswith(PAGE_PREFIX) and len(stored) > 5:
            page_token = stored.removeprefix(PAGE_PREFIX)
        elif stored is not None and stored.startswith(TIME_PREFIX):
            start = _parse_time(stored.removeprefix(TIME_PREFIX))
        if page_token is None:
            start = min(start or default_start, latest_start)

        created = 0
        newest: datetime | None = None
        for _ in range(self._max_pages):
            page = await self._stedi.poll_transactions(
                account=account.name,
                api_key=api_key,
                start_date_time=None if page_token is not None else start,
                page_token=page_token,
                page_size=self._page_size,
                now=now,
            )
            raw_items = page.get("items")
            items: list[object] = raw_items if isinstance(raw_items, list) else []
            for item in items:
                raw_time = item.get("processedAt") if isinstance(item, dict) else None
                processed_at = _parse_time(raw_time)
                if processed_at is not None and (newest is None or processed_at > newest):
                    newest = processed_at
            for event in events_from_poll(
                items, account=account, received_at=now, new_event_id=self._new_event_id
            ):
                recorded = await self._store.record_inbound(event, PROCESS_JOB)
                if recorded.created:
                    created += 1
                    _log.info(
                        "reconcile.event_created",
                        account=account.name,
                        event_id=recorded.event_id,
                        transaction_id=event.transaction_id,
                    )
            next_token = page.get("nextPageToken")
            page_token = next_token if isinstance(next_token, str) and next_token else None
            if page_token is None:
                break

        if page_token is not None:
            value = PAGE_PREFIX + page_token
        else:
            candidates = [t for t in (start, newest) if t is not None]
            resume = max(candidates) if candidates else default_start
            value = TIME_PREFIX + iso_z(min(resume, latest_start))
        await self._store.save_poll_cursor(name, value, now)
        _log.info("reconcile.polled", account=account.name, created=created)
        return created

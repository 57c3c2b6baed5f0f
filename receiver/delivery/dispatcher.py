"""The dispatcher: claim due deliveries, sign, POST, record the attempt and what comes next."""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import Callable, Sequence

import structlog

from receiver.clock import Clock
from receiver.delivery.rules import decide_after_attempt, message_body, signature_headers
from receiver.delivery.sender import Sender, SendResult
from receiver.metrics import Metrics
from receiver.models import AttemptOutcome, ClaimedDelivery, DeliveryAttempt, DeliveryStatus
from receiver.pump import Wakeup, pump
from receiver.store.ports import DeliveryQueue

_log = structlog.get_logger("receiver.delivery.dispatcher")


class Dispatcher:
    """Delivers published messages to subscriptions, at least once, one attempt at a time.

    Up to `max_in_flight` attempts run at once, and no subscription gets more than
    `per_subscription` of them, so a slow or dead endpoint cannot hold up the others.
    """

    def __init__(
        self,
        *,
        store: DeliveryQueue,
        sender: Sender,
        clock: Clock,
        schedule: Sequence[float],
        lease_seconds: int,
        per_subscription: int,
        disable_after_seconds: float,
        max_retry_after: float,
        max_in_flight: int = 64,
        metrics: Metrics | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock
        self._schedule = tuple(schedule)
        self._lease_seconds = lease_seconds
        self._per_subscription = max(1, per_subscription)
        self._disable_after = disable_after_seconds
        self._max_retry_after = max_retry_after
        self._max_in_flight = max(1, max_in_flight)
        self._metrics = metrics
        self._random = random

    async def _claim(self, limit: int) -> list[ClaimedDelivery]:
        return await self._store.claim_due_deliveries(
            now=self._clock(),
            lease_seconds=self._lease_seconds,
            limit=limit,
            per_subscription=self._per_subscription,
        )

    async def run_once(self) -> int:
        """Claim what is due (up to the in-flight bound), deliver it all; return how many."""
        claimed = await self._claim(self._max_in_flight)
        async with asyncio.TaskGroup() as group:
            for item in claimed:
                group.create_task(self._deliver_safely(item))
        return len(claimed)

    async def run_forever(
        self, *, idle_seconds: float, stop: asyncio.Event, wakeup: Wakeup | None = None
    ) -> None:
        """Keep up to `max_in_flight` attempts running until `stop`; a finished attempt or
        `wakeup` (new messages) makes it look for more at once, otherwise every
        `idle_seconds`. In-flight attempts are finished before returning."""
        await pump(
            name="dispatcher",
            claim=self._claim,
            handle=self._deliver_safely,
            max_in_flight=self._max_in_flight,
            idle_seconds=idle_seconds,
            stop=stop,
            wakeup=wakeup or Wakeup(),
        )

    async def _deliver_safely(self, item: ClaimedDelivery) -> None:
        try:
            await self.deliver(item)
        except Exception as exc:  # recorded nowhere else: the lease expiry retries it
            _log.error("delivery.crashed", delivery_id=item.delivery.id, error=type(exc).__name__)

    async def deliver(self, item: ClaimedDelivery) -> None:
        """One attempt: sign, POST, then record the attempt and the next state."""
        delivery, subscription = item.delivery, item.subscription
        lease_until = delivery.lease_until
        if lease_until is None:
            return
        started = self._clock()
        body = message_body(item.message)
        headers = signature_headers(
            message_id=item.message.id,
            body=body,
            secrets=subscription.signing_secrets(started),
            at=started,
        )
        result = await self._sender.post(
            pool_key=subscription.id, url=subscription.url, body=body, headers=headers, now=started
        )
        now = self._clock()
        decision = decide_after_attempt(
            status_code=result.status_code,
            attempts_before=delivery.attempts,
            now=now,
            schedule=self._schedule,
            retry_after=result.retry_after,
            max_retry_after=self._max_retry_after,
            failing_since=subscription.failing_since,
            disable_after_seconds=self._disable_after,
            random=self._random,
        )
        outcome = AttemptOutcome(
            attempt=DeliveryAttempt(
                delivery_id=delivery.id,
                attempt=delivery.attempts + 1,
                started_at=started,
                duration_ms=result.duration_ms,
                status_code=result.status_code,
                response_excerpt=result.excerpt,
                error=_error_of(result),
            ),
            next_status=decision.status,
            next_attempt_at=decision.next_attempt_at,
            disable=decision.disable,
        )
        recorded = await self._store.finish_delivery(
            delivery.id, now=now, lease_until=lease_until, outcome=outcome
        )
        self._observe(item, result, decision.status, recorded)
        if recorded and decision.disable is not None:
            _log.warning(
                "subscription.disabled", subscription_id=subscription.id, reason=decision.disable
            )
            if self._metrics is not None:
                reason = "gone" if result.status_code == 410 else "failing"
                self._metrics.subscriptions_disabled.labels(reason).inc()

    def _observe(
        self,
        item: ClaimedDelivery,
        result: SendResult,
        status: DeliveryStatus,
        recorded: bool,
    ) -> None:
        outcome = status.value if recorded else "lease_lost"
        _log.info(
            "delivery.attempted",
            delivery_id=item.delivery.id,
            message_id=item.message.id,
            subscription_id=item.subscription.id,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            outcome=outcome,
        )
        if self._metrics is None:
            return
        self._metrics.delivery_attempts.labels(outcome).inc()
        self._metrics.delivery_seconds.observe(result.duration_ms / 1000)
        if recorded and status == DeliveryStatus.DELIVERED:
            lag = (self._clock() - item.message.created_at).total_seconds()
            self._metrics.delivery_lag_seconds.observe(max(lag, 0.0))


def _error_of(result: SendResult) -> str | None:
    if result.error is not None:
        return result.error
    if result.status_code is not None and not 200 <= result.status_code < 300:
        return f"HTTP {result.status_code}"
    return None

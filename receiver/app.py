"""create_app: the one place where concrete parts (store, keys, clock, metrics) are built."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypedDict

import httpx
import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from receiver.auth.cache import TokenCache
from receiver.auth.directory import Directory
from receiver.auth.keyring import KeyRing
from receiver.auth.keys import create_key_file
from receiver.auth.throttle import FailureThrottle
from receiver.clock import Clock, utc_now
from receiver.crypto import KekSet
from receiver.delivery.dispatcher import Dispatcher
from receiver.delivery.sender import Sender
from receiver.eligibility.poller import EligibilityPoller
from receiver.enrollment.discovery import DiscoverySweeper
from receiver.enrollment.poller import EnrollmentPoller
from receiver.errors import ConfigError, ReceiverError, StoreUnavailableError
from receiver.followup.reconcile import Reconciler
from receiver.followup.worker import Worker
from receiver.metrics import Metrics
from receiver.net.ssrf import Resolver, system_resolver
from receiver.ops.retention import run_retention
from receiver.policy import RetryPolicy, parse_schedule
from receiver.pump import Wakeup
from receiver.settings import Settings
from receiver.store.base import Store
from receiver.store.sealing import build_sealed_store
from receiver.upstream.optum import OptumClient, OptumDefaults
from receiver.upstream.stedi import StediClient
from receiver.upstream.stedi_eligibility import StediEligibilityClient
from receiver.web import (
    audit,
    deliveries,
    eligibility,
    enrollment,
    intake,
    oauth,
    openapi,
    ops,
    replays,
    reprocess,
    subscriptions,
)
from receiver.web.errors import http_error, receiver_error
from receiver.web.middleware import RequestIdMiddleware
from receiver.web.services import Services

_log = structlog.get_logger("receiver.app")


class State(TypedDict):
    """What the lifespan hands every request as `request.state`."""

    services: Services


ROUTES = [
    Route("/oauth/token", oauth.token, methods=["POST"]),
    Route("/.well-known/jwks.json", oauth.jwks_document, methods=["GET"]),
    Route("/.well-known/oauth-authorization-server", oauth.server_metadata, methods=["GET"]),
    Route("/callbacks/optum/coverage-discovery", intake.optum_coverage_discovery, methods=["POST"]),
    Route("/webhooks/stedi/{account}", intake.stedi_webhook, methods=["POST"]),
    Route(
        "/webhooks/stedi/{account}/event-destinations",
        intake.stedi_destination,
        methods=["POST"],
    ),
    Route("/events", ops.list_events, methods=["GET"]),
    Route("/events/{id}", ops.show_event, methods=["GET"]),
    Route("/events/{id}/redeliver", deliveries.redeliver_event, methods=["POST"]),
    Route("/replays", replays.create_replay, methods=["POST"]),
    Route("/jobs", ops.list_jobs, methods=["GET"]),
    Route("/claims/{pcn}", ops.claim_timeline, methods=["GET"]),
    Route("/era-enrollments", enrollment.create_submission, methods=["POST"]),
    Route("/era-enrollments/{id}", enrollment.show_submission, methods=["GET"]),
    Route("/eligibility/checks", eligibility.create_check, methods=["POST"]),
    Route("/eligibility/batches", eligibility.create_batch, methods=["POST"]),
    Route("/eligibility/batches/{id}", eligibility.show_batch, methods=["GET"]),
    Route("/subscriptions", subscriptions.collection, methods=["GET", "POST"]),
    Route("/subscriptions/{id}", subscriptions.item, methods=["GET", "DELETE"]),
    Route("/subscriptions/{id}/rotate-secret", subscriptions.rotate_secret, methods=["POST"]),
    Route("/subscriptions/{id}/enable", subscriptions.enable_subscription, methods=["POST"]),
    Route("/deliveries", deliveries.list_deliveries, methods=["GET"]),
    Route("/deliveries/{id}", deliveries.show_delivery, methods=["GET"]),
    Route("/deliveries/{id}/retry", deliveries.retry_delivery, methods=["POST"]),
    Route("/healthz", ops.healthz, methods=["GET"]),
    Route("/readyz", ops.readyz, methods=["GET"]),
    Route("/metrics", ops.metrics, methods=["GET"]),
    Route("/openapi.json", openapi.document, methods=["GET"]),
    Route("/audit", audit.list_audit, methods=["GET"]),
    Route("/events/{id}/reprocess", reprocess.reprocess, methods=["POST"]),
]


def build_worker(
    settings: Settings,
    store: Store,
    clock: Clock,
    *,
    stedi_transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = system_resolver,
    metrics: Metrics | None = None,
    published: Wakeup | None = None,
) -> tuple[Worker, StediClient]:
    """The follow-up worker and the Stedi client it owns (the caller closes the client)."""
    stedi = StediClient(
        healthcare_url=settings.stedi_healthcare_url,
        core_url=settings.stedi_core_url,
        transport=stedi_transport,
        metrics=metrics,
        max_concurrency_per_account=max(1, settings.stedi_max_concurrency),
        download_hosts=settings.stedi_download_hosts,
        max_response_bytes=settings.stedi_max_response_bytes,
        resolver=resolver,
        allow_private_downloads=settings.allow_insecure_destinations,
        outbound_http=settings.outbound_http,
    )
    worker = Worker(
        store=store,
        stedi=stedi,
        policy=RetryPolicy(base_seconds=settings.job_retry_base_seconds),
        clock=clock,
        lease_seconds=settings.worker_lease_seconds,
        metrics=metrics,
        published=published,
        republish=store.requeue_event_deliveries,
    )
    return worker, stedi


def build_eligibility_client(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    metrics: Metrics | None = None,
) -> StediEligibilityClient:
    """The Stedi eligibility client (the caller closes it)."""
    return StediEligibilityClient(
        healthcare_url=settings.stedi_healthcare_url,
        manager_url=settings.stedi_manager_url,
        transport=transport,
        max_in_flight_per_account=settings.eligibility_max_in_flight,
        max_response_bytes=settings.stedi_max_response_bytes,
        metrics=metrics,
        outbound_http=settings.outbound_http,
    )


def build_optum_client(settings: Settings) -> OptumClient:
    """The Optum client, on the configured hosts (the caller closes it)."""
    return OptumClient(
        defaults=OptumDefaults(
            base_url=settings.optum_base_url, token_url=settings.optum_token_url
        ),
        outbound_http=settings.outbound_http,
    )


def build_dispatcher(
    settings: Settings,
    store: Store,
    clock: Clock,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = system_resolver,
    metrics: Metrics | None = None,
) -> tuple[Dispatcher, Sender]:
    """The delivery dispatcher and the HTTP sender it owns (the caller closes the sender)."""
    sender = Sender(
        allow_insecure=settings.allow_insecure_destinations,
        resolver=resolver,
        timeout_seconds=settings.delivery_timeout_seconds,
        connections_per_pool=settings.subscription_max_concurrency,
        transport=transport,
        outbound_http=settings.outbound_http,
    )
    dispatcher = Dispatcher(
        store=store,
        sender=sender,
        clock=clock,
        schedule=parse_schedule(settings.delivery_schedule),
        lease_seconds=settings.worker_lease_seconds,
        per_subscription=settings.subscription_max_concurrency,
        disable_after_seconds=settings.subscription_disable_after_seconds,
        max_retry_after=settings.delivery_max_retry_after_seconds,
        metrics=metrics,
    )
    return dispatcher, sender


@asynccontextmanager
async def running_worker(
    settings: Settings,
    store: Store,
    clock: Clock,
    *,
    metrics: Metrics | None = None,
    wakeup: Wakeup | None = None,
    dispatch_wakeup: Wakeup | None = None,
    eligibility_client: StediEligibilityClient | None = None,
    optum: OptumClient | None = None,
) -> AsyncIterator[None]:
    """Run the worker, the dispatcher, reconciliation, the eligibility and ERA enrollment
    pollers, the missed-callback sweep and retention in the background for the block's
    duration. `wakeup` tells the worker of new events; the worker tells the dispatcher of new
    messages through `dispatch_wakeup`. The Stedi eligibility and Optum clients are the
    caller's when given (`serve` shares the web routes' ones: one Optum token per process),
    else built here and closed at the end."""
    dispatch_wakeup = dispatch_wakeup or Wakeup()
    worker_wakeup = wakeup or Wakeup()
    worker, stedi = build_worker(settings, store, clock, metrics=metrics, published=dispatch_wakeup)
    dispatcher, sender = build_dispatcher(settings, store, clock, metrics=metrics)
    if settings.worker_lease_seconds <= settings.delivery_timeout_seconds:
        _log.warning(
            "dispatcher.lease_too_short",
            lease_seconds=settings.worker_lease_seconds,
            timeout_seconds=settings.delivery_timeout_seconds,
        )
    stop_listening = await _listen(store, worker_wakeup, dispatch_wakeup)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    idle = settings.worker_idle_ms / 1000
    tasks = [
        loop.create_task(worker.run_forever(idle_seconds=idle, stop=stop, wakeup=worker_wakeup)),
        loop.create_task(
            dispatcher.run_forever(idle_seconds=idle, stop=stop, wakeup=dispatch_wakeup)
        ),
    ]
    if settings.reconcile_interval_seconds > 0:
        reconciler = Reconciler(
            store=store,
            stedi=stedi,
            clock=clock,
            interval_seconds=settings.reconcile_interval_seconds,
        )
        tasks.append(loop.create_task(reconciler.run_forever(stop)))
    own_clients = eligibility_client is None or optum is None
    if eligibility_client is None or optum is None:
        eligibility_client = build_eligibility_client(settings, metrics=metrics)
        optum = build_optum_client(settings)
    poller = EligibilityPoller(
        store=store,
        client=eligibility_client,
        clock=clock,
        schedule=settings.eligibility_poll_schedule,
        page_size=settings.eligibility_poll_page_size,
        lease_seconds=settings.eligibility_poll_lease_seconds,
        published=worker_wakeup,
    )
    idle_poll = settings.eligibility_poll_idle_ms / 1000
    tasks.append(loop.create_task(poller.run_forever(stop, idle_seconds=idle_poll)))
    if settings.retention_days > 0:
        tasks.append(
            loop.create_task(run_retention(store, clock, days=settings.retention_days, stop=stop))
        )
    enrollment_poller = EnrollmentPoller(
        store=store, client=optum, clock=clock, published=worker_wakeup
    )
    era_idle = settings.era_poll_idle_ms / 1000
    tasks.append(loop.create_task(enrollment_poller.run_forever(stop, idle_seconds=era_idle)))
    if settings.optum_discovery_interval_seconds > 0:
        sweeper = DiscoverySweeper(store=store, client=optum, clock=clock, published=worker_wakeup)
        interval = settings.optum_discovery_interval_seconds
        tasks.append(loop.create_task(sweeper.run_forever(stop, interval_seconds=interval)))
    _log.info("worker.started")
    try:
        yield
    finally:
        await stop_listening()
        stop.set()
        worker_wakeup.notify()
        dispatch_wakeup.notify()
        for task in tasks:
            await task
        await stedi.aclose()
        if own_clients:
            await optum.aclose()
            await eligibility_client.aclose()
        await sender.aclose()
        _log.info("worker.stopped")


async def _listen(
    store: Store, worker_wakeup: Wakeup, dispatch_wakeup: Wakeup
) -> Callable[[], Awaitable[None]]:
    """Wake the loops on work committed by other processes; without it they still poll."""
    try:
        return await store.listen(
            on_jobs=worker_wakeup.notify, on_deliveries=dispatch_wakeup.notify
        )
    except StoreUnavailableError as exc:
        _log.warning("worker.listen_failed", error=type(exc).__name__)

        async def nothing() -> None:
            return None

        return nothing


def build_key_ring(settings: Settings) -> KeyRing:
    """The token signing keys, from RECEIVER_SIGNING_KEY_PATH. On SQLite a missing key file is
    created (beside the database unless configured); on PostgreSQL, where several replicas
    must sign and verify with the same keys, the file must be configured and exist, since a
    key each process made for itself would refuse every other replica's tokens."""
    path = settings.resolved_signing_key_path
    if settings.is_sqlite:
        create_key_file(path)
    elif not settings.signing_key_path:
        raise ConfigError(
            "RECEIVER_SIGNING_KEY_PATH is not set: on PostgreSQL every replica must sign and "
            "verify tokens with the same keys, so each must read one shared key file. Create "
            "it with `receiver keys generate PATH`, mount it into every replica and set "
            "RECEIVER_SIGNING_KEY_PATH to it"
        )
    elif not path.exists():
        raise ConfigError(
            f"RECEIVER_SIGNING_KEY_PATH: {path} does not exist; create it with "
            f"`receiver keys generate {path}` and give every replica the same file"
        )
    return KeyRing(
        path,
        token_ttl_seconds=settings.token_ttl_seconds,
        reload_seconds=settings.signing_key_reload_seconds,
    )


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock = utc_now,
    keys: KeyRing | None = None,
    keks: KekSet | None = None,
    run_workers: bool = False,
    freeze_heap: bool = False,
) -> Starlette:
    """The ASGI app. The store is opened (and migrated) by the lifespan and closed after;
    `keys` defaults to `build_key_ring(settings)`, built by the lifespan, and `keks` (the
    key-encryption keys of a store built here) to the file the settings name; with `run_workers`,
    the follow-up worker runs in the same process; with `freeze_heap`, what start-up
    allocated is frozen out of full collections (`receiver serve`)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        opened = store or build_sealed_store(settings, keks)
        await opened.open()
        metrics = Metrics()
        eligibility_client = build_eligibility_client(settings, metrics=metrics)
        optum = build_optum_client(settings)
        try:
            services = Services(
                settings=settings,
                metrics=metrics,
                store=opened,
                keys=keys or build_key_ring(settings),
                clock=clock,
                throttle=FailureThrottle(
                    settings.auth_failure_limit, settings.auth_failure_window_seconds
                ),
                directory=Directory(
                    opened, ttl_seconds=settings.directory_cache_seconds, clock=clock
                ),
                tokens=TokenCache(settings.token_cache_size),
                eligibility=eligibility_client,
                optum=optum,
            )
            _log.info("app.started", store="sqlite" if settings.is_sqlite else "postgres")
            if freeze_heap:
                freeze_startup_heap()
            if run_workers:
                async with running_worker(
                    settings,
                    opened,
                    clock,
                    metrics=services.metrics,
                    wakeup=services.wakeup,
                    dispatch_wakeup=services.dispatch_wakeup,
                    eligibility_client=eligibility_client,
                    optum=optum,
                ):
                    yield {"services": services}
            else:
                yield {"services": services}
        finally:
            await eligibility_client.aclose()
            await optum.aclose()
            await opened.close()

    return Starlette(
        routes=ROUTES,
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={
            ReceiverError: receiver_error,
            HTTPException: http_error,
        },
        lifespan=lifespan,
    )


def freeze_startup_heap() -> None:
    """Collect once, then move every surviving object out of the cyclic collector's reach.

    A full (generation 2) collection walks every tracked object; after start-up that is the
    imported modules, the app and the settings, which live as long as the process. Under bench
    load those walks were 16 pauses of up to 38 ms of the whole event loop in 20,000 requests
    (the intake p99); frozen, the longest was 1 ms. Objects created later are collected as
    usual. Only `serve` and `worker` call this: a test process builds many apps and must not
    pin their garbage.
    """
    gc.collect()
    gc.freeze()

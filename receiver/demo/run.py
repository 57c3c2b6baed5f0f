"""`receiver demo`: receiver on a temporary SQLite database between local stand-ins for Stedi,
Optum and a subscriber, with the fixtures pushed through and each stage printed as it happens."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from receiver.app import create_app
from receiver.auth.clients import new_client
from receiver.auth.keys import create_key_file
from receiver.clock import utc_now
from receiver.delivery.subscriptions import create_subscription
from receiver.demo import packaged_fixtures
from receiver.demo.serving import reserve_port, serve_app
from receiver.demo.sink import SinkState, create_sink
from receiver.demo.stages import describe_delivery, describe_event, describe_fetch
from receiver.demo.stedi import MockStediState, create_mock_stedi
from receiver.intake.stedi import hash_credential
from receiver.models import Account, AccountCredential, CredentialKind
from receiver.net.ssrf import system_resolver
from receiver.settings import Settings, load_settings
from receiver.store.sqlite import SqliteStore

ACCOUNT = "acme"
STEDI_ACCOUNT_ID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"
INBOUND_HEADER = "x-api-key"
OPS_SCOPES = ("events:read", "events:replay", "subscriptions:write")
MESSAGE_TYPES = ("claim.*", "coverage_discovery.*")
WEBHOOK_277 = "stedi/transaction-processed-v2.inbound-277ca.webhook.json"
WEBHOOK_835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"
OPTUM_BODY = "optum/coverage-discovery.callback.success.json"
OPTUM_HEADERS = "optum/coverage-discovery.callback.request-headers.example.json"
POLL_PAGE = "stedi/poll-transactions.response.json"
STEP_TIMEOUT_S = 20.0


class DemoError(Exception):
    """A stage did not happen in time, or was answered unexpectedly."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the demo seeded: the Optum and ops clients, Stedi's secrets, the subscription's."""

    optum: tuple[str, str]
    ops: tuple[str, str]
    inbound_secret: str
    stedi_api_key: str
    subscription_secret: str


async def seed(settings: Settings, sink_url: str) -> Credentials:
    """The Stedi account, the Optum and ops clients and the subscription, in the demo's store."""
    now = utc_now()
    inbound, api_key = "demo-inbound-secret", "demo-stedi-api-key"
    optum, optum_secret = new_client("optum", ("callbacks:coverage-discovery",), now)
    ops, ops_secret = new_client("ops", OPS_SCOPES, now)
    credential = AccountCredential(
        CredentialKind.HEADER, INBOUND_HEADER, hash_credential(inbound), now
    )
    store = SqliteStore(settings.sqlite_path)
    await store.open()
    try:
        await store.add_account(Account(ACCOUNT, STEDI_ACCOUNT_ID, now, (credential,), api_key))
        await store.add_client(optum)
        await store.add_client(ops)
        subscription = await create_subscription(
            store,
            url=sink_url,
            types=list(MESSAGE_TYPES),
            account=None,
            description="receiver demo",
            now=now,
            allow_insecure=True,
            resolver=system_resolver,
        )
    finally:
        await store.close()
    return Credentials(
        optum=(optum.client_id, optum_secret),
        ops=(ops.client_id, ops_secret),
        inbound_secret=inbound,
        stedi_api_key=api_key,
        subscription_secret=subscription.secret,
    )


def demo_settings(directory: Path, receiver_url: str, stedi_url: str) -> Settings:
    """Settings of the demo's own: nothing is read from the environment, so a configured
    production database is never touched."""
    return load_settings(
        {},
        database_url=f"sqlite:///{directory}/receiver.db",
        signing_key_path=str(directory / "signing-key.pem"),
        public_url=receiver_url,
        stedi_healthcare_url=stedi_url,
        stedi_core_url=stedi_url,
        stedi_manager_url=stedi_url,
        stedi_download_hosts="127.0.0.1",
        allow_insecure_destinations="true",
        worker_idle_ms="100",
        reconcile_interval_seconds="1",
        log_level="warning",
    )


class Watch:
    """Prints each new event, Stedi request and delivery once, as it is seen."""

    def __init__(
        self,
        echo: Callable[[str], None],
        http: httpx.Client,
        stedi: MockStediState,
        sink: SinkState,
    ) -> None:
        self._echo, self._http, self._stedi, self._sink = echo, http, stedi, sink
        self._events: dict[str, dict[str, Any]] = {}
        self._fetched: list[str] = []
        self._delivered: list[str] = []

    def look(self) -> None:
        """Print what happened since the last look: events, then fetches, then deliveries.

        The deliveries are read first and the events last, so a delivery's fetch and its
        event are always seen by the same look or an earlier one, and print before it."""
        with self._sink._lock:
            received = list(self._sink.received)
        with self._stedi._lock:
            paths = [r.path for r in self._stedi.requests]
        listed = self._http.get("/events", params={"limit": "100"})
        listed.raise_for_status()
        for event in reversed(listed.json()["items"]):
            if event["id"] not in self._events:
                self._echo(describe_event(event))
            self._events[event["id"]] = event
        for path in paths[len(self._fetched) :]:
            self._fetched.append(path)
            if (line := describe_fetch(path)) is not None:
                self._echo(line)
        for got in received[len(self._delivered) :]:
            self._delivered.append(json.loads(got.body).get("type", ""))
            self._echo(describe_delivery(got.body, got.verified_with == self._sink.secrets))

    def until(self, check: Callable[[Watch], bool], what: str) -> None:
        """Look until `check` holds; DemoError after STEP_TIMEOUT_S."""
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while True:
            self.look()
            if check(self):
                return
            if time.monotonic() > deadline:
                raise DemoError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def delivered(self, message_type: str) -> bool:
        return message_type in self._delivered

    def fetched(self, prefix: str) -> bool:
        return any(path.startswith(prefix) for path in self._fetched)

    def processed(self) -> bool:
        """Whether every event seen so far has had its job done."""
        return all(e["status"] == "processed" for e in self._events.values())

    def counts(self) -> tuple[int, int, bool]:
        """Events, messages delivered, and whether every signature was verified."""
        with self._sink._lock:
            verified = all(r.verified_with == self._sink.secrets for r in self._sink.received)
        return len(self._events), len(self._delivered), verified


@dataclass(frozen=True, slots=True)
class Running:
    """The demo's parts while they run."""

    receiver_url: str
    stedi_url: str
    sink_url: str
    database_url: str
    credentials: Credentials
    stedi: MockStediState
    sink: SinkState


@contextmanager
def running_demo() -> Iterator[Running]:
    """Receiver, the Stedi stand-in and the subscriber, on loopback, until the block ends;
    the temporary directory with the database and the key goes with them."""
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="receiver-")))
        fixtures = packaged_fixtures()
        stedi_app, stedi = create_mock_stedi(fixtures)
        stedi.poll_pages = [{"items": []}]  # nothing to reconcile until the story says so
        stedi_url = stack.enter_context(serve_app(stedi_app, "demo-stedi"))
        sink_app, sink = create_sink(())
        sink_url = stack.enter_context(serve_app(sink_app, "demo-subscriber")) + "/hook"
        sock = reserve_port()
        stack.callback(sock.close)
        receiver_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = demo_settings(directory, receiver_url, stedi_url)
        create_key_file(settings.resolved_signing_key_path)
        credentials = asyncio.run(seed(settings, sink_url))
        stedi.api_key = credentials.stedi_api_key
        sink.secrets = (credentials.subscription_secret,)
        app = create_app(settings, run_workers=True)
        stack.enter_context(serve_app(app, "demo-receiver", sock, lifespan="on"))
        yield Running(
            receiver_url, stedi_url, sink_url, settings.database_url, credentials, stedi, sink
        )


def take_token(http: httpx.Client, client: tuple[str, str]) -> str:
    """A token for `client` from receiver's token endpoint."""
    answer = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=client)
    answer.raise_for_status()
    return str(answer.json()["access_token"])

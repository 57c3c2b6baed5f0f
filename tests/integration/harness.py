"""The integration harness: the real app under uvicorn in a background thread, over loopback.

`start_live_server` seeds a store (clients, Stedi accounts), binds a free port, builds the app
with `public_url` set to that port (so token `iss`/`aud` match), runs uvicorn in a thread and
returns a `LiveServer` with a ready `httpx.Client`. Tests talk to it over real HTTP only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from receiver.app import create_app
from receiver.auth.clients import new_client
from receiver.auth.keys import create_key_file
from receiver.clock import Clock, utc_now
from receiver.demo.serving import ThreadServer
from receiver.intake.stedi import hash_credential
from receiver.models import Account, AccountCredential, Client, CredentialKind
from receiver.settings import Settings, load_settings
from receiver.store.base import Store
from receiver.store.sealing import build_sealed_store
from receiver.store.sqlite import SqliteStore
from tests.conftest import copy_migrated_sqlite, default_tls, fixture_bytes

STEDI_ACCOUNT_ID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"
INBOUND_HEADER = "x-api-key"
INBOUND_SECRET = "acme-inbound-secret"
BASIC_USER = "stedi"
BASIC_PASSWORD = "basicco-inbound-password"

STEDI_WEBHOOK_FIXTURES = (
    "stedi/transaction-processed-v2.outbound-837p.webhook.json",
    "stedi/transaction-processed-v2.inbound-277ca.webhook.json",
    "stedi/transaction-processed-v2.inbound-835.webhook.json",
    "stedi/file-failed-v2.webhook.json",
)
DESTINATION_BODY = "stedi/event-destination.transaction-processed.v1-thin.body.json"
DESTINATION_HEADERS = "stedi/event-destination.transaction-processed.v1-thin.headers.json"
OPTUM_BODY = "optum/coverage-discovery.callback.success.json"
OPTUM_HEADERS = "optum/coverage-discovery.callback.request-headers.example.json"


def fixture_json(name: str) -> Any:
    """A fixture file, parsed."""
    return json.loads(fixture_bytes(name))


def destination_fixture_headers() -> dict[str, str]:
    """The event-destination headers fixture without its `_` annotations."""
    raw = fixture_json(DESTINATION_HEADERS)
    return {k: v for k, v in raw.items() if not k.startswith("_")}


WHSEC = fixture_json(DESTINATION_HEADERS)["_synthetic_signing_secret"]
DESTINATION_TIMESTAMP = int(fixture_json(DESTINATION_HEADERS)["webhook-timestamp"])


def optum_fixture_headers(token: str | None) -> dict[str, str]:
    """The Optum callback headers fixture, with our token in place of the example one."""
    raw = fixture_json(OPTUM_HEADERS)
    headers = {k: v for k, v in raw.items() if not k.startswith("_") and k != "Authorization"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def basic(user: str, password: str) -> str:
    """An `Authorization: Basic` value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def stedi_event(name: str) -> dict[str, Any]:
    """The EventBridge envelope inside a (wrapped) Stedi webhook fixture."""
    event: dict[str, Any] = fixture_json(name)["event"]
    return event


@dataclass(frozen=True)
class SeededClient:
    """An OAuth client put in the store before start, with its plaintext secret."""

    client: Client
    secret: str

    @property
    def client_id(self) -> str:
        return self.client.client_id


@dataclass(frozen=True)
class Seed:
    """What `seed_store` created."""

    ops: SeededClient  # events:read
    optum: SeededClient  # callbacks:coverage-discovery
    admin: SeededClient  # subscriptions:write, events:read, events:replay


async def seed_store(store: Store, *, stedi_api_key: str | None = None) -> Seed:
    """Clients `ops`, `optum` and `admin`; accounts `acme` (x-api-key header + destination secret,
    and `stedi_api_key` as its key for Stedi's APIs) and `basicco` (Basic user `stedi`),
    both on the fixtures' Stedi account id."""
    now = datetime.now(UTC)
    ops, ops_secret = new_client("ops", ["events:read"], now)
    optum, optum_secret = new_client("optum", ["callbacks:coverage-discovery"], now)
    admin, admin_secret = new_client(
        "admin", ["subscriptions:write", "events:read", "events:replay"], now
    )
    for client in (ops, optum, admin):
        await store.add_client(client)
    await store.add_account(
        Account(
            name="acme",
            stedi_account_id=STEDI_ACCOUNT_ID,
            created_at=now,
            credentials=(
                AccountCredential(
                    CredentialKind.HEADER, INBOUND_HEADER, hash_credential(INBOUND_SECRET), now
                ),
                AccountCredential(CredentialKind.DESTINATION, "destination", WHSEC, now),
            ),
            api_key=stedi_api_key,
        )
    )
    await store.add_account(
        Account(
            name="basicco",
            stedi_account_id=STEDI_ACCOUNT_ID,
            created_at=now,
            credentials=(
                AccountCredential(
                    CredentialKind.BASIC, BASIC_USER, hash_credential(BASIC_PASSWORD), now
                ),
            ),
        )
    )
    return Seed(
        ops=SeededClient(ops, ops_secret),
        optum=SeededClient(optum, optum_secret),
        admin=SeededClient(admin, admin_secret),
    )


async def _seed_sqlite(path: Path, stedi_api_key: str | None) -> Seed:
    store = SqliteStore(path)
    await store.open()
    try:
        return await seed_store(store, stedi_api_key=stedi_api_key)
    finally:
        await store.close()


S = TypeVar("S", bound=Store)
T = TypeVar("T")


def run_on_store(make: Callable[[], S], action: Callable[[S], Awaitable[T]]) -> T:
    """`action` on a new store from `make`, opened for it and closed after, in a loop of its
    own (from a test's thread, beside a live server)."""

    async def run() -> T:
        store = make()
        await store.open()
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(run())


@dataclass
class LiveServer:
    """A running app: its base URL, settings, seeded clients and an HTTP client."""

    base_url: str
    settings: Settings
    seed: Seed
    http: httpx.Client
    tmp_path: Path
    _server: uvicorn.Server
    _thread: threading.Thread
    _sock: socket.socket
    _tokens: dict[tuple[str, str | None], str] = field(default_factory=dict)
    # A new, unopened store on the server's database, as the app opens it (for tests that
    # read rows back).
    store_of: Callable[[], Store] | None = None

    @property
    def db_path(self) -> Path:
        return self.settings.sqlite_path

    @property
    def key_path(self) -> Path:
        return self.settings.resolved_signing_key_path

    def token(self, who: str = "ops", scope: str | None = None) -> str:
        """An access token from the server's own token endpoint (Basic auth)."""
        cached = self._tokens.get((who, scope))
        if cached:
            return cached
        seeded: SeededClient = getattr(self.seed, who)
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        resp = self.http.post("/oauth/token", data=data, auth=(seeded.client_id, seeded.secret))
        assert resp.status_code == 200, resp.text
        token: str = resp.json()["access_token"]
        self._tokens[(who, scope)] = token
        return token

    def bearer(self, who: str = "ops") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(who)}"}

    def with_store(self, use: Callable[[Store], Awaitable[Any]]) -> Any:
        """`use` run on a store of the server's own database (to seed rows or read them back
        from a test's thread)."""
        assert self.store_of is not None
        return run_on_store(self.store_of, use)

    def stedi(
        self,
        body: bytes | dict[str, Any],
        *,
        account: str = "acme",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST a Stedi webhook with acme's x-api-key unless `headers` is given."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        if headers is None:
            headers = {"content-type": "application/json", INBOUND_HEADER: INBOUND_SECRET}
        return self.http.post(f"/webhooks/stedi/{account}", content=content, headers=headers)

    def event(self, event_id: str) -> dict[str, Any]:
        """GET /events/{id} with an events:read token; asserts 200."""
        resp = self.http.get(f"/events/{event_id}", headers=self.bearer())
        assert resp.status_code == 200, resp.text
        found: dict[str, Any] = resp.json()
        return found

    def events(self, **params: str) -> list[dict[str, Any]]:
        """Every event matching `params` (first page of up to 500)."""
        resp = self.http.get("/events", params={"limit": "500", **params}, headers=self.bearer())
        assert resp.status_code == 200, resp.text
        items: list[dict[str, Any]] = resp.json()["items"]
        return items

    def stop(self) -> None:
        """Stop uvicorn (the lifespan closes the store) and wait for it; idempotent."""
        if not self._thread.is_alive() and self.http.is_closed:
            return
        self.http.close()
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()
        assert not self._thread.is_alive(), "uvicorn did not stop"


def start_live_server(
    tmp_path: Path,
    *,
    clock: Clock = utc_now,
    store: Store | None = None,
    seeder: Callable[[], Seed] | None = None,
    run_workers: bool = False,
    stedi_api_key: str | None = None,
    **overrides: object,
) -> LiveServer:
    """Seed, bind a free loopback port, and run the app there until `stop()`.

    Without `store`, the app uses `sqlite:///{tmp_path}/receiver.db`, seeded through a
    separate SqliteStore before start (acme with `stedi_api_key`); with `store`, `seeder`
    must seed it (same database). `run_workers` runs the worker and dispatcher in the app,
    as `receiver serve` does.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path}/receiver.db",
        "signing_key_path": str(tmp_path / "signing-key.pem"),
        "public_url": base_url,
    }
    values.update(overrides)
    settings = load_settings({}, **values)
    # What `receiver keys generate` makes: on PostgreSQL the app never creates one.
    create_key_file(settings.resolved_signing_key_path)
    if store is None:
        if not settings.sqlite_path.exists():
            copy_migrated_sqlite(settings.sqlite_path)  # what migrating it would leave
        seed = asyncio.run(_seed_sqlite(settings.sqlite_path, stedi_api_key))
    else:
        assert seeder is not None, "a given store needs a seeder"
        seed = seeder()
    app = create_app(settings, store=store, clock=clock, run_workers=run_workers)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none")
    server = ThreadServer(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=5)
            sock.close()
            raise RuntimeError("the app did not start under uvicorn")
        time.sleep(0.005)
    http = httpx.Client(base_url=base_url, timeout=10, verify=default_tls())
    return LiveServer(
        base_url=base_url,
        settings=settings,
        seed=seed,
        http=http,
        tmp_path=tmp_path,
        _server=server,
        _thread=thread,
        _sock=sock,
        store_of=(lambda: build_sealed_store(settings)) if store is None else None,
    )

"""The token endpoint use case: every RFC 6749 error it answers, throttling, and success."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, urlencode

import pytest
from structlog.testing import capture_logs

from receiver.auth.clients import new_client, revoke_client, rotate_client
from receiver.auth.endpoint import exchange_client_credentials
from receiver.auth.keys import SigningKey, load_or_create_signing_key
from receiver.auth.secrets import hash_secret
from receiver.auth.throttle import FailureThrottle
from receiver.auth.tokens import verify_access_token
from receiver.errors import OAuthError, StoreUnavailableError, TooManyRequestsError
from receiver.models import Client

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
URL = "https://receiver.example.com"
FORM = "application/x-www-form-urlencoded"
GRANT = {"grant_type": "client_credentials"}
SOURCE = "203.0.113.7"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClients:
    """An in-memory ClientLookup."""

    def __init__(self, *clients: Client) -> None:
        self.clients = {c.client_id: c for c in clients}
        self.lookups: list[str] = []
        self.fail = False

    async def fetch_client(self, client_id: str) -> Client | None:
        self.lookups.append(client_id)
        if self.fail:
            raise StoreUnavailableError("store down")
        return self.clients.get(client_id)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return load_or_create_signing_key(tmp_path_factory.mktemp("keys") / "k.pem")


@pytest.fixture
def registered() -> tuple[Client, str]:
    return new_client("optum", ["callbacks:coverage-discovery", "events:read"], NOW)


@pytest.fixture
def store(registered: tuple[Client, str]) -> FakeClients:
    return FakeClients(registered[0])


@pytest.fixture
def throttle() -> FailureThrottle:
    return FailureThrottle(limit=3, window_seconds=300)


def basic(client_id: str, secret: str) -> str:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def form(**fields: str) -> bytes:
    return urlencode(fields).encode()


@pytest.fixture
def exchange(store: FakeClients, key: SigningKey, throttle: FailureThrottle) -> Any:
    async def run(
        body: bytes,
        authorization: str | None = None,
        content_type: str | None = FORM,
        now: datetime = NOW,
        source: str = SOURCE,
    ) -> dict[str, object]:
        return await exchange_client_credentials(
            store=store,
            key=key,
            throttle=throttle,
            source=source,
            authorization=authorization,
            content_type=content_type,
            body=body,
            issuer=URL,
            audience=URL,
            now=now,
            ttl_seconds=3600,
        )

    return run


async def raises(coro: Any, code: str, status: int = 400) -> OAuthError:
    with pytest.raises(OAuthError) as info:
        await coro
    assert info.value.code == code
    assert info.value.status_code == status
    if code == "invalid_client":
        assert info.value.headers == {"WWW-Authenticate": 'Basic realm="receiver"'}
    else:
        assert info.value.headers == {}
    return info.value


class TestSuccess:
    async def test_basic_auth(
        self, exchange: Any, registered: tuple[Client, str], key: SigningKey
    ) -> None:
        client, secret = registered
        response = await exchange(form(**GRANT), basic(client.client_id, secret))
        assert set(response) == {"access_token", "token_type", "expires_in", "scope"}
        assert response["token_type"] == "Bearer"
        assert response["expires_in"] == 3600
        assert response["scope"] == "callbacks:coverage-discovery events:read"
        token = response["access_token"]
        assert isinstance(token, str)
        claims = verify_access_token(token, {key.kid: key}, issuer=URL, audience=URL, now=NOW)
        assert claims.client_id == client.client_id
        assert claims.scopes == frozenset(client.scopes)

    async def test_post_auth(self, exchange: Any, registered: tuple[Client, str]) -> None:
        client, secret = registered
        body = form(**GRANT, client_id=client.client_id, client_secret=secret)
        response = await exchange(body)
        assert response["token_type"] == "Bearer"

    @pytest.mark.parametrize(
        "content_type",
        [
            FORM,
            f"{FORM}; charset=UTF-8",
            "Application/X-WWW-Form-Urlencoded",
            f" {FORM} ;charset=utf-8",
        ],
    )
    async def test_content_type_variants(
        self, exchange: Any, registered: tuple[Client, str], content_type: str
    ) -> None:
        client, secret = registered
        response = await exchange(form(**GRANT), basic(client.client_id, secret), content_type)
        assert response["access_token"]

    async def test_basic_scheme_case_insensitive(
        self, exchange: Any, registered: tuple[Client, str]
    ) -> None:
        client, secret = registered
        header = basic(client.client_id, secret).replace("Basic", "bAsIc")
        assert (await exchange(form(**GRANT), header))["access_token"]

    async def test_basic_with_percent_encoded_characters(
        self, exchange: Any, key: SigningKey
    ) -> None:
        secret = "p@ss:w%rd+ é/?&="
        client = dataclasses.replace(
            new_client("odd", ["events:read"], NOW)[0],
            client_id="cli_odd:id%+x",
            secret_hash=hash_secret(secret),
        )
        store = FakeClients(client)
        header = basic(client.client_id, secret)
        assert "%3A" in base64.b64decode(header.split()[1]).decode()
        response = await exchange_client_credentials(
            store=store,
            key=key,
            throttle=FailureThrottle(3, 300),
            source=SOURCE,
            authorization=header,
            content_type=FORM,
            body=form(**GRANT),
            issuer=URL,
            audience=URL,
            now=NOW,
            ttl_seconds=60,
        )
        assert store.lookups == ["cli_odd:id%+x"]
        assert response["expires_in"] == 60

    async def test_plus_in_basic_means_space(self, key: SigningKey) -> None:
        client = dataclasses.replace(
            new_client("odd", ["events:read"], NOW)[0], secret_hash=hash_secret("a b")
        )
        raw = f"{client.client_id}:a+b".encode()
        header = "Basic " + base64.b64encode(raw).decode()
        response = await exchange_client_credentials(
            store=FakeClients(client),
            key=key,
            throttle=FailureThrottle(3, 300),
            source=SOURCE,
            authorization=header,
            content_type=FORM,
            body=form(**GRANT),
            issuer=URL,
            audience=URL,
            now=NOW,
            ttl_seconds=60,
        )
        assert response["access_token"]

    async def test_basic_with_matching_client_id_in_body(
        self, exchange: Any, registered: tuple[Client, str]
    ) -> None:
        client, secret = registered
        body = form(**GRANT, client_id=client.client_id)
        assert (await exchange(body, basic(client.client_id, secret)))["access_token"]

    async def test_requested_scope_subset(
        self, exchange: Any, registered: tuple[Client, str]
    ) -> None:
        client, secret = registered
        body = form(**GRANT, scope="events:read")
        response = await exchange(body, basic(client.client_id, secret))
        assert response["scope"] == "events:read"

    @pytest.mark.parametrize(
        "scope", ["", " ", "events:read  callbacks:coverage-discovery events:read"]
    )
    async def test_blank_or_full_scope_gives_all(
        self, exchange: Any, registered: tuple[Client, str], scope: str
    ) -> None:
        client, secret = registered
        response = await exchange(form(**GRANT, scope=scope), basic(client.client_id, secret))
        assert response["scope"] == "callbacks:coverage-discovery events:read"

    async def test_previous_secret_during_grace(self, key: SigningKey) -> None:
        client, old = new_client("optum", ["events:read"], NOW)
        rotated, _ = rotate_client(client, NOW, timedelta(hours=1))
        store = FakeClients(rotated)
        response = await exchange_client_credentials(
            store=store,
            key=key,
            throttle=FailureThrottle(3, 300),
            source=SOURCE,
            authorization=basic(client.client_id, old),
            content_type=FORM,
            body=form(**GRANT),
            issuer=URL,
            audience=URL,
            now=NOW,
            ttl_seconds=60,
        )
        assert response["access_token"]

    async def test_logs_ids_never_secrets(
        self, exchange: Any, registered: tuple[Client, str]
    ) -> None:
        client, secret = registered
        with capture_logs() as logs:
            response = await exchange(form(**GRANT), basic(client.client_id, secret))
            await raises(
                exchange(form(**GRANT), basic(client.client_id, secret + "x")),
                "invalid_client",
                401,
            )
        assert [e["event"] for e in logs] == ["oauth.token.issued", "oauth.client.auth_failed"]
        assert all(e["client_id"] == client.client_id for e in logs)
        text = repr(logs)
        assert secret not in text
        assert str(response["access_token"]) not in text


class TestRequestErrors:
    @pytest.mark.parametrize(
        "content_type", [None, "", "application/json", "text/plain", "multipart/form-data"]
    )
    async def test_wrong_content_type(
        self, exchange: Any, registered: tuple[Client, str], content_type: str | None
    ) -> None:
        client, secret = registered
        coro = exchange(form(**GRANT), basic(client.client_id, secret), content_type)
        await raises(coro, "invalid_request")

    @pytest.mark.parametrize(
        "body",
        [
            b"grant_type=client_credentials&x=\xff",
            b"grant_type=client_credentials&x=%ff%fe",
            b"&".join([b"a%d=1" % i for i in range(40)]),
        ],
    )
    async def test_undecodable_body(
        self, exchange: Any, registered: tuple[Client, str], body: bytes
    ) -> None:
        client, secret = registered
        await raises(exchange(body, basic(client.client_id, secret)), "invalid_request")

    @pytest.mark.parametrize(
        "body",
        [
            b"grant_type=client_credentials&grant_type=client_credentials",
            b"grant_type=client_credentials&scope=events:read&scope=events:read",
            b"grant_type=client_credentials&scope=&scope=events:read",
        ],
    )
    async def test_repeated_parameter(
        self, exchange: Any, registered: tuple[Client, str], body: bytes
    ) -> None:
        client, secret = registered
        error = await raises(exchange(body, basic(client.client_id, secret)), "invalid_request")
        assert "repeated" in error.detail

    async def test_repeated_client_id_in_post(
        self, exchange: Any, registered: tuple[Client, str]
    ) -> None:
        client, secret = registered
        body = form(**GRANT, client_id=client.client_id, client_secret=secret)
        body += b"&client_id=" + client.client_id.encode()
        await raises(exchange(body), "invalid_request")

    @pytest.mark.parametrize("body", [b"", b"scope=events:read", b"grant_type=", b"grant_type"])
    async def test_missing_grant_type(
        self, exchange: Any, registered: tuple[Client, str], body: bytes
    ) -> None:
        client, secret = registered
        error = await raises(exchange(body, basic(client.client_id, secret)), "invalid_request")
        assert "grant_type" in error.detail

    @pytest.mark.parametrize(
        "grant", ["authorization_code", "password", "refresh_token", "CLIENT_CREDENTIALS"]
    )
    async def test_unsupported_grant_type(
        self, exchange: Any, registered: tuple[Client, str], grant: str
    ) -> None:
        client, secret = registered
        coro = exchange(form(grant_type=grant), basic(client.client_id, secret))
        await raises(coro, "unsupported_grant_type")

    async def test_two_auth_methods(
        self, exchange: Any, registered: tuple[Client, str], store: FakeClients
    ) -> None:
        client, secret = registered
        body = form(**GRANT, client_id=client.client_id, client_secret=secret)
        await raises(exchange(body, basic(client.client_id, secret)), "invalid_request")
        assert store.lookups == []

    async def test_basic_and_other_client_id_in_body(
        self, exchange: Any, registered: tuple[Client, str]
    ) -> None:
        client, secret = registered
        body = form(**GRANT, client_id="cli_someone_else")
        await raises(exchange(body, basic(client.client_id, secret)), "invalid_request")

    async def test_scope_not_granted(self, exchange: Any, registered: tuple[Client, str]) -> None:
        client, secret = registered
        body = form(**GRANT, scope="events:read events:replay")
        error = await raises(exchange(body, basic(client.client_id, secret)), "invalid_scope")
        assert "events:replay" in error.detail

    async def test_unknown_scope(self, exchange: Any, registered: tuple[Client, str]) -> None:
        client, secret = registered
        await raises(
            exchange(form(**GRANT, scope="admin"), basic(client.client_id, secret)), "invalid_scope"
        )

    async def test_store_failure_propagates(
        self, exchange: Any, registered: tuple[Client, str], store: FakeClients
    ) -> None:
        client, secret = registered
        store.fail = True
        with pytest.raises(StoreUnavailableError):
            await exchange(form(**GRANT), basic(client.client_id, secret))


class TestClientErrors:
    async def test_no_credentials(self, exchange: Any, store: FakeClients) -> None:
        await raises(exchange(form(**GRANT)), "invalid_client", 401)
        assert store.lookups == []

    async def test_post_without_secret(self, exchange: Any, registered: tuple[Client, str]) -> None:
        client, _ = registered
        await raises(exchange(form(**GRANT, client_id=client.client_id)), "invalid_client", 401)
        body = form(**GRANT, client_id=client.client_id, client_secret="")
        await raises(exchange(body), "invalid_client", 401)

    async def test_post_secret_without_id(self, exchange: Any) -> None:
        await raises(exchange(form(**GRANT, client_secret="x")), "invalid_client", 401)

    @pytest.mark.parametrize(
        "header",
        [
            "",
            "Basic",
            "Basic ",
            "Basic !!!notbase64!!!",
            "Basic " + base64.b64encode(b"no-colon").decode(),
            "Basic " + base64.b64encode(b":secret").decode(),
            "Basic " + base64.b64encode(b"cli_x:").decode(),
            "Basic " + base64.b64encode(b"cli_\xff:secret").decode(),
            "Basic " + base64.b64encode(b"cli%ff:s").decode(),
            "Bearer abc",
            "Digest username=x",
            "Basic Y2xpOnNlY3JldA== extra",
        ],
    )
    async def test_malformed_basic(self, exchange: Any, header: str, store: FakeClients) -> None:
        await raises(exchange(form(**GRANT), header), "invalid_client", 401)
        assert store.lookups == []

    async def test_wrong_secret(self, exchange: Any, registered: tuple[Client, str]) -> None:
        client, secret = registered
        await raises(
            exchange(form(**GRANT), basic(client.client_id, secret[:-1])), "invalid_client", 401
        )
        body = form(**GRANT, client_id=client.client_id, client_secret="wrong")
        await raises(exchange(body), "invalid_client", 401)

    async def test_unknown_client(self, exchange: Any, registered: tuple[Client, str]) -> None:
        _, secret = registered
        await raises(exchange(form(**GRANT), basic("cli_unknown", secret)), "invalid_client", 401)

    async def test_revoked_client(
        self, exchange: Any, registered: tuple[Client, str], store: FakeClients
    ) -> None:
        client, secret = registered
        store.clients[client.client_id] = revoke_client(client, NOW)
        await raises(
            exchange(form(**GRANT), basic(client.client_id, secret)), "invalid_client", 401
        )

    async def test_overlong_client_id(
        self, exchange: Any, store: FakeClients, throttle: FailureThrottle
    ) -> None:
        await raises(exchange(form(**GRANT), basic("c" * 129, "secret")), "invalid_client", 401)
        assert store.lookups == []
        assert len(throttle) == 0

    async def test_unknown_and_wrong_secret_look_alike(
        self, exchange: Any, registered: tuple[Client, str]
    ) -> None:
        client, secret = registered
        unknown = await raises(
            exchange(form(**GRANT), basic("cli_nobody", secret)), "invalid_client", 401
        )
        wrong = await raises(
            exchange(form(**GRANT), basic(client.client_id, "nope")), "invalid_client", 401
        )
        assert (unknown.detail, unknown.headers) == (wrong.detail, wrong.headers)


class TestThrottle:
    async def test_failures_then_429_but_the_right_secret_still_succeeds(
        self, exchange: Any, registered: tuple[Client, str]
    ) -> None:
        client, secret = registered
        for _ in range(3):
            await raises(
                exchange(form(**GRANT), basic(client.client_id, "bad")), "invalid_client", 401
            )
        later = NOW + timedelta(seconds=100)
        with pytest.raises(TooManyRequestsError) as info:
            await exchange(form(**GRANT), basic(client.client_id, "bad"), now=later)
        assert info.value.status_code == 429
        assert info.value.headers["Retry-After"] == "200"
        # Knowing the client id is not enough to lock the real client out.
        assert (await exchange(form(**GRANT), basic(client.client_id, secret), now=later))[
            "access_token"
        ]

    async def test_failures_count_per_source_address(
        self, exchange: Any, registered: tuple[Client, str]
    ) -> None:
        client, _ = registered
        for _ in range(3):
            await raises(
                exchange(form(**GRANT), basic(client.client_id, "bad")), "invalid_client", 401
            )
        await raises(
            exchange(form(**GRANT), basic(client.client_id, "bad"), source="198.51.100.9"),
            "invalid_client",
            401,
        )

    async def test_unknown_ids_count_against_their_source(self, exchange: Any) -> None:
        for guess in ("cli_a", "cli_b", "cli_c"):
            await raises(exchange(form(**GRANT), basic(guess, "x")), "invalid_client", 401)
        with pytest.raises(TooManyRequestsError):
            await exchange(form(**GRANT), basic("cli_d", "x"))

    async def test_the_lock_out_is_one_warning_naming_client_and_address(
        self, exchange: Any, registered: tuple[Client, str]
    ) -> None:
        client, secret = registered
        with capture_logs() as logs:
            for _ in range(3):
                await raises(
                    exchange(form(**GRANT), basic(client.client_id, "bad-secret")),
                    "invalid_client",
                    401,
                )
            with pytest.raises(TooManyRequestsError):
                await exchange(form(**GRANT), basic(client.client_id, "bad-secret"))
        (locked,) = [e for e in logs if e["event"] == "oauth.client.locked_out"]
        assert locked["log_level"] == "warning"
        assert (locked["client_id"], locked["address"]) == (client.client_id, SOURCE)
        assert (locked["failures"], locked["window_seconds"]) == (3, 300)
        assert "bad-secret" not in repr(logs)
        assert secret not in repr(logs)

    async def test_a_success_does_not_clear_the_source_failures(
        self, exchange: Any, registered: tuple[Client, str]
    ) -> None:
        """Behind a shared proxy address, one client's success must not hide another's guesses."""
        client, secret = registered
        for _ in range(2):
            await raises(
                exchange(form(**GRANT), basic(client.client_id, "bad")), "invalid_client", 401
            )
        await exchange(form(**GRANT), basic(client.client_id, secret))
        await raises(exchange(form(**GRANT), basic(client.client_id, "bad")), "invalid_client", 401)
        with pytest.raises(TooManyRequestsError):
            await exchange(form(**GRANT), basic(client.client_id, "bad"))

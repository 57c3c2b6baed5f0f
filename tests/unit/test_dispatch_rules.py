"""Pure fan-out decisions (next state after an attempt, body, signatures) and the sender's
address pinning and SSRF refusals, over httpx.MockTransport."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from standardwebhooks import Webhook

from receiver.delivery.rules import (
    DEFAULT_SCHEDULE,
    Decision,
    decide_after_attempt,
    message_body,
    signature_headers,
)
from receiver.delivery.sender import Sender, SendResult
from receiver.models import DeliveryStatus, OutboundMessage
from receiver.net.ssrf import Resolver

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 32).decode()


def decide(status: int | None, attempts: int = 0, **kw: object) -> Decision:
    args: dict[str, object] = {
        "status_code": status,
        "attempts_before": attempts,
        "now": NOW,
        "schedule": DEFAULT_SCHEDULE,
        "retry_after": None,
        "max_retry_after": 3600,
        "failing_since": None,
        "disable_after_seconds": 0,
        "random": lambda: 0.5,
    }
    args.update(kw)
    return decide_after_attempt(**args)  # type: ignore[arg-type]


class TestDecide:
    @pytest.mark.parametrize("status", [200, 201, 204, 299])
    def test_any_2xx_is_delivered(self, status: int) -> None:
        assert decide(status).status == DeliveryStatus.DELIVERED

    def test_410_is_dead_and_disables(self) -> None:
        d = decide(410)
        assert d.status == DeliveryStatus.DEAD
        assert d.disable == "the endpoint answered 410 Gone"

    @pytest.mark.parametrize("status", [None, 301, 400, 401, 404, 429, 500, 503])
    def test_other_answers_retry_on_the_schedule(self, status: int | None) -> None:
        d = decide(status, attempts=1)
        assert d.status == DeliveryStatus.PENDING
        assert d.next_attempt_at == NOW + timedelta(seconds=300)
        assert d.disable is None

    def test_retry_after_wins_when_longer_but_is_bounded(self) -> None:
        longer = decide(429, retry_after=60, attempts=0)
        assert longer.next_attempt_at == NOW + timedelta(seconds=60)
        capped = decide(429, retry_after=10**6, max_retry_after=120)
        assert capped.next_attempt_at == NOW + timedelta(seconds=120)

    def test_budget_spent_is_dead(self) -> None:
        d = decide(500, attempts=len(DEFAULT_SCHEDULE) - 1)
        assert d.status == DeliveryStatus.DEAD

    def test_prolonged_failure_disables(self) -> None:
        young = decide(500, failing_since=NOW - timedelta(hours=1), disable_after_seconds=7200)
        assert young.disable is None
        old = decide(500, failing_since=NOW - timedelta(hours=2), disable_after_seconds=7200)
        assert old.disable == "nothing but failures for 2 h"
        assert old.status == DeliveryStatus.PENDING


def message() -> OutboundMessage:
    return OutboundMessage(
        id="msg_1", type="claim.file.failed", account=None, data={"b": 1, "a": [1]}, created_at=NOW
    )


class TestBodyAndSignature:
    def test_body_shape_is_stable(self) -> None:
        body = message_body(message())
        assert body == message_body(message())
        assert orjson.loads(body) == {
            "id": "msg_1",
            "type": "claim.file.failed",
            "timestamp": "2026-11-23T12:00:00Z",
            "account": None,
            "data": {"b": 1, "a": [1]},
        }

    def test_each_secret_signs_and_the_library_verifies(self) -> None:
        at = datetime.now(UTC)
        body = message_body(message())
        headers = signature_headers(message_id="msg_1", body=body, secrets=(SECRET, OTHER), at=at)
        assert headers["webhook-id"] == "msg_1"
        assert headers["webhook-timestamp"] == str(int(at.timestamp()))
        assert len(headers["webhook-signature"].split(" ")) == 2
        Webhook(SECRET).verify(body, headers)
        Webhook(OTHER).verify(body, headers)


class Recorder:
    def __init__(self, status: int = 204, headers: dict[str, str] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.headers = headers or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, headers=self.headers, content=b"hello")


def resolver_of(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def post(sender: Sender, url: str) -> SendResult:
    return await sender.post(
        pool_key="sub_1", url=url, body=b"{}", headers={"webhook-id": "msg_1"}, now=NOW
    )


class TestSender:
    async def test_connects_to_the_checked_address_with_host_and_sni(self) -> None:
        rec = Recorder()
        sender = Sender(
            allow_insecure=False,
            resolver=resolver_of("93.184.215.14"),
            timeout_seconds=5,
            transport=httpx.MockTransport(rec),
        )
        result = await post(sender, "https://hooks.example.com/in?token=abc")
        await sender.aclose()
        assert result.status_code == 204
        assert result.excerpt == "hello"
        (request,) = rec.requests
        assert str(request.url) == "https://93.184.215.14/in?token=abc"
        assert request.headers["host"] == "hooks.example.com"
        assert request.extensions["sni_hostname"] == "hooks.example.com"
        assert request.headers["webhook-id"] == "msg_1"

    async def test_ipv6_and_custom_port(self) -> None:
        rec = Recorder()
        sender = Sender(
            allow_insecure=False,
            resolver=resolver_of("2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
            timeout_seconds=5,
            transport=httpx.MockTransport(rec),
        )
        await post(sender, "https://hooks.example.com:8443/x")
        await sender.aclose()
        (request,) = rec.requests
        assert request.url.host == "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
        assert request.url.port == 8443
        assert request.headers["host"] == "hooks.example.com:8443"

    @pytest.mark.parametrize(
        ("url", "addresses"),
        [
            ("http://hooks.example.com/x", ("93.184.215.14",)),  # plain http
            ("https://127.0.0.1/x", ()),
            ("https://10.0.0.1/x", ()),
            ("https://169.254.169.254/latest/meta-data", ()),
            ("https://[::ffff:127.0.0.1]/x", ()),
            ("https://[::1]/x", ()),
            ("https://hooks.example.com/x", ("10.1.2.3",)),  # a name resolving privately
            ("https://hooks.example.com/x", ("93.184.215.14", "192.168.0.7")),  # any private
            ("https://user:pw@hooks.example.com/x", ("93.184.215.14",)),
        ],
    )
    async def test_refused_destinations_get_no_request(
        self, url: str, addresses: tuple[str, ...]
    ) -> None:
        rec = Recorder()
        sender = Sender(
            allow_insecure=False,
            resolver=resolver_of(*addresses),
            timeout_seconds=5,
            transport=httpx.MockTransport(rec),
        )
        result = await post(sender, url)
        await sender.aclose()
        assert rec.requests == []
        assert result.status_code is None
        assert (result.error or "").startswith("destination refused")

    async def test_redirects_are_not_followed(self) -> None:
        rec = Recorder(302, {"location": "https://elsewhere.example.com/"})
        sender = Sender(
            allow_insecure=False,
            resolver=resolver_of("93.184.215.14"),
            timeout_seconds=5,
            transport=httpx.MockTransport(rec),
        )
        result = await post(sender, "https://hooks.example.com/x")
        await sender.aclose()
        assert result.status_code == 302
        assert len(rec.requests) == 1

    async def test_insecure_mode_allows_http_and_loopback(self) -> None:
        rec = Recorder()
        sender = Sender(
            allow_insecure=True,
            resolver=resolver_of("127.0.0.1"),
            timeout_seconds=5,
            transport=httpx.MockTransport(rec),
        )
        result = await post(sender, "http://sink.test:9000/x")
        await sender.aclose()
        assert result.status_code == 204
        (request,) = rec.requests
        assert str(request.url) == "http://127.0.0.1:9000/x"
        assert request.headers["host"] == "sink.test:9000"
        assert "sni_hostname" not in request.extensions

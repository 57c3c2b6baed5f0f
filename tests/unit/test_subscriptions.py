"""Subscription rules (pure, plus the URL check with a fake resolver)."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from receiver.delivery import subscriptions as subs
from receiver.errors import BadRequestError, ConflictError
from receiver.models import SubscriptionStatus

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_secret_is_whsec_and_32_random_bytes() -> None:
    secret = subs.generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert subs.generate_secret() != secret
    hook = Webhook(secret)
    signature = hook.sign("msg_1", NOW, '{"a":1}')
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(NOW.timestamp())),
        "webhook-signature": signature,
    }
    with pytest.raises(Exception, match="too old"):  # it verifies, then refuses the old stamp
        hook.verify('{"a":1}', headers)


@pytest.mark.parametrize(
    "types",
    [
        ["*"],
        ["claim.*"],
        ["claim.remittance.received", "coverage_discovery.completed"],
        ["stedi.transaction.processed", "era_enrollment.*", "eligibility.check.completed"],
        ["v2.event_1"],
        ["a"],
    ],
)
def test_valid_patterns(types: list[str]) -> None:
    assert subs.validate_patterns(types) == tuple(types)


@pytest.mark.parametrize(
    "types",
    [
        [],
        "claim.*",
        None,
        {"claim.*": 1},
        [""],
        ["Claim.*"],
        ["claim*"],
        ["claim."],
        [".claim"],
        ["claim..x"],
        ["claim.*.received"],
        ["*.received"],
        ["**"],
        ["claim.*x"],
        ["claim-file"],
        ["claim file"],
        ["claim.\u00e9"],
        ["claim.*\n"],
        [1],
        [None],
        ["x" * 201],
        [f"t{i}" for i in range(21)],
    ],
)
def test_invalid_patterns(types: object) -> None:
    with pytest.raises(BadRequestError):
        subs.validate_patterns(types)


def test_patterns_dedup_in_order_and_twenty_is_the_limit() -> None:
    assert subs.validate_patterns(["b.*", "a", "b.*"]) == ("b.*", "a")
    assert len(subs.validate_patterns([f"t{i}" for i in range(20)])) == 20


def test_bad_pattern_message_names_it_and_shows_the_forms() -> None:
    with pytest.raises(BadRequestError, match=r"'Claim\.\*'.*'claim\.\*'"):
        subs.validate_patterns(["Claim.*"])


def resolver_of(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def failing_resolver(host: str, port: int) -> list[str]:
    raise OSError("no such host")


@pytest.mark.anyio
async def test_check_url_resolves_and_refuses_non_public_hosts() -> None:
    url = "https://hooks.example.com/in?token=t"
    ok = await subs.check_url(url, allow_insecure=False, resolver=resolver_of("93.184.216.34"))
    assert ok == url
    for addresses in (("10.1.2.3",), ("93.184.216.34", "127.0.0.1"), ("fe80::1%eth0",)):
        with pytest.raises(BadRequestError, match="non-public"):
            await subs.check_url(url, allow_insecure=False, resolver=resolver_of(*addresses))
    with pytest.raises(BadRequestError, match="cannot resolve"):
        await subs.check_url(url, allow_insecure=False, resolver=failing_resolver)
    assert await subs.check_url(url, allow_insecure=True, resolver=resolver_of("10.1.2.3"))
    with pytest.raises(BadRequestError, match="2000"):
        await subs.check_url(
            "https://a.example/" + "x" * 2000, allow_insecure=True, resolver=failing_resolver
        )


def test_life_cycle() -> None:
    sub = subs.new_subscription("https://h.example/x", ("claim.*",), "acme", "d", NOW)
    assert sub.id.startswith("sub_")
    assert sub.status == SubscriptionStatus.ACTIVE
    assert sub.secret.startswith("whsec_")

    later = NOW + timedelta(minutes=5)
    rotated = subs.rotate_secret(sub, later, 3600)
    assert rotated.secret != sub.secret
    assert rotated.previous_secret == sub.secret
    assert rotated.previous_expires_at == later + timedelta(hours=1)
    assert rotated.updated_at == later
    dropped = subs.rotate_secret(rotated, later, 0)
    assert (dropped.previous_secret, dropped.previous_expires_at) == (None, None)
    with pytest.raises(BadRequestError):
        subs.rotate_secret(sub, later, -1)

    disabled = dataclasses.replace(
        sub, status=SubscriptionStatus.DISABLED, disabled_reason="410", failing_since=NOW
    )
    enabled = subs.enable(disabled, later)
    assert (enabled.status, enabled.disabled_reason, enabled.failing_since) == (
        SubscriptionStatus.ACTIVE,
        None,
        None,
    )

    removed = subs.remove(sub, later)
    assert removed.status == SubscriptionStatus.REMOVED
    assert subs.remove(removed, later + timedelta(1)) is removed
    with pytest.raises(ConflictError):
        subs.enable(removed, later)
    with pytest.raises(ConflictError):
        subs.rotate_secret(removed, later, 60)


def test_repr_hides_url_and_secret() -> None:
    sub = subs.new_subscription("https://h.example/x?token=zz", ("*",), None, "", NOW)
    assert "token" not in repr(sub)
    assert sub.secret not in repr(sub)

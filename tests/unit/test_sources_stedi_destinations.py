"""Stedi event destinations: Standard Webhooks signatures and the thin `v1.event` body."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from receiver.errors import BadRequestError, ForbiddenError, SignatureError
from receiver.intake.body import clean_headers
from receiver.intake.stedi_destinations import (
    parse_destination_event,
    verify_destination_signature,
)
from receiver.models import Account, AccountCredential, CredentialKind, InboundEvent, Source

FIXTURES = Path(__file__).parents[2] / "fixtures" / "stedi"
BODY = (FIXTURES / "event-destination.transaction-processed.v1-thin.body.json").read_bytes()
RAW_HEADERS: dict[str, str] = json.loads(
    (FIXTURES / "event-destination.transaction-processed.v1-thin.headers.json").read_bytes()
)
SECRET = RAW_HEADERS["_synthetic_signing_secret"]
HEADERS = {k: v for k, v in RAW_HEADERS.items() if not k.startswith("_")}
TIMESTAMP = datetime.fromtimestamp(int(HEADERS["webhook-timestamp"]), UTC)
NOW = TIMESTAMP + timedelta(seconds=2)
MAX_AGE = 72 * 3600
MAX_FUTURE = 5 * 60
STEDI_ACCOUNT_ID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"
OTHER_SECRET = "whsec_b3RoZXItc3ludGhldGljLXNlY3JldC0wMDAy"


def destination(secret: str, *, expires_at: datetime | None = None) -> AccountCredential:
    return AccountCredential(
        CredentialKind.DESTINATION, "", secret, TIMESTAMP - timedelta(days=10), expires_at
    )


def make_account(*credentials: AccountCredential) -> Account:
    return Account("acme", STEDI_ACCOUNT_ID, TIMESTAMP - timedelta(days=10), credentials)


ACCOUNT = make_account(destination(SECRET))


def verify(
    headers: dict[str, str] | None = None,
    body: bytes = BODY,
    *,
    account: Account = ACCOUNT,
    now: datetime = NOW,
) -> str:
    return verify_destination_signature(
        account,
        HEADERS if headers is None else headers,
        body,
        now=now,
        max_age_seconds=MAX_AGE,
        max_future_seconds=MAX_FUTURE,
    )


def with_headers(**changes: str | None) -> dict[str, str]:
    headers = dict(HEADERS)
    for name, value in changes.items():
        key = name.replace("_", "-")
        if value is None:
            headers.pop(key)
        else:
            headers[key] = value
    return headers


class TestSignature:
    def test_fixture_verifies(self) -> None:
        assert verify() == "msg_2f4a6c8e-0b1d-4e3f-a5c7-9e1b3d5f7a90"

    def test_still_valid_71_hours_after_creation(self) -> None:
        assert verify(now=TIMESTAMP + timedelta(hours=71)) == HEADERS["webhook-id"]

    def test_too_old_73_hours_after_creation(self) -> None:
        with pytest.raises(SignatureError, match="timestamp too old"):
            verify(now=TIMESTAMP + timedelta(hours=73))

    def test_six_minutes_in_the_future_is_rejected(self) -> None:
        with pytest.raises(SignatureError, match="future"):
            verify(now=TIMESTAMP - timedelta(minutes=6))
        assert verify(now=TIMESTAMP - timedelta(minutes=4)) == HEADERS["webhook-id"]

    def test_one_changed_byte_is_rejected(self) -> None:
        changed = BODY.replace(b"TEST", b"TESU")
        assert len(changed) == len(BODY)
        assert changed != BODY
        with pytest.raises(SignatureError, match="no matching signature"):
            verify(body=changed)
        with pytest.raises(SignatureError):
            verify(body=BODY + b"\n")

    @pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
    def test_missing_header_is_rejected(self, name: str) -> None:
        headers = dict(HEADERS)
        del headers[name]
        with pytest.raises(SignatureError, match=f"missing {name}"):
            verify(headers)
        headers[name] = "  "
        with pytest.raises(SignatureError, match=f"missing {name}"):
            verify(headers)

    @pytest.mark.parametrize(
        "timestamp", ["1742544664.0", "-1742544664", "17425x4664", "1e9", "99999999999999999999"]
    )
    def test_malformed_timestamp_is_rejected(self, timestamp: str) -> None:
        with pytest.raises(SignatureError, match="webhook-timestamp"):
            verify(with_headers(webhook_timestamp=timestamp))

    @pytest.mark.parametrize(
        "signature", ["9kW+PGnTIElq81Fgl1hQTVT99fH0JUZYaxP4tysyomA=", "v1,", "v1,!!!", "v2,abc"]
    )
    def test_malformed_signature_header_is_rejected(self, signature: str) -> None:
        with pytest.raises(SignatureError):
            verify(with_headers(webhook_signature=signature))

    def test_other_message_id_is_rejected(self) -> None:
        with pytest.raises(SignatureError, match="no matching signature"):
            verify(with_headers(webhook_id="msg_other"))

    def test_second_of_two_secrets_matches(self) -> None:
        account = make_account(destination(OTHER_SECRET), destination(SECRET))
        assert verify(account=account) == HEADERS["webhook-id"]

    def test_expired_secret_does_not_match(self) -> None:
        account = make_account(
            destination(OTHER_SECRET), destination(SECRET, expires_at=NOW - timedelta(seconds=1))
        )
        with pytest.raises(SignatureError):
            verify(account=account)

    def test_several_signatures_one_matches(self) -> None:
        other = Webhook(OTHER_SECRET).sign(HEADERS["webhook-id"], TIMESTAMP, BODY.decode())
        header = f"v2,Zm9v {other} v1,!!! {HEADERS['webhook-signature']} v1,AAAA"
        assert verify(with_headers(webhook_signature=header)) == HEADERS["webhook-id"]

    def test_no_destination_credentials_rejects(self) -> None:
        header_only = make_account(
            AccountCredential(CredentialKind.HEADER, "x-api-key", "0" * 64, NOW)
        )
        for account in (make_account(), header_only):
            with pytest.raises(SignatureError, match="no matching signature"):
                verify(account=account)

    def test_a_malformed_stored_secret_matches_nothing(self) -> None:
        account = make_account(destination("whsec_"), destination("whsec_\u00e9"))
        with pytest.raises(SignatureError):
            verify(account=account)
        assert verify(account=make_account(destination("whsec_"), destination(SECRET)))

    def test_non_utf8_body_is_a_bad_request(self) -> None:
        with pytest.raises(BadRequestError):
            verify(body=b"\xff\xfe")

    def test_errors_are_401_invalid_signature(self) -> None:
        with pytest.raises(SignatureError) as info:
            verify(now=TIMESTAMP + timedelta(hours=73))
        assert info.value.status_code == 401
        assert info.value.code == "invalid_signature"


def parse(
    payload: dict[str, object], *, account: Account = ACCOUNT, webhook_id: str = "msg_1"
) -> InboundEvent:
    return parse_destination_event(
        payload,
        account=account,
        webhook_id=webhook_id,
        event_id="evt_local",
        body=BODY,
        headers=clean_headers(HEADERS.items(), ()),
        received_at=NOW,
    )


def fixture_payload() -> dict[str, object]:
    payload = json.loads(BODY)
    assert isinstance(payload, dict)
    return payload


class TestParse:
    def test_fixture(self) -> None:
        event = parse(fixture_payload(), webhook_id=HEADERS["webhook-id"])
        assert event.id == "evt_local"
        assert event.source is Source.STEDI_DESTINATION
        assert event.type == "transaction.processed"
        assert event.account == "acme"
        assert event.external_id == "evt_2f4a6c8e-0b1d-4e3f-a5c7-9e1b3d5f7a90"
        assert event.dedup_keys == (
            "stedi-destination:acme:msg_2f4a6c8e-0b1d-4e3f-a5c7-9e1b3d5f7a90",
        )
        assert event.transaction_id == "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"
        assert event.transaction_set == "835"
        assert event.direction is None
        assert event.body == BODY
        assert event.received_at == NOW
        assert event.summary == {
            "stedi_account_id": STEDI_ACCOUNT_ID,
            "event_type": "transaction.processed",
            "environment": "TEST",
            "stedi_event_id": "evt_2f4a6c8e-0b1d-4e3f-a5c7-9e1b3d5f7a90",
            "resource_type": "transaction",
            "created": "2025-03-21T08:11:04.120Z",
            "attempt_number": 1,
            "attempt_type": "AUTOMATIC",
            "destination_id": "dst_6a8c0e2f-4b6d-4f8a-9c1e-3a5c7e9b1d23",
        }

    def test_resource_transaction_without_related_resources(self) -> None:
        payload = fixture_payload()
        del payload["relatedResources"]
        event = parse(payload)
        assert event.transaction_id == "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"
        assert event.transaction_set is None

    def test_enrollment_event_has_no_transaction(self) -> None:
        payload: dict[str, object] = {
            "account": STEDI_ACCOUNT_ID,
            "type": "enrollment.activated",
            "resource": {"id": "enr_1", "type": "enrollment"},
        }
        event = parse(payload, webhook_id="msg_9")
        assert event.transaction_id is None
        assert event.transaction_set is None
        assert event.external_id == "msg_9"  # no payload id: fall back on the webhook id
        assert "invalid_transaction_id" not in event.summary

    @pytest.mark.parametrize("bad_id", ["../evil", "x" * 65, 7, None])
    def test_invalid_transaction_id_is_flagged_not_raised(self, bad_id: object) -> None:
        payload = fixture_payload()
        payload["relatedResources"] = [{"id": bad_id, "type": "transaction.x12.835"}]
        event = parse(payload)
        assert event.transaction_id is None
        assert event.transaction_set is None
        assert event.summary["invalid_transaction_id"] is True

    def test_odd_related_resources_are_tolerated(self) -> None:
        payload = fixture_payload()
        payload["relatedResources"] = ["x", {"type": 5}, {"id": "a-1", "type": "transaction.x12"}]
        event = parse(payload)
        assert event.transaction_id == "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"  # from resource
        payload["relatedResources"] = "nope"
        assert parse(payload).transaction_id == "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"

    @pytest.mark.parametrize("event_type", [None, "", 5])
    def test_type_is_required(self, event_type: object) -> None:
        payload = fixture_payload()
        if event_type is None:
            del payload["type"]
        else:
            payload["type"] = event_type
        with pytest.raises(BadRequestError, match="'type'"):
            parse(payload)

    def test_account_mismatch_is_forbidden(self) -> None:
        other = Account("acme", "11111111-2222-4333-8444-555555555555", NOW)
        with pytest.raises(ForbiddenError, match="event account does not match"):
            parse(fixture_payload(), account=other)

    def test_the_uuid_of_an_account_with_a_legacy_webhook_id_is_its_own(self) -> None:
        legacy = Account("acme", "123456789012", NOW, stedi_account_uuid=STEDI_ACCOUNT_ID)
        assert parse(fixture_payload(), account=legacy).account == "acme"
        payload = fixture_payload()
        payload["account"] = STEDI_ACCOUNT_ID.upper()
        assert parse(payload, account=legacy).account == "acme"
        without_uuid = Account("acme", "123456789012", NOW)
        with pytest.raises(ForbiddenError):
            parse(fixture_payload(), account=without_uuid)

    def test_odd_attempt_number_is_none(self) -> None:
        event = parse_destination_event(
            fixture_payload(),
            account=ACCOUNT,
            webhook_id="msg_1",
            event_id="evt_local",
            body=BODY,
            headers={"attempt-number": "one"},
            received_at=NOW,
        )
        assert event.summary["attempt_number"] is None
        assert event.summary["destination_id"] is None

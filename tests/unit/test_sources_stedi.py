"""Stedi "Webhooks" product: inbound credentials and the EventBridge envelope."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from receiver.errors import BadRequestError, ForbiddenError, UnauthorizedError
from receiver.intake.body import clean_headers
from receiver.intake.stedi import (
    credential_header_names,
    hash_credential,
    parse_stedi_webhook,
    verify_webhook_credential,
)
from receiver.models import Account, AccountCredential, CredentialKind, InboundEvent, Source

FIXTURES = Path(__file__).parents[2] / "fixtures"
NOW = datetime(2025, 3, 21, 8, 12, tzinfo=UTC)
STEDI_ACCOUNT_ID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"
WEBHOOKS = {
    "837": "transaction-processed-v2.outbound-837p.webhook.json",
    "277": "transaction-processed-v2.inbound-277ca.webhook.json",
    "835": "transaction-processed-v2.inbound-835.webhook.json",
    "file.failed": "file-failed-v2.webhook.json",
}


def header_credential(
    name: str, value: str, *, expires_at: datetime | None = None
) -> AccountCredential:
    return AccountCredential(
        CredentialKind.HEADER, name, hash_credential(value), NOW - timedelta(days=30), expires_at
    )


def basic_credential(user: str, password: str) -> AccountCredential:
    return AccountCredential(
        CredentialKind.BASIC, user, hash_credential(password), NOW - timedelta(days=30)
    )


def make_account(*credentials: AccountCredential) -> Account:
    return Account("acme", STEDI_ACCOUNT_ID, NOW - timedelta(days=30), credentials)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def load(name: str) -> dict[str, object]:
    payload = json.loads((FIXTURES / "stedi" / name).read_bytes())
    assert isinstance(payload, dict)
    return payload


def parse(payload: dict[str, object], account: Account | None = None) -> InboundEvent:
    return parse_stedi_webhook(
        payload,
        account=account or make_account(),
        event_id="evt_test",
        body=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
        received_at=NOW,
    )


def shapes(name: str) -> list[tuple[bool, dict[str, object]]]:
    """The fixture as delivered wrapped in {"event": ...}, and as the bare envelope."""
    wrapped = load(name)
    bare = copy.deepcopy(wrapped["event"])
    assert isinstance(bare, dict)
    return [(True, wrapped), (False, bare)]


class TestCredentials:
    def test_header_credential(self) -> None:
        account = make_account(header_credential("X-Stedi-Token", "tok-123"))
        verify_webhook_credential(account, {"x-stedi-token": "tok-123"}, NOW)

    def test_header_credential_can_be_a_bearer_authorization(self) -> None:
        account = make_account(header_credential("Authorization", "Bearer abc"))
        verify_webhook_credential(account, {"authorization": "Bearer abc"}, NOW)

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"x-stedi-token": ""},
            {"x-stedi-token": "tok-124"},  # differs only in the last character
            {"x-stedi-token": "tok-12"},
            {"x-stedi-token": "tok-123 "},
            {"x-other": "tok-123"},
            {"x-stedi-token": "tok-\u00e9"},
        ],
    )
    def test_wrong_header_is_rejected_without_echo(self, headers: dict[str, str]) -> None:
        account = make_account(header_credential("x-stedi-token", "tok-123"))
        with pytest.raises(UnauthorizedError) as info:
            verify_webhook_credential(account, headers, NOW)
        for value in headers.values():
            if value:
                assert value not in info.value.detail

    def test_basic_credential(self) -> None:
        account = make_account(basic_credential("stedi", "pa:ss-word"))
        verify_webhook_credential(account, {"authorization": basic("stedi", "pa:ss-word")}, NOW)
        lower_scheme = basic("stedi", "pa:ss-word").replace("Basic", "basic")
        verify_webhook_credential(account, {"authorization": lower_scheme}, NOW)

    @pytest.mark.parametrize(
        "authorization",
        [
            basic("stedi", "pa:ss-wore"),  # differs only in the last character
            basic("stedj", "pa:ss-word"),
            basic("", "pa:ss-word"),
            "Basic !!!not-base64",
            "Basic " + base64.b64encode(b"no-colon").decode(),
            "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
            "Bearer pa:ss-word",
            "",
        ],
    )
    def test_wrong_basic_is_rejected(self, authorization: str) -> None:
        account = make_account(basic_credential("stedi", "pa:ss-word"))
        with pytest.raises(UnauthorizedError) as info:
            verify_webhook_credential(account, {"authorization": authorization}, NOW)
        assert "pa:ss" not in info.value.detail

    def test_rotation_two_credentials_one_expired(self) -> None:
        account = make_account(
            header_credential("x-stedi-token", "old", expires_at=NOW - timedelta(seconds=1)),
            header_credential("x-stedi-token", "new"),
        )
        verify_webhook_credential(account, {"x-stedi-token": "new"}, NOW)
        with pytest.raises(UnauthorizedError):
            verify_webhook_credential(account, {"x-stedi-token": "old"}, NOW)
        # Before the expiry both are good.
        earlier = NOW - timedelta(hours=1)
        verify_webhook_credential(account, {"x-stedi-token": "old"}, earlier)
        verify_webhook_credential(account, {"x-stedi-token": "new"}, earlier)

    def test_header_and_basic_side_by_side(self) -> None:
        account = make_account(
            header_credential("x-stedi-token", "tok"), basic_credential("stedi", "pw")
        )
        verify_webhook_credential(account, {"x-stedi-token": "tok"}, NOW)
        verify_webhook_credential(account, {"authorization": basic("stedi", "pw")}, NOW)

    @pytest.mark.parametrize(
        "headers",
        [{}, {"x-stedi-noauth": "dummy"}, {"authorization": basic("stedi", "pw")}],
    )
    def test_no_credentials_rejects_everything(self, headers: dict[str, str]) -> None:
        destination_only = make_account(
            AccountCredential(CredentialKind.DESTINATION, "", "whsec_eA==", NOW)
        )
        for account in (make_account(), destination_only):
            with pytest.raises(UnauthorizedError):
                verify_webhook_credential(account, headers, NOW)

    def test_only_expired_credentials_rejects(self) -> None:
        account = make_account(header_credential("x-k", "v", expires_at=NOW))
        with pytest.raises(UnauthorizedError):
            verify_webhook_credential(account, {"x-k": "v"}, NOW)

    def test_credential_header_names(self) -> None:
        account = make_account(
            header_credential("X-Stedi-Token", "a"),
            header_credential("x-other", "b", expires_at=NOW - timedelta(days=1)),
        )
        assert credential_header_names(account) == {"x-stedi-token", "x-other"}
        assert credential_header_names(make_account(basic_credential("u", "p"))) == {
            "authorization"
        }
        assert credential_header_names(make_account()) == set()
        stored = clean_headers(
            [("X-Stedi-Token", "a"), ("Content-Type", "application/json")],
            credential_header_names(account),
        )
        assert stored == {"content-type": "application/json"}

    def test_hash_credential(self) -> None:
        assert hash_credential("abc") == (
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )


class TestParseTransactionProcessed:
    @pytest.mark.parametrize(
        ("tset", "direction", "txn", "stedi_id"),
        [
            (
                "837",
                "OUTBOUND",
                "0f3a9c2e-6b1d-4e8a-9c47-2d5e8f1a7b30",
                "6f0e2d4c-8a1b-4c3d-9e5f-7a8b9c0d1e21",
            ),
            (
                "277",
                "INBOUND",
                "8b2e4f6a-1c3d-4e5f-9a7b-0c1d2e3f4a62",
                "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c52",
            ),
            (
                "835",
                "INBOUND",
                "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84",
                "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c63",
            ),
        ],
    )
    def test_fixture_wrapped_and_bare(
        self, tset: str, direction: str, txn: str, stedi_id: str
    ) -> None:
        for wrapped, payload in shapes(WEBHOOKS[tset]):
            event = parse(payload)
            assert event.id == "evt_test"
            assert event.source is Source.STEDI
            assert event.type == "transaction.processed.v2"
            assert event.account == "acme"
            assert event.external_id == stedi_id
            assert event.transaction_id == txn
            assert event.transaction_set == tset
            assert event.direction == direction
            assert event.received_at == NOW
            assert event.headers == {"content-type": "application/json"}
            assert event.dedup_keys == (
                f"stedi:acct:acme:event:{stedi_id}",
                f"stedi:acct:acme:txn:{txn}:transaction.processed.v2",
            )
            assert event.summary["wrapped"] is wrapped
            assert "invalid_transaction_id" not in event.summary

    def test_835_summary(self) -> None:
        event = parse(load(WEBHOOKS["835"]))
        assert event.summary == {
            "stedi_account_id": STEDI_ACCOUNT_ID,
            "detail_type": "transaction.processed.v2",
            "mode": "test",
            "file_execution_id": "9d1b3f5a-7c9e-4b1d-a3f5-6e8c0a2b4d95",
            "processed_at": "2025-03-21T08:11:02.771Z",
            "interchange_control_number": 330000912,
            "group_control_number": 330000912,
            "transaction_control_number": "000000001",
            "functional_identifier_code": "HP",
            "release": "005010X221A1",
            "fault_codes": [],
            "wrapped": True,
        }

    def test_277_summary_codes(self) -> None:
        summary = parse(load(WEBHOOKS["277"])).summary
        assert summary["functional_identifier_code"] == "HN"
        assert summary["release"] == "005010X214"
        assert summary["transaction_control_number"] == "1001"

    def test_summary_carries_no_urls_or_partnership_data(self) -> None:
        text = repr(parse(load(WEBHOOKS["837"])).summary)
        assert "https://" not in text
        assert "SYNRCVR01" not in text
        assert "local-clearinghouse-test" not in text


class TestParseFileFailed:
    def test_fixture_wrapped_and_bare(self) -> None:
        for wrapped, payload in shapes(WEBHOOKS["file.failed"]):
            event = parse(payload)
            assert event.type == "file.failed.v2"
            assert event.external_id == "4d5e6f70-8192-4a3b-bc4d-5e6f70819a27"
            assert event.transaction_id is None
            assert event.transaction_set is None
            assert event.direction == "INBOUND"
            assert event.dedup_keys == (
                "stedi:acct:acme:event:4d5e6f70-8192-4a3b-bc4d-5e6f70819a27",
                "stedi:acct:acme:file:3c5e7a9b-1d3f-4a5c-b7e9-0f2d4b6a8c06:file.failed.v2",
            )
            assert event.summary["fault_codes"] == ["FAILED_TO_PARSE"]
            assert event.summary["file_execution_id"] == "3c5e7a9b-1d3f-4a5c-b7e9-0f2d4b6a8c06"
            assert event.summary["wrapped"] is wrapped
            assert "ISA segment" not in repr(event.summary)
            assert "synthetic-payer" not in repr(event.summary)

    def test_odd_errors_are_tolerated(self) -> None:
        payload = load(WEBHOOKS["file.failed"])
        envelope = payload["event"]
        assert isinstance(envelope, dict)
        envelope["detail"]["errors"] = [{"faultCode": 7}, "x", {"faultCode": "DELIVERY_FAILURE"}]
        assert parse(payload).summary["fault_codes"] == ["DELIVERY_FAILURE"]
        envelope["detail"]["errors"] = "nope"
        assert parse(payload).summary["fault_codes"] == []

    def test_file_key_only_for_file_types(self) -> None:
        payload = load(WEBHOOKS["835"])
        keys = parse(payload).dedup_keys
        assert not any(":file:" in key for key in keys)


class TestParseEdgeCases:
    def test_re_emit_with_a_new_event_id_shares_the_transaction_key(self) -> None:
        first = load(WEBHOOKS["277"])
        again = copy.deepcopy(first)
        envelope = again["event"]
        assert isinstance(envelope, dict)
        envelope["id"] = "0b0b0b0b-0000-4000-8000-000000000001"
        shared = set(parse(first).dedup_keys) & set(parse(again).dedup_keys)
        assert shared == {
            "stedi:acct:acme:txn:8b2e4f6a-1c3d-4e5f-9a7b-0c1d2e3f4a62:transaction.processed.v2"
        }

    @pytest.mark.parametrize("name", list(WEBHOOKS))
    def test_every_key_is_scoped_to_the_local_account(self, name: str) -> None:
        """The same event sent to two local accounts shares no key: one account's resend can
        never be answered with, or suppressed by, the other's event."""
        payload = load(WEBHOOKS[name])
        acme = parse(payload)
        beta = parse(payload, Account("beta", STEDI_ACCOUNT_ID, NOW))
        assert len(acme.dedup_keys) >= 2
        assert set(acme.dedup_keys).isdisjoint(beta.dedup_keys)
        assert all(key.startswith("stedi:acct:acme:") for key in acme.dedup_keys)
        assert all(key.startswith("stedi:acct:beta:") for key in beta.dedup_keys)

    def test_an_account_with_a_legacy_id_accepts_events_naming_either_form(self) -> None:
        account = Account(
            "acme", "123456789012", NOW, stedi_account_uuid=STEDI_ACCOUNT_ID
        )  # the fixtures' envelopes carry the UUID
        assert parse(load(WEBHOOKS["835"]), account).account == "acme"
        legacy = load(WEBHOOKS["835"])
        envelope = legacy["event"]
        assert isinstance(envelope, dict)
        envelope["account"] = "123456789012"
        assert parse(legacy, account).account == "acme"
        envelope["account"] = "123456789013"
        with pytest.raises(ForbiddenError):
            parse(legacy, account)

    def test_account_mismatch_is_forbidden(self) -> None:
        for _, payload in shapes(WEBHOOKS["835"]):
            other = Account("acme", "11111111-2222-4333-8444-555555555555", NOW)
            with pytest.raises(ForbiddenError, match="event account does not match") as info:
                parse(payload, other)
            assert info.value.status_code == 403
            assert info.value.code == "forbidden"

    def test_missing_account_is_accepted(self) -> None:
        payload = load(WEBHOOKS["835"])
        envelope = payload["event"]
        assert isinstance(envelope, dict)
        del envelope["account"]
        assert parse(payload).summary["stedi_account_id"] == STEDI_ACCOUNT_ID

    @pytest.mark.parametrize(
        ("mutation", "message"),
        [
            ({"id": None}, "'id'"),
            ({"id": ""}, "'id'"),
            ({"id": 42}, "'id'"),
            ({"detail-type": None}, "'detail-type'"),
            ({"detail-type": ["transaction.processed.v2"]}, "'detail-type'"),
        ],
    )
    def test_required_fields(self, mutation: dict[str, object], message: str) -> None:
        for _, payload in shapes(WEBHOOKS["835"]):
            envelope = payload.get("event", payload)
            assert isinstance(envelope, dict)
            for key, value in mutation.items():
                if value is None:
                    del envelope[key]
                else:
                    envelope[key] = value
            with pytest.raises(BadRequestError, match=message):
                parse(payload)

    def test_not_an_envelope_at_all_is_400(self) -> None:
        with pytest.raises(BadRequestError):
            parse({"event": "string", "foo": 1})
        with pytest.raises(BadRequestError):
            parse({})

    def test_unknown_type_is_accepted(self) -> None:
        event = parse({"id": "e-1", "detail-type": "fragment.processed.v2", "detail": "odd"})
        assert event.type == "fragment.processed.v2"
        assert event.dedup_keys == ("stedi:acct:acme:event:e-1",)
        assert event.transaction_id is None
        assert event.summary["wrapped"] is False
        assert event.summary["fault_codes"] == []

    @pytest.mark.parametrize(
        "bad_id",
        [
            "../../evil",
            "abc/def",
            "x" * 65,
            "",
            "8b2e4f6a-1c3d-4e5f-9a7b-0c1d2e3f4a62\n",
            "https://evil.example/x",
            12345,
            ["a"],
        ],
    )
    def test_invalid_transaction_id_is_stored_and_flagged(self, bad_id: object) -> None:
        payload = load(WEBHOOKS["277"])
        envelope = payload["event"]
        assert isinstance(envelope, dict)
        envelope["detail"]["transactionId"] = bad_id
        event = parse(payload)
        assert event.transaction_id is None
        assert event.summary["invalid_transaction_id"] is True
        assert event.dedup_keys == ("stedi:acct:acme:event:1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c52",)
        assert event.transaction_set == "277"

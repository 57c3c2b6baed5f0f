"""Stedi event destinations: verify the Standard Webhooks signature, parse the thin event."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from receiver.errors import BadRequestError, SignatureError
from receiver.intake.stedi import check_event_account, is_valid_id
from receiver.models import Account, CredentialKind, InboundEvent, Source

_TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,10}")
_ATTEMPT_PATTERN = re.compile(r"[0-9]{1,6}")
_MAX_WEBHOOK_ID_LENGTH = 256
_X12_RESOURCE_PATTERN = re.compile(r"transaction\.x12\.([0-9A-Za-z]{1,8})")


def _require_header(headers: Mapping[str, str], name: str) -> str:
    """A header's value, stripped; SignatureError if it is missing or empty."""
    value = headers.get(name, "").strip()
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


def _presented_signatures(header: str) -> list[bytes]:
    """The decoded `v1` signatures of a `webhook-signature` header; other versions ignored."""
    signatures = []
    for entry in header.split():
        version, comma, encoded = entry.partition(",")
        if version != "v1" or not comma:
            continue
        try:
            signatures.append(base64.b64decode(encoded, validate=True))
        except binascii.Error:
            continue
    return signatures


def _expected_signature(secret: str, msg_id: str, timestamp: datetime, data: str) -> bytes | None:
    """The HMAC a `whsec_` secret gives this message, or None if the secret is unusable."""
    try:
        signed = Webhook(secret).sign(msg_id, timestamp, data)
    except (ValueError, EmptyWebhookSecretError):  # a malformed stored secret matches nothing
        return None
    return base64.b64decode(signed.partition(",")[2])


def verify_destination_signature(
    account: Account,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    max_age_seconds: int,
    max_future_seconds: int,
) -> str:
    """Check the Standard Webhooks signature of an event-destination request; return its id.

    `headers` has lower-case names. `webhook-timestamp` is when Stedi *created* the event and
    Stedi retries for 48 hours, so the age window is long and replays are caught by dedup on
    the returned `webhook-id` instead. Any unexpired DESTINATION credential of `account` may
    match any `v1` entry of `webhook-signature`. Raises SignatureError on a missing or
    malformed header, a timestamp outside the window, or no match; BadRequestError if the body
    is not UTF-8 (it cannot be JSON, and cannot be signed as Standard Webhooks text).
    """
    msg_id = _require_header(headers, "webhook-id")
    if len(msg_id) > _MAX_WEBHOOK_ID_LENGTH or not msg_id.isprintable():
        raise SignatureError("malformed webhook-id header")
    raw_timestamp = _require_header(headers, "webhook-timestamp")
    signature_header = _require_header(headers, "webhook-signature")
    if _TIMESTAMP_PATTERN.fullmatch(raw_timestamp) is None:
        raise SignatureError("malformed webhook-timestamp header (expected unix seconds)")
    timestamp = datetime.fromtimestamp(int(raw_timestamp), UTC)
    age = (now - timestamp).total_seconds()
    if age > max_age_seconds:
        raise SignatureError("timestamp too old")
    if -age > max_future_seconds:
        raise SignatureError("timestamp too far in the future")
    presented = _presented_signatures(signature_header)
    if not presented:
        raise SignatureError("malformed webhook-signature header (expected 'v1,<base64>')")
    try:
        data = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError("body is not valid JSON") from exc

    matched = False
    for cred in account.credentials_of((CredentialKind.DESTINATION,), now):
        expected = _expected_signature(cred.secret, msg_id, timestamp, data)
        if expected is None:
            continue
        for signature in presented:
            if hmac.compare_digest(expected, signature):
                matched = True
    if not matched:
        raise SignatureError("no matching signature")
    return msg_id


def _transaction(payload: dict[str, object]) -> tuple[bool, object, str | None]:
    """Whether an event points at a transaction, the raw id it gives, and the X12 set if known.

    A `transaction.x12.NNN` related resource wins; else a `transaction` resource.
    """
    related = payload.get("relatedResources")
    for item in related if isinstance(related, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            continue
        match = _X12_RESOURCE_PATTERN.fullmatch(item["type"])
        if match is not None:
            return True, item.get("id"), match.group(1)
    resource = payload.get("resource")
    if isinstance(resource, dict) and resource.get("type") == "transaction":
        return True, resource.get("id"), None
    return False, None, None


def parse_destination_event(
    payload: dict[str, object],
    *,
    account: Account,
    webhook_id: str,
    event_id: str,
    body: bytes,
    headers: dict[str, str],
    received_at: datetime,
) -> InboundEvent:
    """Turn a verified thin `v1.event` body into an InboundEvent.

    Raises BadRequestError without a string `type`, ForbiddenError when `account` names
    another Stedi account. The transaction comes from a `transaction.x12.NNN` related
    resource, else from a `transaction` resource; a malformed id is dropped and flagged.
    """
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise BadRequestError("Stedi event has no 'type' (expected a non-empty string)")
    check_event_account(payload.get("account"), account)

    summary: dict[str, object] = {}
    found, raw_transaction_id, transaction_set = _transaction(payload)
    transaction_id = raw_transaction_id if is_valid_id(raw_transaction_id) else None
    if found and transaction_id is None:
        summary["invalid_transaction_id"] = True
        transaction_set = None

    stedi_event_id = payload.get("id")
    resource = payload.get("resource")
    resource_type = resource.get("type") if isinstance(resource, dict) else None
    summary.update(
        {
            "stedi_account_id": account.stedi_account_id,
            "event_type": event_type,
            "environment": _str(payload.get("environment")),
            "stedi_event_id": _str(stedi_event_id),
            "resource_type": _str(resource_type),
            "created": _str(payload.get("created")),
            "attempt_number": _attempt_number(headers.get("attempt-number")),
            "attempt_type": headers.get("attempt-type"),
            "destination_id": headers.get("destination-id"),
        }
    )
    return InboundEvent(
        id=event_id,
        source=Source.STEDI_DESTINATION,
        type=event_type,
        account=account.name,
        external_id=stedi_event_id
        if isinstance(stedi_event_id, str) and stedi_event_id
        else webhook_id,
        dedup_keys=(f"stedi-destination:{account.name}:{webhook_id}",),
        body=body,
        headers=headers,
        received_at=received_at,
        transaction_id=transaction_id,
        transaction_set=transaction_set,
        summary=summary,
    )


def _str(value: object) -> str | None:
    """`value` if it is a string, else None."""
    return value if isinstance(value, str) else None


def _attempt_number(value: str | None) -> int | None:
    """The `attempt-number` header as an integer, or None if absent or not a small number."""
    value = (value or "").strip()
    return int(value) if _ATTEMPT_PATTERN.fullmatch(value) else None

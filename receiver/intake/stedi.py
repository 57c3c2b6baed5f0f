"""Stedi "Webhooks" product: check the account's inbound credential, parse the envelope."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TypeGuard

from receiver.auth.accounts import names_stedi_account
from receiver.errors import BadRequestError, ForbiddenError, UnauthorizedError
from receiver.models import Account, CredentialKind, InboundEvent, Source

# A Stedi transaction (or file execution) id is a UUID. It ends up in request paths to Stedi,
# so anything else is refused as an id (the event itself is still stored).
_ID_PATTERN = re.compile(r"[A-Za-z0-9-]{1,64}")

_WEBHOOK_CREDENTIALS = (CredentialKind.HEADER, CredentialKind.BASIC)


def hash_credential(value: str) -> str:
    """The SHA-256 hex digest under which an account's inbound secret is stored."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def is_valid_id(value: object) -> TypeGuard[str]:
    """True if `value` looks like a Stedi id (letters, digits, hyphens; 1-64 characters)."""
    return isinstance(value, str) and _ID_PATTERN.fullmatch(value) is not None


def check_event_account(event_account: object, account: Account) -> None:
    """Raise ForbiddenError if an event names a Stedi account other than the configured one
    (its webhook id or its UUID: `names_stedi_account`).

    A missing (or null) account is accepted: not every shape carries it.
    """
    if event_account is not None and not names_stedi_account(event_account, account):
        raise ForbiddenError("event account does not match the Stedi account configured here")


def _same(presented: str, expected: str) -> bool:
    """Constant-time equality of two strings (any characters)."""
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """The (user, password) of an `Authorization: Basic` header, or None if there is none."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def verify_webhook_credential(account: Account, headers: Mapping[str, str], now: datetime) -> None:
    """Accept the request if any unexpired HEADER or BASIC credential of `account` matches.

    `headers` has lower-case names. HEADER: the header named `cred.name` hashes to
    `cred.secret`. BASIC: `Authorization: Basic` with user `cred.name` and a password hashing
    to `cred.secret`. An account with no such credential accepts nothing. Raises
    UnauthorizedError, whose detail never repeats what was presented.
    """
    credentials = account.credentials_of(_WEBHOOK_CREDENTIALS, now)
    basic = _basic_credentials(headers.get("authorization"))
    matched = False
    for cred in credentials:  # no early exit: every credential costs the same
        if cred.kind is CredentialKind.HEADER:
            value = headers.get(cred.name.lower())
            if value is not None and _same(hash_credential(value), cred.secret):
                matched = True
        elif basic is not None:
            user, password = basic
            user_ok = _same(user, cred.name)
            password_ok = _same(hash_credential(password), cred.secret)
            if user_ok and password_ok:
                matched = True
    if not matched:
        raise UnauthorizedError("missing or invalid webhook credentials")


def credential_header_names(account: Account) -> set[str]:
    """Lower-case names of the headers that carry `account`'s credentials (never stored)."""
    names = {c.name.lower() for c in account.credentials if c.kind is CredentialKind.HEADER}
    if any(c.kind is CredentialKind.BASIC for c in account.credentials):
        names.add("authorization")
    return names


def _dict(value: object) -> dict[str, object]:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    """`value` if it is a string, else None."""
    return value if isinstance(value, str) else None


def _code(value: object) -> str | int | None:
    """A control number or code: a string or an integer (not a bool), else None."""
    if isinstance(value, bool):
        return None
    return value if isinstance(value, str | int) else None


def dedup_key(account: str, kind: str, *parts: str) -> str:
    """A Stedi dedup key, scoped to the local account that received the event: an event sent
    to one account is never answered as a duplicate of another's (which would leak that
    account's event id and drop the event). Migration 0009 rewrote the unscoped keys stored
    before (`stedi:{kind}:...`) into this form."""
    return ":".join(("stedi:acct", account, kind, *parts))


def transaction_dedup_key(account: str, transaction_id: str, detail_type: str) -> str:
    """The key a transaction's event is deduplicated on, whether it came by webhook or by
    poll: Stedi's own re-emit gets a new event id but keeps the transaction id."""
    return dedup_key(account, "txn", transaction_id, detail_type)


def _x12_metadata(detail: dict[str, object]) -> dict[str, object]:
    return _dict(_dict(detail.get("x12")).get("metadata"))


def transaction_set_of(detail: dict[str, object]) -> str | None:
    """The X12 transaction set (277, 835, 837, 999) a transaction's detail names, if any."""
    transaction = _dict(_x12_metadata(detail).get("transaction"))
    return _str(transaction.get("transactionSetIdentifier"))


def x12_summary(detail: dict[str, object]) -> dict[str, object]:
    """The ids and codes (no PHI) of a transaction's detail or poll item: mode, processing
    time, envelope control numbers, functional identifier code and release."""
    metadata = _x12_metadata(detail)
    group = _dict(metadata.get("functionalGroup"))
    transaction = _dict(metadata.get("transaction"))
    return {
        "mode": _str(detail.get("mode")),
        "processed_at": _str(detail.get("processedAt")),
        "interchange_control_number": _code(
            _dict(metadata.get("interchange")).get("controlNumber")
        ),
        "group_control_number": _code(group.get("controlNumber")),
        "transaction_control_number": _code(transaction.get("controlNumber")),
        "functional_identifier_code": _str(group.get("functionalIdentifierCode")),
        "release": _str(group.get("release")),
    }


def _fault_codes(detail: dict[str, object]) -> list[str]:
    """The `faultCode` of each entry of a `file.failed` event's `errors` (codes, not messages)."""
    errors = detail.get("errors")
    if not isinstance(errors, list):
        return []
    return [code for error in errors if isinstance(code := _dict(error).get("faultCode"), str)]


def parse_stedi_webhook(
    payload: dict[str, object],
    *,
    account: Account,
    event_id: str,
    body: bytes,
    headers: dict[str, str],
    received_at: datetime,
) -> InboundEvent:
    """Turn a Stedi webhook body (bare EventBridge envelope or `{"event": ...}`) into an event.

    Raises BadRequestError without an envelope `id` and `detail-type`, ForbiddenError when the
    envelope names another Stedi account. Unknown types are accepted. A malformed
    `transactionId` never fails the event: it is dropped and flagged in the summary.
    """
    wrapped = isinstance(payload.get("event"), dict)
    envelope = _dict(payload["event"]) if wrapped else payload
    stedi_id = envelope.get("id")
    if not isinstance(stedi_id, str) or not stedi_id:
        raise BadRequestError("Stedi event has no 'id' (expected a non-empty string)")
    detail_type = envelope.get("detail-type")
    if not isinstance(detail_type, str) or not detail_type:
        raise BadRequestError("Stedi event has no 'detail-type' (expected a non-empty string)")
    check_event_account(envelope.get("account"), account)

    detail = _dict(envelope.get("detail"))

    summary: dict[str, object] = {}
    raw_transaction_id = detail.get("transactionId")
    transaction_id = raw_transaction_id if is_valid_id(raw_transaction_id) else None
    if raw_transaction_id is not None and transaction_id is None:
        summary["invalid_transaction_id"] = True
    raw_file_execution_id = detail.get("fileExecutionId")
    file_execution_id = raw_file_execution_id if is_valid_id(raw_file_execution_id) else None
    if raw_file_execution_id is not None and file_execution_id is None:
        summary["invalid_file_execution_id"] = True

    dedup_keys = [dedup_key(account.name, "event", stedi_id)]
    if transaction_id is not None:
        dedup_keys.append(transaction_dedup_key(account.name, transaction_id, detail_type))
    if detail_type.startswith("file.") and file_execution_id is not None:
        dedup_keys.append(dedup_key(account.name, "file", file_execution_id, detail_type))

    fault_codes = _fault_codes(detail) if detail_type.startswith("file.failed") else []
    summary.update(
        {
            "stedi_account_id": account.stedi_account_id,
            "detail_type": detail_type,
            "file_execution_id": file_execution_id,
            **x12_summary(detail),
            "fault_codes": fault_codes,
            "wrapped": wrapped,
        }
    )
    return InboundEvent(
        id=event_id,
        source=Source.STEDI,
        type=detail_type,
        account=account.name,
        external_id=stedi_id,
        dedup_keys=tuple(dedup_keys),
        body=body,
        headers=headers,
        received_at=received_at,
        transaction_id=transaction_id,
        transaction_set=transaction_set_of(detail),
        direction=_str(detail.get("direction")),
        summary=summary,
    )

"""Row <-> value-type mapping shared by both SQL adapters (timestamps already datetimes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson

from receiver.models import (
    Account,
    AccountCredential,
    Client,
    CredentialKind,
    Document,
    EventFilter,
    Job,
    JobFilter,
    JobResult,
    OutboundMessage,
    Page,
    StoredEvent,
    TimelineEntry,
)
from receiver.store.base import encode_cursor

T = TypeVar("T")

Row = Mapping[str, Any]

EVENT_COLUMNS = (
    "seq, id, source, type, account, external_id, status, transaction_id, transaction_set, "
    "direction, received_at, summary, headers"
)
JOB_COLUMNS = (
    "seq, id, event_id, kind, status, attempts, next_attempt_at, lease_until, last_error, "
    "created_at, updated_at"
)
CLIENT_COLUMNS = (
    "client_id, name, scopes, secret_hash, previous_secret_hash, previous_expires_at, "
    "created_at, revoked_at"
)
ACCOUNT_COLUMNS = "name, stedi_account_id, credentials, api_key, created_at, stedi_account_uuid"
DOCUMENT_COLUMNS = "kind, transaction_id, content_type, body, revision"
MESSAGE_COLUMNS = "seq, id, type, account, data, created_at"
TIMELINE_COLUMNS = (
    "c.seq, c.patient_control_number, c.kind, c.data, c.event_id, e.transaction_id, "
    "e.received_at, c.revision"
)


def json_value(value: object) -> Any:
    """Decode a JSON column that one driver hands back as text and the other as bytes."""
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def event_from_row(row: Row, body: bytes | None = None) -> StoredEvent:
    """A StoredEvent from an `EVENT_COLUMNS` row."""
    return StoredEvent(
        id=row["id"],
        source=row["source"],
        type=row["type"],
        account=row["account"],
        external_id=row["external_id"],
        status=row["status"],
        received_at=row["received_at"],
        transaction_id=row["transaction_id"],
        transaction_set=row["transaction_set"],
        direction=row["direction"],
        summary=json_value(row["summary"]),
        headers=json_value(row["headers"]),
        body=body,
    )


def job_from_row(row: Row) -> Job:
    """A Job from a `JOB_COLUMNS` row."""
    return Job(
        id=row["id"],
        event_id=row["event_id"],
        kind=row["kind"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        lease_until=row["lease_until"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def client_from_row(row: Row) -> Client:
    """A Client from a `CLIENT_COLUMNS` row."""
    return Client(
        client_id=row["client_id"],
        name=row["name"],
        scopes=tuple(row["scopes"].split()),
        secret_hash=row["secret_hash"],
        previous_secret_hash=row["previous_secret_hash"],
        previous_expires_at=row["previous_expires_at"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


def client_params(client: Client) -> tuple[object, ...]:
    """A client's values in `CLIENT_COLUMNS` order (datetimes as datetimes)."""
    return (
        client.client_id,
        client.name,
        " ".join(client.scopes),
        client.secret_hash,
        client.previous_secret_hash,
        client.previous_expires_at,
        client.created_at,
        client.revoked_at,
    )


def account_params(account: Account) -> tuple[object, ...]:
    """An account's values in `ACCOUNT_COLUMNS` order."""
    return (
        account.name,
        account.stedi_account_id,
        credentials_to_json(account.credentials),
        account.api_key,
        account.created_at,
        account.stedi_account_uuid,
    )


def credentials_to_json(credentials: tuple[AccountCredential, ...]) -> str:
    """Serialise account credentials for the `accounts.credentials` column."""
    return orjson.dumps(
        [
            {
                "kind": c.kind.value,
                "name": c.name,
                "secret": c.secret,
                "created_at": c.created_at.isoformat(),
                "expires_at": c.expires_at.isoformat() if c.expires_at else None,
            }
            for c in credentials
        ]
    ).decode()


def account_from_row(row: Row) -> Account:
    """An Account from an `ACCOUNT_COLUMNS` row."""
    credentials = tuple(
        AccountCredential(
            kind=CredentialKind(c["kind"]),
            name=c["name"],
            secret=c["secret"],
            created_at=datetime.fromisoformat(c["created_at"]),
            expires_at=datetime.fromisoformat(c["expires_at"]) if c["expires_at"] else None,
        )
        for c in json_value(row["credentials"])
    )
    return Account(
        name=row["name"],
        stedi_account_id=row["stedi_account_id"],
        created_at=row["created_at"],
        credentials=credentials,
        api_key=row["api_key"],
        stedi_account_uuid=row["stedi_account_uuid"],
    )


def document_from_row(row: Row) -> Document:
    """A Document from a `DOCUMENT_COLUMNS` row."""
    return Document(
        kind=row["kind"],
        transaction_id=row["transaction_id"],
        body=bytes(row["body"]),
        content_type=row["content_type"],
        revision=int(row["revision"]),
    )


def message_from_row(row: Row) -> OutboundMessage:
    """An OutboundMessage from a `MESSAGE_COLUMNS` row."""
    return OutboundMessage(
        id=row["id"],
        type=row["type"],
        account=row["account"],
        data=json_value(row["data"]),
        created_at=row["created_at"],
    )


def timeline_from_row(row: Row) -> TimelineEntry:
    """A TimelineEntry from a `TIMELINE_COLUMNS` row."""
    return TimelineEntry(
        patient_control_number=row["patient_control_number"],
        kind=row["kind"],
        data=json_value(row["data"]),
        event_id=row["event_id"],
        transaction_id=row["transaction_id"],
        received_at=row["received_at"],
        revision=int(row["revision"]),
    )


INSERT_DOCUMENT = (
    "INSERT INTO documents (event_id, account, kind, transaction_id, content_type, body, "
    "created_at, revision) VALUES ({}) ON CONFLICT DO NOTHING"
)
"""Nothing when the (account, transaction, kind, revision) is stored already: by an earlier
run, by another event of the transaction, or by a concurrent reprocess that took the revision
first."""

INSERT_CLAIM = (
    "INSERT INTO claim_entries (event_id, ordinal, patient_control_number, kind, data, "
    "created_at, revision) VALUES (?, ?, ?, ?, ?{json}, ?, ?) ON CONFLICT DO NOTHING"
)
"""`{json}`: the adapter's cast of the JSON text (nothing on SQLite, `::jsonb` on PostgreSQL)."""

INSERT_MESSAGE = (
    "INSERT INTO outbound_messages (id, event_id, type, account, data, created_at) "
    "VALUES (?, ?, ?, ?, ?{json}, ?) ON CONFLICT (id) DO NOTHING"
)
"""The message id is the dedup: the same content built the same id, so a rerun or another
event of the transaction stores nothing; a corrected report's messages (new ids) are stored."""


def document_params(
    result: JobResult, event_id: str, account: str | None, now: datetime
) -> list[tuple[object, ...]]:
    """(event_id, account, kind, transaction_id, content_type, body, created_at, revision)
    per document, for `INSERT_DOCUMENT` ('' for no account: the unique index needs a value)."""
    return [
        (event_id, account or "", d.kind, d.transaction_id, d.content_type, d.body, now, d.revision)
        for d in result.documents
    ]


def claim_params(
    result: JobResult, event_id: str, now: datetime, stored_kinds: frozenset[str]
) -> list[tuple[object, ...]]:
    """(event_id, ordinal, patient_control_number, kind, data JSON, created_at, revision) per
    claim that stands alone or was read from a document this result stored (`stored_kinds`): a
    document already stored (by another event, or this same version by an earlier run) came
    with its claims then. The ordinal is the claim's index within the result; the revision is
    its document's (0 for a claim that stands alone)."""
    revisions = {d.kind: d.revision for d in result.documents}
    return [
        (
            event_id,
            i,
            c.patient_control_number,
            c.kind,
            orjson.dumps(c.data).decode(),
            now,
            revisions.get(c.document_kind, 0) if c.document_kind is not None else 0,
        )
        for i, c in enumerate(result.claims)
        if c.document_kind is None or c.document_kind in stored_kinds
    ]


def message_params(result: JobResult, event_id: str) -> list[tuple[object, ...]]:
    """(id, event_id, type, account, data JSON, created_at) per message."""
    return [
        (m.id, event_id, m.type, m.account, orjson.dumps(m.data).decode(), m.created_at)
        for m in result.messages
    ]


def page_of(found: Sequence[Row], limit: int, build: Callable[[Row], T]) -> Page[T]:
    """A Page from up to `limit + 1` rows fetched newest first; the extra row means more."""
    items = [build(row) for row in found[:limit]]
    more = len(found) > limit
    return Page(items=items, next_cursor=encode_cursor(found[limit - 1]["seq"]) if more else None)


def where_clause(
    pairs: list[tuple[str, object]], placeholder: Callable[[int], str]
) -> tuple[str, list[object]]:
    """WHERE clause and parameters for `(template, value)` pairs, skipping None values;
    `placeholder(i)` renders parameter i in the adapter's dialect."""
    clauses: list[str] = []
    params: list[object] = []
    for template, value in pairs:
        if value is not None:
            params.append(value)
            clauses.append(template.format(placeholder(len(params))))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def event_conditions(
    flt: EventFilter, before_seq: int | None, placeholder: Callable[[int], str]
) -> tuple[str, list[object]]:
    """WHERE clause and parameters for an event listing.

    A time window also bounds `seq` to the window's lowest and highest: the listing is in
    `seq` order, so an index on (filter, seq) can then walk back from the window's newest
    event and stop at the page size, instead of reading the whole window and sorting it.
    The bounds come from the rows actually in the window, so they hold even if clocks went
    backwards.
    """
    where, params = where_clause(
        [
            ("source = {}", flt.source),
            ("type = {}", flt.type),
            ("account = {}", flt.account),
            ("status = {}", flt.status),
            ("received_at >= {}", flt.since),
            ("received_at < {}", flt.until),
            ("seq < {}", before_seq),
        ],
        placeholder,
    )
    if flt.since is None or flt.until is None:
        return where, params
    n = len(params)
    low, high = (
        f"FROM inbound_events WHERE received_at >= {placeholder(n + i)} "
        f"AND received_at < {placeholder(n + i + 1)}"
        for i in (1, 3)
    )
    where += f" AND seq >= (SELECT MIN(seq) {low}) AND seq <= (SELECT MAX(seq) {high})"
    return where, [*params, flt.since, flt.until, flt.since, flt.until]


def job_conditions(
    flt: JobFilter, before_seq: int | None, placeholder: Callable[[int], str]
) -> tuple[str, list[object]]:
    """WHERE clause and parameters for a job listing."""
    return where_clause(
        [
            ("status = {}", flt.status),
            ("kind = {}", flt.kind),
            ("event_id = {}", flt.event_id),
            ("id = {}", flt.id),
            ("seq < {}", before_seq),
        ],
        placeholder,
    )

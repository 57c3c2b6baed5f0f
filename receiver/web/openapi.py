"""GET /openapi.json: the OpenAPI 3.1 document, built from one declarative entry per operation."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from receiver import __version__
from receiver.auth.clients import SCOPES
from receiver.eligibility.records import BatchStatus, Origin
from receiver.eligibility.rules import MAX_BATCH_ITEMS
from receiver.eligibility.summary import CoverageStatus
from receiver.enrollment.fields import MAX_TEXT
from receiver.enrollment.records import MAX_RECORDS, REASONS, VERSION
from receiver.enrollment.submissions import SubmissionStatus
from receiver.models import SubscriptionStatus
from receiver.ops.events import DEFAULT_LIMIT
from receiver.ops.filters import (
    AUDIT_ACTIONS,
    DELIVERY_STATUSES,
    EVENT_STATUSES,
    JOB_KINDS,
    JOB_STATUSES,
    SOURCES,
    values_of,
)
from receiver.ops.replays import REPLAY_STATUSES
from receiver.store.base import MAX_PAGE
from receiver.web.deps import ORJSONResponse, services

Schema = dict[str, Any]

SCOPE_DESCRIPTIONS: Mapping[str, str] = {
    "callbacks:coverage-discovery": "Send Optum Coverage Discovery callbacks",
    "events:read": "Read events, jobs, claim timelines and deliveries (PHI)",
    "events:replay": "Redeliver, replay and retry deliveries",
    "subscriptions:write": "Add, list, remove, rotate and enable subscriptions",
    "eligibility:write": "Submit eligibility checks",
    "enrollment:write": "Submit ERA enrollments",
    "audit:read": "Read the audit trail",
}

ERROR_TEXT: Mapping[int, str] = {
    400: "Malformed request, parameter or body; `detail` says what to fix",
    401: "Missing or wrong credentials",
    403: "Authenticated but not allowed (insufficient_scope for a token without the scope)",
    404: "Not found",
    409: "Not possible in the resource's current state",
    413: "Body over the size limit",
    415: "Body is not JSON",
    429: "Too many failures; see Retry-After",
    502: "The upstream (Stedi or Optum) answered with an error; `detail` names its status",
    503: "Store unavailable; retry",
    504: "The upstream did not answer within the deadline",
}


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """`schema` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def enum_of(values: Sequence[str], description: str = "") -> Schema:
    """A string from `values`."""
    schema: Schema = {"type": "string", "enum": list(values)}
    if description:
        schema["description"] = description
    return schema


STRING: Schema = {"type": "string"}
ID: Schema = {"type": "string", "minLength": 1}
INTEGER: Schema = {"type": "integer"}
TIME: Schema = {"type": "string", "format": "date-time"}
OBJECT: Schema = {"type": "object"}


def query(name: str, schema: Schema, description: str = "") -> Schema:
    """An optional query parameter."""
    param: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


LIMIT = query(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_LIMIT},
    "Page size",
)
CURSOR = query("cursor", STRING, "The `next_cursor` of the previous page")
SINCE = query("since", TIME, "Inclusive; without a timezone, UTC")
UNTIL = query("until", TIME, "Exclusive; without a timezone, UTC")


def json_response(schema: Schema, description: str) -> Schema:
    """A response object with a JSON body."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def empty(description: str) -> Schema:
    """A response object without a body."""
    return {"description": description}


@dataclass(frozen=True)
class Operation:
    """One documented operation: everything build_document needs, and nothing to repeat.

    `scope` puts the operation behind the oauth2 scheme (and documents 401/403); path
    parameters are read from `path` (strings) unless `params` has one of that name; each code
    in `errors` answers the Error schema unless `responses` documents that code itself.
    """

    method: str
    path: str
    summary: str
    responses: Mapping[int, Schema]
    scope: str | None = None
    security: Sequence[Mapping[str, Sequence[str]]] | None = None
    params: Sequence[Schema] = ()
    body: Schema | None = None
    body_required: bool = True
    body_media: str = "application/json"
    errors: Sequence[int] = ()
    description: str = field(default="")


def _path_params(op: Operation) -> list[Schema]:
    named = {p["name"] for p in op.params if p.get("in") == "path"}
    return [
        {"name": name, "in": "path", "required": True, "schema": ID}
        for name in re.findall(r"\{(\w+)\}", op.path)
        if name not in named
    ]


def operation_object(op: Operation) -> Schema:
    """The OpenAPI operation object of one entry."""
    out: Schema = {"summary": op.summary, "operationId": _operation_id(op)}
    if op.description:
        out["description"] = op.description
    params = _path_params(op) + list(op.params)
    if params:
        out["parameters"] = params
    if op.scope is not None:
        out["security"] = [{"oauth2": [op.scope]}]
    elif op.security is not None:
        out["security"] = [dict(s) for s in op.security]
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {op.body_media: {"schema": op.body}},
        }
    codes = set(op.errors) | ({401, 403} if op.scope is not None else set())
    responses: Schema = {str(code): dict(resp) for code, resp in sorted(op.responses.items())}
    for code in sorted(codes - set(op.responses)):
        responses[str(code)] = json_response(ref("Error"), ERROR_TEXT[code])
    out["responses"] = responses
    return out


def _operation_id(op: Operation) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", " ", op.path.replace("{", "by ")).split()
    return op.method.lower() + "".join(w[:1].upper() + w[1:] for w in words)


_INTAKE_ERRORS = (400, 401, 403, 404, 413, 415, 503)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/oauth/token",
        "Client-credentials token (RFC 6749 §4.4); Basic or form client auth",
        body_media="application/x-www-form-urlencoded",
        body=ref("TokenRequest"),
        security=({"clientBasic": []}, {}),
        responses={
            200: json_response(ref("Token"), "Access token"),
            400: json_response(
                ref("OAuthError"), "invalid_request, unsupported_grant_type, invalid_scope"
            ),
            401: json_response(ref("OAuthError"), "invalid_client"),
            429: json_response(ref("OAuthError"), "Too many failed attempts for this client"),
        },
    ),
    Operation(
        "GET",
        "/.well-known/jwks.json",
        "Token verification keys",
        responses={200: json_response(OBJECT, "JWKS")},
    ),
    Operation(
        "GET",
        "/.well-known/oauth-authorization-server",
        "RFC 8414 metadata",
        responses={200: json_response(OBJECT, "Metadata")},
    ),
    Operation(
        "POST",
        "/callbacks/optum/coverage-discovery",
        "Optum Coverage Discovery result",
        scope="callbacks:coverage-discovery",
        body=OBJECT,
        responses={204: empty("Stored (or already stored)")},
        errors=_INTAKE_ERRORS,
    ),
    Operation(
        "POST",
        "/webhooks/stedi/{account}",
        "Stedi webhook (transaction.processed.v2, file.failed.v2, ...)",
        security=({"stediHeader": []}, {"stediBasic": []}),
        body=OBJECT,
        responses={200: json_response(ref("Ack"), "Stored, or a duplicate")},
        errors=_INTAKE_ERRORS,
    ),
    Operation(
        "POST",
        "/webhooks/stedi/{account}/event-destinations",
        "Stedi event destination (Standard Webhooks signature)",
        body=OBJECT,
        responses={200: json_response(ref("Ack"), "Stored, or a duplicate")},
        errors=_INTAKE_ERRORS,
    ),
    Operation(
        "GET",
        "/events",
        "Events, newest first",
        scope="events:read",
        params=(
            query("source", enum_of(SOURCES)),
            query("type", STRING),
            query("account", STRING),
            query("status", enum_of(EVENT_STATUSES)),
            SINCE,
            UNTIL,
            LIMIT,
            CURSOR,
        ),
        responses={200: json_response(ref("EventPage"), "A page")},
        errors=(400,),
    ),
    Operation(
        "GET",
        "/events/{id}",
        "One event with its body exactly as received, and its jobs",
        scope="events:read",
        responses={200: json_response(ref("EventDetail"), "The event")},
        errors=(404,),
    ),
    Operation(
        "POST",
        "/events/{id}/redeliver",
        "Send the event's published messages again, same webhook-id and body, to the "
        "subscriptions that had a delivery of them",
        scope="events:replay",
        body=ref("RedeliverRequest"),
        body_required=False,
        responses={
            202: json_response(
                ref("Redelivery"),
                "Delivered and dead deliveries are pending again; pending and running ones "
                "were left alone",
            )
        },
        errors=(400, 404, 409, 413, 415),
    ),
    Operation(
        "POST",
        "/replays",
        "Resend the deliveries of messages published in a time window, same webhook-id and "
        "body; counts only with dry_run",
        scope="events:replay",
        body=ref("ReplayRequest"),
        responses={
            200: json_response(
                ref("ReplayDryRun"), "Dry run: what a replay would requeue; nothing changed"
            ),
            202: json_response(
                ref("Replay"),
                "The matching deliveries are pending again; pending and running ones were "
                "left alone",
            ),
        },
        errors=(400, 404, 409, 413, 415),
    ),
    Operation(
        "GET",
        "/jobs",
        "Follow-up jobs, newest first",
        scope="events:read",
        params=(
            query("status", enum_of(JOB_STATUSES)),
            query("kind", enum_of(JOB_KINDS)),
            query("event_id", STRING),
            LIMIT,
            CURSOR,
        ),
        responses={200: json_response(ref("JobPage"), "A page")},
        errors=(400,),
    ),
    Operation(
        "GET",
        "/claims/{pcn}",
        "A claim's timeline by patient control number",
        scope="events:read",
        responses={200: json_response(ref("ClaimTimeline"), "837, 277CA and 835 entries")},
        errors=(404,),
    ),
    Operation(
        "GET",
        "/subscriptions",
        "Subscriptions, oldest first, no secrets",
        scope="subscriptions:write",
        params=(query("include_removed", {"type": "boolean", "default": False}),),
        responses={200: json_response(ref("SubscriptionList"), "Subscriptions")},
        errors=(400,),
    ),
    Operation(
        "POST",
        "/subscriptions",
        "Add a subscription; its whsec_ secret is in this answer only",
        scope="subscriptions:write",
        body=ref("NewSubscription"),
        responses={201: json_response(ref("SubscriptionWithSecret"), "Created")},
        errors=(400, 404, 413, 415),
    ),
    Operation(
        "GET",
        "/subscriptions/{id}",
        "One subscription, removed ones too",
        scope="subscriptions:write",
        responses={200: json_response(ref("Subscription"), "The subscription")},
        errors=(404,),
    ),
    Operation(
        "DELETE",
        "/subscriptions/{id}",
        "Remove a subscription; its deliveries stay readable",
        scope="subscriptions:write",
        responses={204: empty("Removed")},
        errors=(404,),
    ),
    Operation(
        "POST",
        "/subscriptions/{id}/rotate-secret",
        "New signing secret; the old one also signs for the grace period",
        scope="subscriptions:write",
        responses={200: json_response(ref("SubscriptionWithSecret"), "The new secret, once")},
        errors=(404, 409),
    ),
    Operation(
        "POST",
        "/subscriptions/{id}/enable",
        "Re-enable a disabled subscription",
        scope="subscriptions:write",
        responses={200: json_response(ref("Subscription"), "The subscription, active")},
        errors=(404, 409),
    ),
    Operation(
        "GET",
        "/deliveries",
        "Deliveries, newest first",
        scope="events:read",
        params=(
            query("subscription", STRING, "A subscription id"),
            query("status", enum_of(DELIVERY_STATUSES)),
            query("type", STRING, "A message type"),
            query("message", STRING, "A message id"),
            LIMIT,
            CURSOR,
        ),
        responses={200: json_response(ref("DeliveryPage"), "A page of deliveries")},
        errors=(400,),
    ),
    Operation(
        "GET",
        "/deliveries/{id}",
        "One delivery with its attempts",
        scope="events:read",
        responses={200: json_response(ref("DeliveryDetail"), "The delivery and its attempts")},
        errors=(404,),
    ),
    Operation(
        "POST",
        "/deliveries/{id}/retry",
        "Send a dead delivery again, with a fresh attempt budget",
        scope="events:replay",
        responses={202: json_response(ref("Retry"), "Pending again")},
        errors=(404, 409),
    ),
    Operation(
        "GET", "/healthz", "Liveness", responses={200: json_response(ref("Health"), "Alive")}
    ),
    Operation(
        "GET",
        "/readyz",
        "Readiness: the store answers",
        responses={
            200: json_response(ref("Health"), "Ready"),
            503: json_response(ref("Health"), "Store unavailable"),
        },
    ),
    Operation(
        "GET",
        "/metrics",
        "Prometheus metrics",
        responses={200: {"description": "Text exposition", "content": {"text/plain": {}}}},
    ),
    Operation(
        "POST",
        "/events/{id}/reprocess",
        "Run an event's follow-up again: fetch again, publish again (same content, same "
        "webhook-id)",
        scope="events:replay",
        responses={
            202: json_response(
                ref("Reprocess"),
                "A reprocess job is queued (`queued`), or one is still pending from before",
            )
        },
        errors=(404, 409, 503),
    ),
    Operation(
        "GET",
        "/audit",
        "The audit trail, newest first: every ops action and read of PHI",
        scope="audit:read",
        params=(
            query("actor", ID, "A client id, or cli:<os user>"),
            query("action", enum_of(AUDIT_ACTIONS)),
            query("since", TIME, "Inclusive; with a timezone"),
            query("until", TIME, "Exclusive; with a timezone; later than since"),
            LIMIT,
            CURSOR,
        ),
        responses={200: json_response(ref("AuditPage"), "A page of audit rows")},
        errors=(400, 503),
    ),
    Operation(
        "POST",
        "/eligibility/checks",
        "Real-time Stedi eligibility check: Stedi's request plus `account`; the answer is "
        "stored and published",
        scope="eligibility:write",
        body=ref("EligibilityCheckRequest"),
        responses={
            200: {
                **json_response(ref("EligibilityCheckResponse"), "Stedi's eligibility response"),
                "headers": {
                    "x-eligibility-event-id": {
                        "description": "The event the answer is stored as",
                        "schema": ID,
                    },
                    "x-eligibility-warnings": {
                        "description": "Present with warnings: a JSON list of `{path, message}`",
                        "schema": STRING,
                    },
                },
            },
            400: json_response(
                {"anyOf": [ref("InvalidRequest"), ref("Error")]},
                "`invalid_checks` lists every problem by field path; `invalid_request` for a "
                "body that is not a JSON object or names no account",
            ),
        },
        errors=(400, 404, 409, 413, 415, 502, 503, 504),
    ),
    Operation(
        "POST",
        "/eligibility/batches",
        "Batch eligibility checks `{account, items}`, validated whole, split into Stedi "
        "batches and polled",
        scope="eligibility:write",
        body=ref("EligibilityBatchRequest"),
        responses={
            202: json_response(ref("EligibilityBatchSubmitted"), "The local id and Stedi's ids"),
            400: json_response(
                {"anyOf": [ref("InvalidRequest"), ref("Error")]},
                "`invalid_checks` lists every problem by field path (`items[i]...`); "
                "`invalid_request` for an unknown field or no account",
            ),
        },
        errors=(400, 404, 409, 413, 415, 502, 503, 504),
    ),
    Operation(
        "GET",
        "/eligibility/batches/{id}",
        "A batch submission's progress",
        scope="eligibility:write",
        responses={
            200: json_response(ref("EligibilityProgress"), "Batches, results stored of expected")
        },
        errors=(404, 503),
    ),
    Operation(
        "POST",
        "/era-enrollments",
        "Submit ERA enrollment records to Optum `{optum, records}`",
        scope="enrollment:write",
        body=ref("EraEnrollmentRequest"),
        responses={
            202: json_response(ref("EraSubmission"), "Submitted: Optum's payloadId, polling"),
            400: json_response(
                {"anyOf": [ref("InvalidRequest"), ref("Error")]},
                "Every problem with the records by field path (`records[i]...`), or an unknown "
                "field or Optum connection",
            ),
        },
        errors=(400, 404, 409, 413, 415, 502, 503),
    ),
    Operation(
        "GET",
        "/era-enrollments/{id}",
        "An ERA enrollment submission's status, poll state and, once final, its result",
        scope="enrollment:write",
        responses={200: json_response(ref("EraSubmission"), "Status, poll state and result")},
        errors=(404, 503),
    ),
    Operation(
        "GET", "/openapi.json", "This document", responses={200: json_response(OBJECT, "OpenAPI")}
    ),
)


def _object(
    properties: Mapping[str, Schema], *, optional: Sequence[str] = (), description: str = ""
) -> Schema:
    """A closed object: every property required unless named in `optional`."""
    schema: Schema = {
        "type": "object",
        "additionalProperties": False,
        "required": [name for name in properties if name not in optional],
        "properties": dict(properties),
    }
    if description:
        schema["description"] = description
    return schema


def _page(item: str) -> Schema:
    return _object({"items": {"type": "array", "items": ref(item)}, "next_cursor": nullable(ID)})


_EVENT: dict[str, Schema] = {
    "id": ID,
    "source": enum_of(SOURCES),
    "type": STRING,
    "account": nullable(STRING),
    "external_id": STRING,
    "status": enum_of(EVENT_STATUSES),
    "received_at": TIME,
    "transaction_id": nullable(STRING),
    "transaction_set": nullable(STRING),
    "direction": nullable(STRING),
    "summary": OBJECT,
    "headers": {"type": "object", "additionalProperties": STRING},
}
_SUBSCRIPTION: dict[str, Schema] = {
    "id": ID,
    "url": STRING,
    "types": {"type": "array", "items": STRING},
    "account": nullable(STRING),
    "description": STRING,
    "status": enum_of(values_of(SubscriptionStatus)),
    "disabled_reason": nullable(STRING),
    "failing_since": nullable(TIME),
    "created_at": TIME,
    "updated_at": TIME,
}
_DELIVERY: dict[str, Schema] = {
    "id": ID,
    "message_id": ID,
    "subscription_id": ID,
    "type": STRING,
    "account": nullable(STRING),
    "status": enum_of(DELIVERY_STATUSES),
    "attempts": {"type": "integer", "minimum": 0, "description": "How many attempts so far"},
    "next_attempt_at": TIME,
    "last_status": nullable(INTEGER),
    "last_error": nullable(STRING),
    "created_at": TIME,
    "updated_at": TIME,
}
_COUNT: Schema = {"type": "integer", "minimum": 0}


def _text(top: int) -> Schema:
    return {"type": "string", "minLength": 1, "maxLength": top}


_PERSON: dict[str, Schema] = {
    "firstName": _text(35),
    "lastName": _text(60),
    "middleName": _text(25),
    "dateOfBirth": {"type": "string", "pattern": "^[0-9]{8}$", "description": "YYYYMMDD"},
    "gender": enum_of(["M", "F"]),
}
# Stedi's request: the fields receiver checks are typed here; Stedi's other fields are passed
# through untouched, so the objects stay open.
_ELIGIBILITY_CHECK: Schema = {
    "type": "object",
    "description": "Stedi's eligibility check request (fields not listed go to Stedi as sent)",
    "required": ["tradingPartnerServiceId", "provider", "subscriber"],
    "properties": {
        "controlNumber": {"type": "string", "pattern": "^[0-9]{1,9}$"},
        "tradingPartnerServiceId": {**_text(80), "description": "The payer ID"},
        "submitterTransactionIdentifier": _text(50),
        "portalUsername": _text(50),
        "portalPassword": _text(50),
        "provider": {
            "type": "object",
            "properties": {
                "organizationName": _text(60),
                "firstName": _text(35),
                "lastName": _text(60),
                "npi": {"type": "string", "pattern": "^[0-9]{10}$"},
                "taxId": {"type": "string", "pattern": "^[0-9]{9}$"},
                "ssn": {"type": "string", "pattern": "^[0-9]{9}$"},
            },
        },
        "subscriber": {
            "type": "object",
            "properties": {
                "memberId": {"type": "string", "pattern": "^[A-Za-z0-9 -]{2,80}$"},
                **_PERSON,
            },
        },
        "dependents": {
            "type": "array",
            "maxItems": 1,
            "items": {"type": "object", "properties": _PERSON},
        },
        "encounter": {"type": "object"},
    },
}
_DIGITS: Schema = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]}
_TEXT: Schema = _text(MAX_TEXT)
_ERA_RECORD: Schema = _object(
    {
        "payerId": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,50}$"},
        "providerName": _TEXT,
        "providerIdentifiers": _object({"npi": _DIGITS, "tinOrEin": _DIGITS}),
        "preferenceForAggregation": {
            **_object({"npi": _DIGITS, "tin": _DIGITS}, optional=("npi", "tin")),
            "minProperties": 1,
        },
        "providerAddress": _object(
            {
                "street": _TEXT,
                "city": _TEXT,
                "stateProvince": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
                "zipCode": _DIGITS,
            }
        ),
        "providerContact": _object(
            {
                "contactName": _TEXT,
                "emailAddress": STRING,
                "telephoneNumber": _DIGITS,
                "telephoneNumberExtension": _DIGITS,
                "faxNumber": _DIGITS,
            },
            optional=("telephoneNumberExtension", "faxNumber"),
        ),
        "reasonForSubmission": enum_of(REASONS),
        "authorizedSignature": _TEXT,
        "clearinghouseName": _TEXT,
        "clearinghouseContactName": _TEXT,
        "emailAddress": STRING,
        "otherId": _TEXT,
        "otherIdentifiers": _object(
            {"assigningAuthority": _TEXT, "tradingPartnerId": _TEXT},
            optional=("assigningAuthority", "tradingPartnerId"),
        ),
        "version": {"const": VERSION},
        "epId": {"type": "integer", "minimum": 1},
        "attachment1": {"type": "string", "contentEncoding": "base64"},
        "attachment2": {"type": "string", "contentEncoding": "base64"},
        "attachment3": {"type": "string", "contentEncoding": "base64"},
    },
    optional=("otherId", "otherIdentifiers", "epId", "attachment1", "attachment2", "attachment3"),
    description="Optum's EnrollmentRoot; NPI, TIN and ZIP as integers or digit strings",
)

SCHEMAS: dict[str, Schema] = {
    "Error": _object(
        {"error": STRING, "detail": STRING},
        description="The one error shape of every route but the token endpoint",
    ),
    "OAuthError": _object({"error": STRING, "error_description": STRING}),
    "Ack": _object({"status": enum_of(["accepted", "duplicate"]), "event_id": ID}),
    "TokenRequest": {
        "type": "object",
        "required": ["grant_type"],
        "properties": {
            "grant_type": {"const": "client_credentials"},
            "scope": {"type": "string", "description": "Space-separated scopes"},
            "client_id": STRING,
            "client_secret": STRING,
        },
    },
    "Token": _object(
        {
            "access_token": STRING,
            "token_type": {"const": "Bearer"},
            "expires_in": INTEGER,
            "scope": STRING,
        }
    ),
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": enum_of(["ok", "ready", "unavailable"]), "detail": STRING},
    },
    "Event": _object(_EVENT),
    "Job": _object(
        {
            "id": ID,
            "event_id": ID,
            "kind": enum_of(JOB_KINDS),
            "status": enum_of(JOB_STATUSES),
            "attempts": _COUNT,
            "next_attempt_at": TIME,
            "lease_until": nullable(TIME),
            "last_error": nullable(STRING),
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "EventDetail": _object(
        {
            **_EVENT,
            "body": {"type": "string", "description": "The request body exactly as received"},
            "jobs": {"type": "array", "items": ref("Job")},
        }
    ),
    "EventPage": _page("Event"),
    "JobPage": _page("Job"),
    "TimelineEntry": _object(
        {
            "kind": enum_of(["submitted", "acknowledgment", "remittance"]),
            "event_id": ID,
            "transaction_id": nullable(STRING),
            "received_at": TIME,
            "revision": INTEGER,
            "data": OBJECT,
        }
    ),
    "ClaimTimeline": _object(
        {
            "patient_control_number": STRING,
            "timeline": {"type": "array", "items": ref("TimelineEntry"), "minItems": 1},
        }
    ),
    "NewSubscription": {
        "type": "object",
        "required": ["url", "types"],
        "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "maxLength": 2000},
            "types": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": {"type": "string", "examples": ["claim.*"]},
            },
            "account": nullable(STRING),
            "description": {"type": "string", "maxLength": 500},
        },
    },
    "Subscription": _object(_SUBSCRIPTION),
    "SubscriptionWithSecret": _object(
        {
            **_SUBSCRIPTION,
            "secret": {"type": "string", "pattern": "^whsec_"},
            "previous_secret_expires_at": nullable(TIME),
        }
    ),
    "SubscriptionList": _object({"items": {"type": "array", "items": ref("Subscription")}}),
    "Delivery": _object(_DELIVERY),
    "DeliveryPage": _page("Delivery"),
    "Attempt": _object(
        {
            "attempt": {"type": "integer", "minimum": 1},
            "started_at": TIME,
            "duration_ms": _COUNT,
            "status_code": nullable(INTEGER),
            "response_excerpt": nullable(STRING),
            "error": nullable(STRING),
        }
    ),
    "DeliveryDetail": _object(
        {
            **_DELIVERY,
            "attempt_count": _COUNT,
            "attempts_since_requeue": {
                **_COUNT,
                "description": "Attempts counted against the current budget (a retry or "
                "redelivery starts a new one)",
            },
            "attempts": {
                "type": "array",
                "items": ref("Attempt"),
                "description": "Every attempt, oldest first (`attempt_count` is the count)",
            },
        }
    ),
    "Retry": _object({"id": ID, "status": {"const": "pending"}}),
    "RedeliverRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["subscription_id"],
        "description": "Without a body: every subscription's deliveries",
        "properties": {
            "subscription_id": {
                "type": "string",
                "minLength": 1,
                "description": "Only this subscription's deliveries",
            }
        },
    },
    "Redelivery": _object({"event_id": ID, "requeued": _COUNT, "already_pending": _COUNT}),
    "ReplayRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["since"],
        "properties": {
            "since": {
                **TIME,
                "description": "Messages published at or after this time (with a timezone)",
            },
            "until": {
                **TIME,
                "description": "Messages published before this time (default: now); later "
                "than since",
            },
            "subscription_id": {
                "type": "string",
                "minLength": 1,
                "description": "Only this subscription's",
            },
            "status": {
                **enum_of(list(REPLAY_STATUSES)),
                "default": "dead",
                "description": "Which finished deliveries to resend",
            },
            "dry_run": {"type": "boolean", "default": False, "description": "Only count"},
        },
    },
    "Replay": _object({"requeued": _COUNT, "already_pending": _COUNT}),
    "ReplayDryRun": _object(
        {
            "dry_run": {"const": True},
            "would_requeue": _COUNT,
            "already_pending": _COUNT,
            "over_limit": {"type": "boolean"},
        }
    ),
    "Reprocess": _object({"event_id": ID, "queued": {"type": "boolean"}}),
    "AuditEntry": _object(
        {
            "id": ID,
            "at": TIME,
            "actor": ID,
            "action": enum_of(AUDIT_ACTIONS),
            "target": nullable(STRING),
            "filter": {
                "type": "object",
                "description": "What selected the targets: ids, times, statuses, scopes",
            },
            "counts": {"type": "object", "additionalProperties": _COUNT},
            "request_id": STRING,
        }
    ),
    "AuditPage": _page("AuditEntry"),
    "Issue": _object({"path": STRING, "message": STRING}),
    "InvalidRequest": _object(
        {"error": STRING, "detail": STRING, "errors": {"type": "array", "items": ref("Issue")}},
        description="A refused body: `detail` sums up, `errors` names every problem's field path",
    ),
    "EligibilityCheck": _ELIGIBILITY_CHECK,
    "EligibilityCheckRequest": {
        **_ELIGIBILITY_CHECK,
        "required": ["account", *_ELIGIBILITY_CHECK["required"]],
        "properties": {
            "account": {**ID, "description": "The local name of a Stedi account with an API key"},
            **_ELIGIBILITY_CHECK["properties"],
        },
    },
    "EligibilityCheckResponse": {
        "type": "object",
        "description": "Stedi's eligibility response (a 271 as JSON), exactly as Stedi sent it",
    },
    "EligibilityBatchRequest": _object(
        {
            "account": {**ID, "description": "The local name of a Stedi account with an API key"},
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH_ITEMS,
                "items": {
                    **_ELIGIBILITY_CHECK,
                    "required": [
                        *_ELIGIBILITY_CHECK["required"],
                        "submitterTransactionIdentifier",
                    ],
                },
                "description": "Checks, each with a submitterTransactionIdentifier unique here",
            },
        }
    ),
    "EligibilityBatchSubmitted": _object(
        {
            "id": ID,
            "account": STRING,
            "items": _COUNT,
            "batch_ids": {"type": "array", "items": ID, "minItems": 1},
            "warnings": {"type": "array", "items": ref("Issue")},
        }
    ),
    "EligibilityBatch": _object(
        {
            "batch_id": ID,
            "status": enum_of(values_of(BatchStatus)),
            "expected": _COUNT,
            "stored": _COUNT,
            "passes": _COUNT,
            "submitted_at": TIME,
            "last_polled_at": nullable(TIME),
            "next_poll_at": nullable(TIME),
            "completed_at": nullable(TIME),
            "reason": nullable(STRING),
        }
    ),
    "EligibilityProgress": _object(
        {
            "id": ID,
            "account": STRING,
            "origin": enum_of(values_of(Origin)),
            "created_at": TIME,
            "status": enum_of(values_of(BatchStatus)),
            "expected": _COUNT,
            "stored": _COUNT,
            "results": {
                **_object(
                    {status: _COUNT for status in values_of(CoverageStatus)},
                    optional=values_of(CoverageStatus),
                ),
                "description": "Results stored, by coverage status",
            },
            "batches": {"type": "array", "items": ref("EligibilityBatch")},
        }
    ),
    "EraEnrollmentRecord": _ERA_RECORD,
    "EraEnrollmentRequest": _object(
        {
            "optum": {**ID, "description": "The local name of an Optum connection"},
            "records": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_RECORDS,
                "items": ref("EraEnrollmentRecord"),
            },
        }
    ),
    "EraSubmission": _object(
        {
            "id": ID,
            "optum": STRING,
            "payloadId": nullable(STRING),
            "status": enum_of(values_of(SubmissionStatus)),
            "records": _COUNT,
            "created_at": TIME,
            "polls": _COUNT,
            "last_polled_at": nullable(TIME),
            "next_poll_at": nullable(TIME),
            "reason": nullable(STRING),
            "trace_id": nullable(STRING),
            "completed_at": nullable(TIME),
            "result": nullable(
                {"type": "object", "description": "Optum's result document, once final"}
            ),
        }
    ),
}


def build_document(public_url: str) -> dict[str, Any]:
    """The OpenAPI document, with `public_url` as the server."""
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = operation_object(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "receiver", "version": __version__},
        "servers": [{"url": public_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "description": "Tokens from POST /oauth/token, sent as a Bearer token",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": f"{public_url.rstrip('/')}/oauth/token",
                            "scopes": {s: SCOPE_DESCRIPTIONS[s] for s in sorted(SCOPES)},
                        }
                    },
                },
                "clientBasic": {"type": "http", "scheme": "basic"},
                "stediHeader": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "stediBasic": {"type": "http", "scheme": "basic"},
            },
            "schemas": SCHEMAS,
        },
    }


async def document(request: Request) -> Response:
    """GET /openapi.json."""
    return ORJSONResponse(build_document(services(request).settings.public_url))

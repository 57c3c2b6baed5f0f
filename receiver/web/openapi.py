"""GET /openapi.json: the OpenAPI 3.1 document of every route, written out by hand."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from receiver import __version__
from receiver.web.deps import ORJSONResponse, services

_ERROR = {"$ref": "#/components/schemas/Error"}
_OAUTH_ERROR = {"$ref": "#/components/schemas/OAuthError"}
_ACK = {"$ref": "#/components/schemas/Ack"}
_SUB = {"$ref": "#/components/schemas/Subscription"}
_SUB_SECRET = {"$ref": "#/components/schemas/SubscriptionWithSecret"}
_DELIVERY = {"$ref": "#/components/schemas/DeliveryDetail"}
_NULLABLE_STRING = {"type": ["string", "null"]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed request or body",
        401: "Missing or wrong credentials",
        403: "Authenticated but not allowed",
        404: "Not found",
        409: "Not possible in the resource's current state",
        413: "Body over the size limit",
        415: "Body is not JSON",
        429: "Too many failures; see Retry-After",
        503: "Store unavailable; retry",
    }
    return {str(c): _json(_ERROR, text[c]) for c in codes}


def _query(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in names
    ]


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_REPLAY_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["since"],
    "properties": {
        "since": {
            "type": "string",
            "format": "date-time",
            "description": "Messages published at or after this time (with a timezone)",
        },
        "until": {
            "type": "string",
            "format": "date-time",
            "description": "Messages published before this time (default: now)",
        },
        "subscription_id": {"type": "string", "description": "Only this subscription's"},
        "status": {
            "type": "string",
            "enum": ["dead", "delivered", "all"],
            "default": "dead",
            "description": "Which finished deliveries to resend",
        },
        "dry_run": {"type": "boolean", "default": False, "description": "Only count"},
    },
}
_INTAKE_ERRORS = _errors(400, 401, 404, 403, 413, 415, 503)


def build_document(public_url: str) -> dict[str, Any]:
    """The OpenAPI document, with `public_url` as the server."""
    paths: dict[str, Any] = {
        "/oauth/token": {
            "post": {
                "summary": "Client-credentials token (RFC 6749 §4.4); Basic or form client auth",
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["grant_type"],
                                "properties": {
                                    "grant_type": {"const": "client_credentials"},
                                    "scope": {"type": "string"},
                                    "client_id": {"type": "string"},
                                    "client_secret": {"type": "string"},
                                },
                            }
                        }
                    }
                },
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Token"}, "Access token"),
                    "400": _json(
                        _OAUTH_ERROR, "invalid_request, unsupported_grant_type, invalid_scope"
                    ),
                    "401": _json(_OAUTH_ERROR, "invalid_client"),
                    "429": _json(_OAUTH_ERROR, "Too many failed attempts for this client"),
                },
            }
        },
        "/.well-known/jwks.json": {
            "get": {
                "summary": "Token verification keys",
                "responses": {"200": _json({"type": "object"}, "JWKS")},
            }
        },
        "/.well-known/oauth-authorization-server": {
            "get": {
                "summary": "RFC 8414 metadata",
                "responses": {"200": _json({"type": "object"}, "Metadata")},
            }
        },
        "/callbacks/optum/coverage-discovery": {
            "post": {
                "summary": "Optum Coverage Discovery result (scope callbacks:coverage-discovery)",
                "security": _BEARER,
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "204": {"description": "Stored (or already stored)"},
                    **_INTAKE_ERRORS,
                },
            }
        },
        "/webhooks/stedi/{account}": {
            "post": {
                "summary": "Stedi webhook (transaction.processed.v2, file.failed.v2, ...)",
                "parameters": [_path("account")],
                "security": [{"stediHeader": []}, {"stediBasic": []}],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"200": _json(_ACK, "Stored, or a duplicate"), **_INTAKE_ERRORS},
            }
        },
        "/webhooks/stedi/{account}/event-destinations": {
            "post": {
                "summary": "Stedi event destination (Standard Webhooks signature)",
                "parameters": [_path("account")],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"200": _json(_ACK, "Stored, or a duplicate"), **_INTAKE_ERRORS},
            }
        },
        "/events": {
            "get": {
                "summary": "Events, newest first (scope events:read)",
                "security": _BEARER,
                "parameters": _query(
                    "source", "type", "account", "status", "since", "until", "limit", "cursor"
                ),
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Page"}, "A page"),
                    **_errors(400, 401, 403),
                },
            }
        },
        "/events/{id}": {
            "get": {
                "summary": "One event with its body exactly as received (scope events:read)",
                "security": _BEARER,
                "parameters": [_path("id")],
                "responses": {
                    "200": _json({"type": "object"}, "The event"),
                    **_errors(401, 403, 404),
                },
            }
        },
        "/events/{id}/redeliver": {
            "post": {
                "summary": "Send the event's published messages again, same webhook-id and body, "
                "to the subscriptions that had a delivery of them (scope events:replay)",
                "security": _BEARER,
                "parameters": [_path("id")],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "subscription_id": {
                                        "type": "string",
                                        "description": "Only this subscription's deliveries",
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "202": _json(
                        {
                            "type": "object",
                            "properties": {
                                "event_id": {"type": "string"},
                                "requeued": {"type": "integer"},
                                "already_pending": {"type": "integer"},
                            },
                        },
                        "Delivered and dead deliveries are pending again; pending and running "
                        "ones were left alone",
                    ),
                    **_errors(400, 401, 403, 404, 409, 413, 415),
                },
            }
        },
        "/replays": {
            "post": {
                "summary": "Resend the deliveries of messages published in a time window, same "
                "webhook-id and body; counts only with dry_run (scope events:replay)",
                "security": _BEARER,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _REPLAY_BODY}},
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "dry_run": {"type": "boolean"},
                                "would_requeue": {"type": "integer"},
                                "already_pending": {"type": "integer"},
                                "over_limit": {"type": "boolean"},
                            },
                        },
                        "Dry run: what a replay would requeue; nothing was changed",
                    ),
                    "202": _json(
                        {
                            "type": "object",
                            "properties": {
                                "requeued": {"type": "integer"},
                                "already_pending": {"type": "integer"},
                            },
                        },
                        "The matching deliveries are pending again; pending and running ones "
                        "were left alone",
                    ),
                    **_errors(400, 401, 403, 404, 409, 413, 415),
                },
            }
        },
        "/jobs": {
            "get": {
                "summary": "Follow-up jobs, newest first (scope events:read)",
                "security": _BEARER,
                "parameters": _query("status", "kind", "event_id", "limit", "cursor"),
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Page"}, "A page"),
                    **_errors(400, 401, 403),
                },
            }
        },
        "/claims/{pcn}": {
            "get": {
                "summary": "A claim's timeline by patient control number (scope events:read)",
                "security": _BEARER,
                "parameters": [_path("pcn")],
                "responses": {
                    "200": _json({"type": "object"}, "837, 277CA and 835 entries in order"),
                    **_errors(401, 403, 404),
                },
            }
        },
        "/subscriptions": {
            "get": {
                "summary": "Subscriptions, oldest first, no secrets (scope subscriptions:write)",
                "security": _BEARER,
                "parameters": _query("include_removed"),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"items": {"type": "array", "items": _SUB}},
                        },
                        "Subscriptions",
                    ),
                    **_errors(400, 401, 403),
                },
            },
            "post": {
                "summary": "Add a subscription; its whsec_ secret is in this answer only "
                "(scope subscriptions:write)",
                "security": _BEARER,
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/NewSubscription"}
                        }
                    }
                },
                "responses": {
                    "201": _json(_SUB_SECRET, "Created"),
                    **_errors(400, 401, 403, 413, 415),
                },
            },
        },
        "/subscriptions/{id}": {
            "get": {
                "summary": "One subscription, removed ones too (scope subscriptions:write)",
                "security": _BEARER,
                "parameters": [_path("id")],
                "responses": {"200": _json(_SUB, "The subscription"), **_errors(401, 403, 404)},
            },
            "delete": {
                "summary": "Remove a subscription; its deliveries stay readable "
                "(scope subscriptions:write)",
                "security": _BEARER,
                "parameters": [_path("id")],
                "responses": {"204": {"description": "Removed"}, **_errors(401, 403, 404)},
            },
        },
        "/subscriptions/{id}/rotate-secret": {
            "post": {
                "summary": "New signing secret; the old one also signs for the grace period "
                "(scope subscriptions:write)",
                "security": _BEARER,
                "parameters": [_path("id")],
                "responses": {
                    "200": _json(_SUB_SECRET, "The new secret, shown once"),
                    **_errors(401, 403, 404, 409),
                },
            }
        },
        "/subscriptions/{id}/enable": {
            "post": {
                "summary": "Re-enable a disabled subscription (scope subscriptions:write)",
                "security": _BEARER,
                "parameters": [_path("id")],
                "responses": {
                    "200": _json(_SUB, "The subscription, active"),
                    **_errors(401, 403, 404, 409),
                },
            }
        },
        "/deliveries": {
            "get": {
                "summary": "Deliveries, newest first (scope events:read)",
                "security": _BEARER,
                "parameters": _query(
                    "subscription", "status", "type", "message", "limit", "cursor"
                ),
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Page"}, "A page of deliveries"),
                    **_errors(400, 401, 403),
                },
            }
        },
        "/deliveries/{id}": {
            "get": {
                "summary": "One delivery with its attempts (scope events:read)",
                "security": _BEARER,
                "parameters": [_path("id")],
                "responses": {
                    "200": _json(_DELIVERY, "The delivery and its attempts, oldest first"),
                    **_errors(401, 403, 404),
                },
            }
        },
        "/deliveries/{id}/retry": {
            "post": {
                "summary": "Send a dead delivery again, with a fresh attempt budget "
                "(scope events:replay)",
                "security": _BEARER,
                "parameters": [_path("id")],
                "responses": {
                    "202": _json({"type": "object"}, "Pending again"),
                    **_errors(401, 403, 404, 409),
                },
            }
        },
        "/healthz": {
            "get": {"summary": "Liveness", "responses": {"200": {"description": "Alive"}}}
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: the store answers",
                "responses": {"200": {"description": "Ready"}, **_errors(503)},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "Text exposition"}},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI"}}}
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "receiver", "version": __version__},
        "servers": [{"url": public_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "stediHeader": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "stediBasic": {"type": "http", "scheme": "basic"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
                },
                "OAuthError": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "error_description": {"type": "string"},
                    },
                },
                "Ack": {
                    "type": "object",
                    "properties": {
                        "status": {"enum": ["accepted", "duplicate"]},
                        "event_id": {"type": "string"},
                    },
                },
                "Token": {
                    "type": "object",
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"const": "Bearer"},
                        "expires_in": {"type": "integer"},
                        "scope": {"type": "string"},
                    },
                },
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
                        "account": _NULLABLE_STRING,
                        "description": {"type": "string", "maxLength": 500},
                    },
                },
                "Subscription": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "url": {"type": "string"},
                        "types": {"type": "array", "items": {"type": "string"}},
                        "account": _NULLABLE_STRING,
                        "description": {"type": "string"},
                        "status": {"enum": ["active", "disabled", "removed"]},
                        "disabled_reason": _NULLABLE_STRING,
                        "failing_since": _NULLABLE_STRING,
                        "created_at": {"type": "string"},
                        "updated_at": {"type": "string"},
                    },
                },
                "SubscriptionWithSecret": {
                    "allOf": [
                        _SUB,
                        {
                            "type": "object",
                            "properties": {
                                "secret": {"type": "string", "pattern": "^whsec_"},
                                "previous_secret_expires_at": _NULLABLE_STRING,
                            },
                        },
                    ]
                },
                "Delivery": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "message_id": {"type": "string"},
                        "subscription_id": {"type": "string"},
                        "type": {"type": "string"},
                        "account": _NULLABLE_STRING,
                        "status": {"enum": ["pending", "running", "delivered", "dead"]},
                        "attempts": {"type": "integer"},
                        "next_attempt_at": {"type": "string"},
                        "last_status": {"type": ["integer", "null"]},
                        "last_error": _NULLABLE_STRING,
                        "created_at": {"type": "string"},
                        "updated_at": {"type": "string"},
                    },
                },
                "DeliveryDetail": {
                    "type": "object",
                    "description": "A Delivery's fields, except that `attempts` lists every "
                    "attempt (oldest first) and `attempt_count` holds the count.",
                    "properties": {
                        "attempt_count": {"type": "integer"},
                        "attempts_since_requeue": {"type": "integer"},
                        "attempts": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "attempt": {"type": "integer"},
                                    "started_at": {"type": "string"},
                                    "duration_ms": {"type": "integer"},
                                    "status_code": {"type": ["integer", "null"]},
                                    "response_excerpt": _NULLABLE_STRING,
                                    "error": _NULLABLE_STRING,
                                },
                            },
                        },
                    },
                },
                "Page": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array"},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                },
            },
        },
    }


async def document(request: Request) -> Response:
    """GET /openapi.json."""
    return ORJSONResponse(build_document(services(request).settings.public_url))

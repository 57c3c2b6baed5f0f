"""OptumError, the one failure every Optum call raises, and how HTTP answers and transport
failures map to it: a kind for the retry policy, Optum's trace id for support, and never any
text from the response body (it can carry PHI) or a credential."""

from __future__ import annotations

import json
import re
from datetime import datetime

import httpx

from receiver.errors import ReceiverError
from receiver.policy import FailureKind, classify_status, parse_retry_after

TRACE_HEADER = "x-optum-trace-id"
TOKEN_ENDPOINT = "token endpoint"  # noqa: S105 - where a failure happened, not a secret
# Trace ids are UUIDs in every example; allow a little more, never free text.
_TRACE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# RFC 6749 §5.2 error codes are a closed vocabulary of lower-case words.
_OAUTH_CODE = re.compile(r"[a-z][a-z_]{0,63}")
# Errors before any byte of the request left: the request cannot have been acted on.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Gateway answers that say nothing about whether the backend acted on the request.
_GATEWAY_UNKNOWN = frozenset({502, 504})


class OptumError(ReceiverError):
    """An Optum call failed. `kind` says whether a retry may help (`NOT_FOUND` for a 404),
    `retry_after` how long Optum asked to wait, `trace_id` what Optum support needs, and
    `outcome_unknown` that a submission may have been accepted although no answer said so
    (a timeout after sending, a 502/504, an unreadable 2xx): resubmitting may duplicate it."""

    code = "optum_error"

    def __init__(
        self,
        kind: FailureKind,
        *,
        status: int | None,
        reason: str,
        retry_after: float | None = None,
        trace_id: str | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        message = reason if trace_id is None else f"{reason} (Optum trace id {trace_id})"
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        self.trace_id = trace_id
        self.outcome_unknown = outcome_unknown

    @property
    def is_not_found(self) -> bool:
        """Whether Optum answered 404 (for a result: unknown or not yet visible)."""
        return self.kind is FailureKind.NOT_FOUND

    def __repr__(self) -> str:
        return (
            f"OptumError(kind={self.kind.value!r}, status={self.status!r}, "
            f"reason={self.reason!r}, retry_after={self.retry_after!r}, "
            f"trace_id={self.trace_id!r}, outcome_unknown={self.outcome_unknown!r})"
        )


def status_error(response: httpx.Response, now: datetime, *, where: str) -> OptumError:
    """The OptumError for an unexpected status from `where` (TOKEN_ENDPOINT, "ERA
    enrollment"...). Token endpoint errors keep their RFC 6749 code; nothing else of a body
    is kept but its trace id. A 3xx is permanent: redirects are never followed."""
    status = response.status_code
    kind = classify_status(status) or FailureKind.PERMANENT
    body = parse_json(response.content)
    reason = f"{where}: HTTP {status}"
    at_token_endpoint = where == TOKEN_ENDPOINT
    code = body.get("error") if at_token_endpoint and isinstance(body, dict) else None
    if isinstance(code, str) and _OAUTH_CODE.fullmatch(code):
        reason = f"{reason} {code}"
    retry_after = None
    if kind is FailureKind.TRANSIENT:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    return OptumError(
        kind,
        status=status,
        reason=reason,
        retry_after=retry_after,
        trace_id=trace_id_of(response.headers, body),
        outcome_unknown=_is_api_post(response.request, where) and status in _GATEWAY_UNKNOWN,
    )


def transport_error(exc: httpx.TransportError | httpx.DecodingError, *, where: str) -> OptumError:
    """A transient OptumError for a timeout or connection failure talking to `where`, or an
    answer whose body does not decode; an API POST that may have reached Optum is marked
    `outcome_unknown`."""
    if isinstance(exc, httpx.TimeoutException):
        reason = f"{where}: timeout ({type(exc).__name__})"
    elif isinstance(exc, httpx.DecodingError):
        reason = f"{where}: undecodable answer ({type(exc).__name__})"
    else:
        reason = f"{where}: connection error ({type(exc).__name__})"
    try:
        sent = _is_api_post(exc.request, where) and not isinstance(exc, _NOT_SENT)
    except RuntimeError:  # an error raised without its request
        sent = False
    return OptumError(FailureKind.TRANSIENT, status=None, reason=reason, outcome_unknown=sent)


def _is_api_post(request: httpx.Request, where: str) -> bool:
    """Whether `request` could have changed something at Optum: a POST to an API (a token
    request is a POST too, but creates nothing)."""
    return request.method == "POST" and where != TOKEN_ENDPOINT


def trace_id_of(headers: httpx.Headers, body: object) -> str | None:
    """Optum's trace id: the `x-optum-trace-id` header (Enhanced Eligibility), else the
    body's `traceId` (ERA Enrollment), cleaned of the junk the spec examples carry; None
    when neither looks like an id."""
    in_body = body.get("traceId") if isinstance(body, dict) else None
    for value in (headers.get(TRACE_HEADER), in_body):
        if isinstance(value, str):
            cleaned = value.strip().rstrip(", \t")
            if _TRACE_ID.fullmatch(cleaned):
                return cleaned
    return None


def parse_json(content: bytes) -> object:
    """The JSON value of `content`, or None when it is not JSON."""
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None

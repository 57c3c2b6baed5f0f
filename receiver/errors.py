"""The one error tree; `receiver.web.errors` translates it to HTTP in one place.

ReceiverError                      500 internal_error (never raised directly)
├── BadRequestError                400 invalid_request
├── UnauthorizedError              401 unauthorized (with WWW-Authenticate)
│   └── SignatureError             401 invalid_signature
├── ForbiddenError                 403 forbidden
├── NotFoundError                  404 not_found
├── ConflictError                  409 conflict
├── PayloadTooLargeError           413 payload_too_large
├── UnsupportedMediaTypeError      415 unsupported_media_type
├── TooManyRequestsError           429 too_many_requests (with Retry-After)
├── StoreUnavailableError          503 store_unavailable
├── DecryptionError                503 decryption_failed (a key id is missing, or a sealed
│                                  value failed authentication; never the plaintext)
├── ConfigError                    settings or CLI input that cannot be used (no HTTP form)
├── OAuthError                     RFC 6749 §5.2: {"error", "error_description"}
│   (invalid_request, invalid_client, unsupported_grant_type, invalid_scope, ...)
└── BearerError                    RFC 6750 §3: invalid_token 401, insufficient_scope 403
"""

from __future__ import annotations


class ReceiverError(Exception):
    """Root of every error receiver raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, detail: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code
        self.headers = headers or {}


class BadRequestError(ReceiverError):
    """The request is malformed: bad JSON, a non-object body, a bad parameter."""

    status_code = 400
    code = "invalid_request"


class UnauthorizedError(ReceiverError):
    """Missing or wrong credentials for a webhook route (RFC 9110 requires a challenge)."""

    status_code = 401
    code = "unauthorized"
    challenge = 'Basic realm="receiver"'

    def __init__(self, detail: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": self.challenge, **(headers or {})})


class SignatureError(UnauthorizedError):
    """A Standard Webhooks signature is missing, malformed, stale or wrong."""

    code = "invalid_signature"
    challenge = 'Signature realm="receiver"'


class ForbiddenError(ReceiverError):
    """Authenticated, but not allowed to do this (wrong account, missing scope)."""

    status_code = 403
    code = "forbidden"


class NotFoundError(ReceiverError):
    """The named resource does not exist."""

    status_code = 404
    code = "not_found"


class ConflictError(ReceiverError):
    """The resource already exists."""

    status_code = 409
    code = "conflict"


class PayloadTooLargeError(ReceiverError):
    """The body is over the configured limit."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(ReceiverError):
    """The body is not JSON where JSON is required (the token endpoint answers a non-form body
    with 400 invalid_request instead, as RFC 6749 asks)."""

    status_code = 415
    code = "unsupported_media_type"


class TooManyRequestsError(ReceiverError):
    """Throttled; `Retry-After` says when to come back."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class StoreUnavailableError(ReceiverError):
    """The store could not read or write; senders should retry (never a 401: Stedi would
    deauthorize the webhook)."""

    status_code = 503
    code = "store_unavailable"


class DecryptionError(ReceiverError):
    """A sealed value or a wrapped data key cannot be opened: the message names the key id that
    is missing or says that authentication failed, and never carries plaintext. A 503, not a
    500: the data is intact and readable again once the right key is loaded."""

    status_code = 503
    code = "decryption_failed"

    def __init__(self, detail: str, *, key_id: str | None = None) -> None:
        super().__init__(detail)
        self.key_id = key_id


class ConfigError(ReceiverError):
    """A setting or a CLI argument that cannot be used; the message says which and why."""

    code = "config_error"


class OAuthError(ReceiverError):
    """An RFC 6749 §5.2 token-endpoint error, named as the RFC (and Authlib) name them."""

    def __init__(
        self,
        code: str,
        description: str,
        *,
        status_code: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description, headers=headers)
        self.code = code
        self.status_code = status_code


def invalid_client() -> OAuthError:
    """The one answer for an unknown client and a wrong secret alike."""
    return OAuthError(
        "invalid_client",
        "client authentication failed",
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="receiver"'},
    )


class BearerError(ReceiverError):
    """An RFC 6750 error on a Bearer-protected route."""

    def __init__(self, code: str, description: str, *, scope: str | None = None) -> None:
        challenge = f'Bearer realm="receiver", error="{code}"'
        if scope:
            challenge += f', scope="{scope}"'
        super().__init__(description, headers={"WWW-Authenticate": challenge})
        self.code = code
        self.status_code = 403 if code == "insufficient_scope" else 401

"""Optum connections (tenant and client credentials, per-API endpoints) and the URLs built
from them: only configured base URLs and validated ids ever go into a request URL."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

# The ERA Enrollment API lives under this path of the API gateway (the spec's sandbox server
# is https://sandbox-apigw.optum.com/intelligentclearinghouse/iedi/enrollment/v1; the
# production path is not published, so a connection can override the whole base URL).
ERA_ENROLLMENT_PATH = "/intelligentclearinghouse/iedi/enrollment/v1"
COVERAGE_DISCOVERY_PATH = "/rcm/eligibility/v1/coverage-discovery"

# Payload and task ids: letters, digits and hyphens. Not UUIDs only: the spec's own examples
# ("e2ea9f8f-2460-4330-8c78-6ad7624fda855") are not valid UUIDs.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
# What may go into a header value we send: visible ASCII and inner spaces, nothing else.
_HEADER_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?")


class OptumApi(enum.StrEnum):
    """The Optum APIs receiver calls; each has its own base URL and token URL."""

    ERA_ENROLLMENT = "era_enrollment"
    ENHANCED_ELIGIBILITY = "enhanced_eligibility"


class TokenAuthMethod(enum.StrEnum):
    """How the client credentials reach Optum's token endpoint (RFC 6749 §2.3.1)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - a method name
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 - a method name


# The header each API reads the tenant from: the ERA Enrollment spec requires `tenant-id`;
# the Enhanced Eligibility spec names the tenant `x-optum-tenant-id` (on its responses and
# on the callbacks it sends).
TENANT_HEADERS = {
    OptumApi.ERA_ENROLLMENT: "tenant-id",
    OptumApi.ENHANCED_ELIGIBILITY: "x-optum-tenant-id",
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one API answers, where its tokens come from, and the scope to ask for (none is
    sent when None)."""

    base_url: str
    token_url: str
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class OptumDefaults:
    """The configured hosts (RECEIVER_OPTUM_BASE_URL, RECEIVER_OPTUM_TOKEN_URL) that every
    connection uses unless it overrides them."""

    base_url: str = "https://apigw.optum.com"
    token_url: str = "https://apigw.optum.com/apip/auth/v2/token"  # noqa: S105 - a URL

    def __post_init__(self) -> None:
        check_url("base_url", self.base_url)
        check_url("token_url", self.token_url)


_URL_FIELDS = ("era_base_url", "era_token_url", "eligibility_base_url", "eligibility_token_url")


@dataclass(frozen=True, slots=True)
class OptumConnection:
    """One Optum tenant and the client credentials receiver calls its APIs with.

    The `era_*` and `eligibility_*` fields override the defaults for that API only: the two
    API generations may take tokens from different token URLs. The secret never appears in
    the repr.
    """

    name: str
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    token_auth_method: TokenAuthMethod = TokenAuthMethod.CLIENT_SECRET_BASIC
    era_base_url: str | None = None
    era_token_url: str | None = None
    era_scope: str | None = None
    eligibility_base_url: str | None = None
    eligibility_token_url: str | None = None
    eligibility_scope: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("connection name must not be empty")
        if not _HEADER_VALUE.fullmatch(self.tenant_id):
            raise ValueError("tenant id must be visible ASCII characters (at most 256)")
        if not self.client_id or not self.client_secret:
            raise ValueError("client id and client secret must not be empty")
        object.__setattr__(self, "token_auth_method", TokenAuthMethod(self.token_auth_method))
        for name in _URL_FIELDS:
            value = getattr(self, name)
            if value is not None:
                check_url(name, value)

    def endpoint(self, api: OptumApi, defaults: OptumDefaults) -> Endpoint:
        """The endpoint this connection uses for `api`: its overrides, else the defaults."""
        if api is OptumApi.ERA_ENROLLMENT:
            base = self.era_base_url or defaults.base_url + ERA_ENROLLMENT_PATH
            return Endpoint(base, self.era_token_url or defaults.token_url, self.era_scope)
        base = self.eligibility_base_url or defaults.base_url
        token_url = self.eligibility_token_url or defaults.token_url
        return Endpoint(base, token_url, self.eligibility_scope)


def check_url(name: str, value: str) -> str:
    """`value` if it is an absolute http(s) URL with no credentials, query or fragment."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise ValueError(f"{name} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{name} must not carry credentials")
    if parts.query or parts.fragment:
        raise ValueError(f"{name} must not have a query or fragment")
    return value


def is_safe_id(value: str) -> bool:
    """Whether `value` is safe as one URL path segment: 1-64 letters, digits or hyphens, not
    starting with a hyphen."""
    return _ID.fullmatch(value) is not None


def check_id(value: str, what: str) -> str:
    """`value` if `is_safe_id`, else ValueError naming `what` but not the value."""
    if not isinstance(value, str) or not is_safe_id(value):
        raise ValueError(f"{what} must be 1-64 letters, digits or hyphens")
    return value


def era_submission_url(endpoint: Endpoint) -> str:
    """`POST` here to submit ERA enrollment records."""
    return f"{endpoint.base_url.rstrip('/')}/era/enrollment-submission"


def era_result_url(endpoint: Endpoint, payload_id: str) -> str:
    """`GET` here for the results of one submission, built from a validated payload id."""
    safe = quote(check_id(payload_id, "payload id"), safe="")
    return f"{endpoint.base_url.rstrip('/')}/era/results/{safe}"


def coverage_discovery_url(endpoint: Endpoint, task_id: str | None = None) -> str:
    """The Coverage Discovery task list, or one task by its validated id."""
    url = f"{endpoint.base_url.rstrip('/')}{COVERAGE_DISCOVERY_PATH}"
    if task_id is None:
        return url
    return f"{url}/{quote(check_id(task_id, 'task id'), safe='')}"

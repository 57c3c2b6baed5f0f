"""The authorization server metadata document (RFC 8414) for our token endpoint."""

from __future__ import annotations

from receiver.auth.clients import SCOPES

TOKEN_PATH = "/oauth/token"  # noqa: S105 (a route, not a credential)
JWKS_PATH = "/.well-known/jwks.json"


def authorization_server_metadata(public_url: str) -> dict[str, object]:
    """What `/.well-known/oauth-authorization-server` serves, for the issuer `public_url`."""
    issuer = public_url.rstrip("/")
    return {
        "issuer": issuer,
        "token_endpoint": issuer + TOKEN_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(SCOPES),
        # No authorization endpoint: the only grant is client_credentials.
        "response_types_supported": [],
    }

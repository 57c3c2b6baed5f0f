"""The RFC 8414 authorization server metadata document."""

from __future__ import annotations

from receiver.auth.metadata import authorization_server_metadata

URL = "https://receiver.example.com"


def test_authorization_server_metadata() -> None:
    document = authorization_server_metadata(URL + "/")
    assert document == {
        "issuer": URL,
        "token_endpoint": URL + "/oauth/token",
        "jwks_uri": URL + "/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": [
            "audit:read",
            "callbacks:coverage-discovery",
            "eligibility:write",
            "enrollment:write",
            "events:read",
            "events:replay",
            "subscriptions:write",
        ],
        "response_types_supported": [],
    }

"""A stand-in for Optum as a sender: it takes a token from receiver's token endpoint, then
sends a Coverage Discovery callback with it, as Optum does."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

CALLBACK_PATH = "/callbacks/optum/coverage-discovery"


@dataclass(frozen=True, slots=True)
class CallbackSent:
    """What the callback's two requests were answered: the token's scope, the callback's status."""

    scope: str
    status_code: int


def send_coverage_discovery(
    http: httpx.Client,
    *,
    client_id: str,
    client_secret: str,
    body: bytes,
    headers: dict[str, str],
) -> CallbackSent:
    """Take a token (client credentials, HTTP Basic) from `http`'s base URL, then POST `body`
    to the callback with it and `headers` (the tenant and correlation ids Optum sends)."""
    answer = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
    )
    answer.raise_for_status()
    granted = answer.json()
    sent = http.post(
        CALLBACK_PATH,
        content=body,
        headers={
            **headers,
            "content-type": "application/json",
            "authorization": f"Bearer {granted['access_token']}",
        },
    )
    return CallbackSent(scope=str(granted.get("scope", "")), status_code=sent.status_code)

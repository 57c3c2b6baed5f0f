"""A downstream subscriber (tests, the demo): verifies Standard Webhooks signatures, records what
arrived, and answers as scripted (status codes, delays, Retry-After, redirects)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Received:
    """One request the sink got."""

    webhook_id: str
    timestamp: str
    signature: str
    host: str
    body: bytes
    verified_with: tuple[str, ...]  # the secrets whose signature checked out
    cookie: str | None = None  # a Cookie header, if one came


@dataclass
class SinkState:
    """What the sink knows (`secrets` to verify with) and does (`script`, `delay_seconds`)."""

    secrets: tuple[str, ...]
    script: list[int] = field(default_factory=list)  # statuses to answer next; then 200
    delay_seconds: float = 0.0
    retry_after: str | None = None
    location: str | None = None  # sent with a scripted 3xx
    reply: bytes = b'{"ok":true}'
    set_cookie: str | None = None  # sent as Set-Cookie on every answer
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]


def create_sink(secrets: tuple[str, ...]) -> tuple[Starlette, SinkState]:
    """The sink app and its state."""
    state = SinkState(secrets=secrets)

    async def hook(request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        verified: list[str] = []
        for secret in state.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified.append(secret)
        with state._lock:
            state.received.append(
                Received(
                    webhook_id=headers.get("webhook-id", ""),
                    timestamp=headers.get("webhook-timestamp", ""),
                    signature=headers.get("webhook-signature", ""),
                    host=headers.get("host", ""),
                    body=body,
                    verified_with=tuple(verified),
                    cookie=headers.get("cookie"),
                )
            )
            status = state.script.pop(0) if state.script else 200
        if state.delay_seconds:
            await asyncio.sleep(state.delay_seconds)
        out: dict[str, str] = {}
        if state.retry_after is not None and status >= 400:
            out["retry-after"] = state.retry_after
        if state.set_cookie is not None:
            out["set-cookie"] = state.set_cookie
        if 300 <= status < 400 and state.location:
            out["location"] = state.location
        return Response(state.reply, status_code=status, headers=out)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    return app, state

"""The bench baseline: a minimal Starlette app that reads the body, parses it and checks a key."""

from __future__ import annotations

import argparse
import hmac
import os

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Environment variables the bench sets for this process (secrets never go on command lines).
HEADER_ENV = "RECEIVER_BENCH_HEADER"
SECRET_ENV = "RECEIVER_BENCH_SECRET"  # noqa: S105 - the name of a variable, not a secret

_JSON = "application/json"


def create_baseline_app(header: str, secret: str) -> Starlette:
    """POST anything: 401 unless `header` equals `secret`, 400 unless the body is a JSON object."""
    name = header.lower()
    expected = secret.encode()

    async def intake(request: Request) -> Response:
        presented = request.headers.get(name, "").encode()
        if not hmac.compare_digest(presented, expected):
            return Response(b'{"error":"unauthorized"}', 401, media_type=_JSON)
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            return Response(b'{"error":"bad_request"}', 400, media_type=_JSON)
        return Response(orjson.dumps({"status": "accepted"}), media_type=_JSON)

    async def healthz(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=_JSON)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{path:path}", intake, methods=["POST"]),
        ]
    )


def main() -> None:
    """`python -m receiver.bench.baseline --port N`, header name and secret from the environment."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_baseline_app(os.environ.get(HEADER_ENV, "x-api-key"), os.environ[SECRET_ENV])
    # The same uvicorn settings as `receiver serve` (receiver/cli/serve.py).
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()

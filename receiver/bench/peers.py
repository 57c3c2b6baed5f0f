"""The end-to-end bench's peers: a mock Stedi serving the 835 report (or, in an outage, 503) and
a sink timing arrivals."""

from __future__ import annotations

import argparse
import asyncio
import hmac
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from receiver.bench.report835 import REPORT_835
from receiver.bench.servers import python_module

# The API key the mock Stedi expects in `Authorization` (never on a command line).
API_KEY_ENV = "RECEIVER_BENCH_STEDI_KEY"
REPORT_PATH = "/change/medicalnetwork/reports/v2/{transaction_id}/835"
HOOK_PATH = "/hook"
OUTAGE_PATH = "/control/outage"  # POST {"on": bool}: the mock Stedi answers 503 while on
STATS_PATH = "/control/stats"  # GET: report fetches answered, by status

_JSON = "application/json"


async def _healthz(_: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=_JSON)


def command(host: str, stedi_port: int, sink_port: int, *, outage: bool = False) -> list[str]:
    """The command line that runs these peers on `host` (the mock Stedi able to play an
    outage with `outage`)."""
    ports = ["--stedi-port", str(stedi_port), "--sink-port", str(sink_port)]
    return python_module(__name__, "--host", host, *ports, *(["--outage"] if outage else []))


def create_mock_stedi(api_key: str, *, outage: bool = False) -> Starlette:
    """GET the 835 report of any transaction: the fixture, 401 without the right API key, or
    503 while in an outage (from the start with `outage`; POST OUTAGE_PATH turns it on or off
    and answers the wall-clock ns of the change). GET STATS_PATH counts answers by status."""
    expected = api_key.encode()
    body = orjson.dumps(REPORT_835)
    state = {"outage": outage}
    served: dict[str, int] = {}

    async def report(request: Request) -> Response:
        presented = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(presented, expected):
            status, answer = 401, Response(b'{"message":"Unauthorized"}', 401, media_type=_JSON)
        elif state["outage"]:
            status, answer = 503, Response(b'{"message":"Unavailable"}', 503, media_type=_JSON)
        else:
            status, answer = 200, Response(body, media_type=_JSON)
        served[str(status)] = served.get(str(status), 0) + 1
        return answer

    async def switch(request: Request) -> Response:
        state["outage"] = bool(orjson.loads(await request.body()).get("on"))
        return Response(orjson.dumps({"changed_at_ns": time.time_ns()}), media_type=_JSON)

    async def stats(_: Request) -> Response:
        return Response(orjson.dumps({"served": served}), media_type=_JSON)

    return Starlette(
        routes=[
            Route("/healthz", _healthz, methods=["GET"]),
            Route(REPORT_PATH, report, methods=["GET"]),
            Route(OUTAGE_PATH, switch, methods=["POST"]),
            Route(STATS_PATH, stats, methods=["GET"]),
        ]
    )


def create_sink() -> Starlette:
    """POST /hook answers 200 and records (transaction id, wall-clock arrival ns) and the
    `webhook-id` per delivery; GET /count says how many arrived, GET /results lists them."""
    arrivals: list[tuple[str, int]] = []
    webhook_ids: list[str] = []

    async def hook(request: Request) -> Response:
        arrived_ns = time.time_ns()  # CLOCK_REALTIME: comparable with the sender's clock
        body = await request.body()
        try:
            data = orjson.loads(body).get("data") or {}
            transaction_id = str(data.get("transaction_id") or "")
        except (orjson.JSONDecodeError, AttributeError):
            transaction_id = ""
        arrivals.append((transaction_id, arrived_ns))
        webhook_ids.append(request.headers.get("webhook-id", ""))
        return Response(b'{"ok":true}', media_type=_JSON)

    async def count(_: Request) -> Response:
        return Response(orjson.dumps({"count": len(arrivals)}), media_type=_JSON)

    async def results(_: Request) -> Response:
        return Response(
            orjson.dumps({"arrivals": arrivals, "webhook_ids": webhook_ids}), media_type=_JSON
        )

    return Starlette(
        routes=[
            Route("/healthz", _healthz, methods=["GET"]),
            Route(HOOK_PATH, hook, methods=["POST"]),
            Route("/count", count, methods=["GET"]),
            Route("/results", results, methods=["GET"]),
        ]
    )


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `serve_both` (two servers share one process)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_both(
    host: str, stedi_port: int, sink_port: int, api_key: str, *, outage: bool = False
) -> None:
    """Serve the mock Stedi (in an outage from the start with `outage`) and the sink on their
    ports until SIGTERM or SIGINT."""
    servers = [
        _Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                server_header=False,
                lifespan="off",
            )
        )
        for app, port in (
            (create_mock_stedi(api_key, outage=outage), stedi_port),
            (create_sink(), sink_port),
        )
    ]

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(server.serve() for server in servers))


def main() -> None:
    """`python -m receiver.bench.peers --stedi-port N --sink-port M [--outage]`, the key from
    the env."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--stedi-port", type=int, required=True)
    parser.add_argument("--sink-port", type=int, required=True)
    parser.add_argument("--outage", action="store_true", help="answer 503 until turned off")
    args = parser.parse_args()
    coroutine = serve_both(
        args.host, args.stedi_port, args.sink_port, os.environ[API_KEY_ENV], outage=args.outage
    )
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        asyncio.run(coroutine)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coroutine)


if __name__ == "__main__":
    main()

"""A scriptable stand-in for Stedi's report, poll-transactions and transaction input and output
endpoints (both redirect to a presigned-style download path on the same server, which serves
the 837 X12), served by uvicorn in a thread over loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.demo.serving import serve_app

REPORT_FIXTURES = {
    "277": "stedi/report-277ca.accepted.json",
    "835": "stedi/report-835-era.json",
}

POLL_FIXTURE = "stedi/poll-transactions.response.json"
OUTPUT_FIXTURE = "stedi/transaction-837p.x12"
DOWNLOAD_QUERY = "X-Amz-Expires=300&X-Amz-Signature=synthetic0signature"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the mock saw: its path, (lower-cased) headers and raw query string."""

    path: str
    headers: dict[str, str]
    query: str = ""


@dataclass
class MockStediState:
    """What the mock saw, and how it should behave; tests set the behaviour fields."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # The JSON body of scripted answers; None: {"message": "scripted <status>"}.
    error_body: dict[str, object] | None = None
    # Reports served instead of the fixtures, by kind ("277", "835"): a corrected report.
    reports: dict[str, bytes] = field(default_factory=dict)
    delay_seconds: float = 0.0
    api_key: str | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    # Poll-transactions pages served in turn (the last one repeats); None serves the fixture
    # for a startDateTime request and an empty last page for a pageToken request.
    poll_pages: list[dict[str, object]] | None = None
    # Transaction input and output: None redirects (302) to this server's /download/{id}; a
    # base URL (e.g. "http://localhost:PORT") redirects there instead; "" answers 200 with the
    # X12.
    output_redirect_base: str | None = None
    # The X12 the output (or its download) serves; None serves the 837 fixture.
    output_body: bytes | None = None
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def enter(self, request: RecordedRequest) -> tuple[int, dict[str, str]] | None:
        """Record a request, count it in flight, and pop the next scripted response."""
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.script.pop(0) if self.script else None

    def leave(self) -> None:
        """Count a request as no longer in flight."""
        with self._lock:
            self.in_flight -= 1


def scripted_answer(state: MockStediState, status: int, headers: dict[str, str]) -> Response:
    """A scripted answer: `state.error_body`, or a message naming the status."""
    body = state.error_body if state.error_body is not None else {"message": f"scripted {status}"}
    return JSONResponse(body, status, headers=headers)


Handler = Callable[[Request], Awaitable[Response]]


def as_stedi_api(state: MockStediState, serve: Handler) -> Handler:
    """An endpoint answering as Stedi's API does: the request recorded and counted in flight,
    `state.delay_seconds` waited, a wrong API key refused (401), the next scripted answer if
    one is due; otherwise what `serve` answers."""

    async def endpoint(request: Request) -> Response:
        scripted = state.enter(
            RecordedRequest(request.url.path, dict(request.headers), request.url.query)
        )
        try:
            if state.delay_seconds:
                await asyncio.sleep(state.delay_seconds)
            if state.api_key is not None and request.headers.get("authorization") != state.api_key:
                return JSONResponse({"message": "Unauthorized"}, status_code=401)
            if scripted is not None:
                status, headers = scripted
                return scripted_answer(state, status, headers)
            return await serve(request)
        finally:
            state.leave()

    return endpoint


def create_mock_stedi(fixtures_dir: Traversable) -> tuple[Starlette, MockStediState]:
    """The mock app (report fixtures read from `fixtures_dir/stedi/`) and its state."""
    state = MockStediState()
    bodies = {kind: (fixtures_dir / name).read_bytes() for kind, name in REPORT_FIXTURES.items()}

    async def report(request: Request) -> Response:
        kind = request.path_params["kind"]
        body = state.reports.get(kind, bodies.get(kind))
        if body is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return Response(body, media_type="application/json")

    poll_body = (fixtures_dir / POLL_FIXTURE).read_bytes()

    async def poll(request: Request) -> Response:
        if state.poll_pages is not None:
            with state._lock:
                pages = state.poll_pages
                page = pages.pop(0) if len(pages) > 1 else (pages or [{"items": []}])[0]
            return JSONResponse(page)
        if "pageToken" in request.query_params:
            return JSONResponse({"items": []})
        return Response(poll_body, media_type="application/json")

    output_body = (fixtures_dir / OUTPUT_FIXTURE).read_bytes()

    async def output(request: Request) -> Response:
        if state.output_redirect_base == "":
            return Response(state.output_body or output_body, media_type="application/edi-x12")
        base = state.output_redirect_base or str(request.base_url).rstrip("/")
        transaction_id = request.path_params["transaction_id"]
        location = f"{base}/download/{transaction_id}?{DOWNLOAD_QUERY}"
        return Response(status_code=302, headers={"Location": location})

    async def download(request: Request) -> Response:
        recorded = RecordedRequest(request.url.path, dict(request.headers), request.url.query)
        scripted = state.enter(recorded)
        try:
            if scripted is not None:
                status, headers = scripted
                return Response(f"scripted {status}", status, headers=headers)
            if "authorization" in request.headers:
                # As S3 does: a presigned URL carries its own auth and refuses a second one.
                return Response("Only one auth mechanism allowed", status_code=400)
            if request.url.query != DOWNLOAD_QUERY:
                return Response("SignatureDoesNotMatch", status_code=403)
            return Response(state.output_body or output_body, media_type="binary/octet-stream")
        finally:
            state.leave()

    routes = [
        Route(
            "/change/medicalnetwork/reports/v2/{transaction_id}/{kind}",
            as_stedi_api(state, report),
        ),
        Route("/polling/transactions", as_stedi_api(state, poll)),
        Route("/transactions/{transaction_id}/output", as_stedi_api(state, output)),
        Route("/transactions/{transaction_id}/input", as_stedi_api(state, output)),
        Route("/download/{transaction_id}", download),
    ]
    return Starlette(routes=routes), state


@contextmanager
def serve_mock_stedi(
    fixtures_dir: Traversable, *, tls: tuple[str, str] | None = None
) -> Iterator[tuple[str, MockStediState]]:
    """Run the mock under uvicorn on a free loopback port; yields (base URL, state). `tls`
    (certificate file, key file) serves it over https."""
    app, state = create_mock_stedi(fixtures_dir)
    with serve_app(app, "mock-stedi", tls=tls) as base_url:
        yield base_url, state

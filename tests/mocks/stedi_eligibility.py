"""A scriptable mock of Stedi's eligibility endpoints (real-time v3, batch submit, batch
status, batch polling), served by uvicorn in a thread over loopback."""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import fixture_bytes
from tests.mocks.serving import serve_app

ACTIVE_FIXTURE = "stedi/eligibility-check.active.response.json"
CUSTOMER_LIMIT_BODY = {"message": "Request throttled: CUSTOMER_LIMIT", "code": "TOO_MANY_REQUESTS"}


def active_response(check_id: str | None = None, **fields: object) -> dict[str, Any]:
    """The active-coverage fixture with a fresh (or the given) `ec_` id and `fields` set."""
    body: dict[str, Any] = json.loads(fixture_bytes(ACTIVE_FIXTURE))
    body["id"] = check_id or f"ec_{uuid.uuid4()}"
    body.update(fields)
    return body


def poll_item(batch_id: str, number: int, *, error: bool = False) -> dict[str, Any]:
    """One batch poll item: active coverage, or an AAA error, with a stable `ec_` id."""
    item = active_response(
        f"ec_00000000-0000-4000-8000-{number:012d}",
        batchId=batch_id,
        submitterTransactionIdentifier=f"STI{number:06d}",
    )
    if error:
        item.pop("benefitsInformation", None)
        item.pop("planStatus", None)
        item["errors"] = [
            {
                "code": "72",
                "description": "Invalid/Missing Subscriber/Insured ID",
                "followupAction": "Please Correct and Resubmit",
                "location": "Loop 2100C",
            }
        ]
    return item


@dataclass(frozen=True, slots=True)
class Seen:
    """One request the mock saw."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None


@dataclass
class MockEligibilityState:
    """What the mock saw, and how it answers; tests set the behaviour fields."""

    api_key: str | None = None
    # Real-time: scripted (status, body) answers first, then 200 with a fresh active response.
    check_script: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    check_delay_seconds: float = 0.0
    # Batch submission: scripted (status, body) answers first (None: answer as usual), then
    # 200 with a new batch id.
    submit_script: list[tuple[int, dict[str, Any]] | None] = field(default_factory=list)
    submitted: list[list[dict[str, Any]]] = field(default_factory=list)
    # Batch status: totalCount by batch id.
    batch_totals: dict[str, int] = field(default_factory=dict)
    # Polling: pages (a body, or (status, body)) served in turn; then empty pages.
    poll_pages: list[dict[str, Any] | tuple[int, dict[str, Any]]] = field(default_factory=list)
    # What a poll gets once `poll_pages` is used up: None, an empty last page; else this
    # (status, body), e.g. a 503 outage.
    poll_when_empty: tuple[int, dict[str, Any]] | None = None
    requests: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def seen(self, path: str) -> list[Seen]:
        """The requests to `path`, in order."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith(path)]


def build_app(state: MockEligibilityState) -> Starlette:
    """The mock's routes."""

    async def record(request: Request) -> Response | None:
        body: Any = None
        raw = await request.body()
        if raw:
            body = json.loads(raw)
        with state._lock:
            state.requests.append(
                Seen(
                    request.method,
                    request.url.path,
                    dict(request.query_params),
                    {k.lower(): v for k, v in request.headers.items()},
                    body,
                )
            )
        if state.api_key is not None and request.headers.get("authorization") != state.api_key:
            return JSONResponse({"message": "Unauthorized", "code": "UNAUTHORIZED"}, 401)
        return None

    async def check(request: Request) -> Response:
        refused = await record(request)
        if refused is not None:
            return refused
        with state._lock:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            scripted = state.check_script.pop(0) if state.check_script else None
        try:
            await asyncio.sleep(state.check_delay_seconds)
            if scripted is not None:
                return JSONResponse(scripted[1], scripted[0])
            return JSONResponse(active_response())
        finally:
            with state._lock:
                state.in_flight -= 1

    async def submit(request: Request) -> Response:
        refused = await record(request)
        if refused is not None:
            return refused
        with state._lock:
            scripted = state.submit_script.pop(0) if state.submit_script else None
            if scripted is not None:
                return JSONResponse(scripted[1], scripted[0])
            items = state.requests[-1].body["items"]
            state.submitted.append(items)
            batch_id = f"01958a3c-0000-7000-8000-{len(state.submitted):012d}"
            state.batch_totals[batch_id] = len(items)
        return JSONResponse({"batchId": batch_id, "submittedAt": "2025-03-12T13:05:41Z"})

    async def status(request: Request) -> Response:
        refused = await record(request)
        if refused is not None:
            return refused
        batch_id = request.path_params["batch_id"]
        total = state.batch_totals.get(batch_id)
        if total is None:
            return JSONResponse({"message": "not found"}, 404)
        return JSONResponse(
            {
                "id": batch_id,
                "batchType": "ELIGIBILITY",
                "status": "IN_PROGRESS",
                "totalCount": total,
                "maxRetryHours": 8,
            }
        )

    async def poll(request: Request) -> Response:
        refused = await record(request)
        if refused is not None:
            return refused
        with state._lock:
            if state.poll_pages:
                page = state.poll_pages.pop(0)
            else:
                page = state.poll_when_empty or {"items": []}
        status, body = page if isinstance(page, tuple) else (200, page)
        body = copy.deepcopy(body)
        data = json.dumps(body).encode()
        size = int(request.query_params.get("pageSize", "10"))
        if size > 20 and "gzip" in request.headers.get("accept-encoding", ""):
            return Response(
                gzip.compress(data),
                status,
                headers={"content-encoding": "gzip", "content-type": "application/json"},
            )
        return Response(data, status, media_type="application/json")

    return Starlette(
        routes=[
            Route("/change/medicalnetwork/eligibility/v3", check, methods=["POST"]),
            Route("/eligibility-manager/batch-eligibility", submit, methods=["POST"]),
            Route("/eligibility-manager/batch/{batch_id}", status, methods=["GET"]),
            Route("/eligibility-manager/polling/batch-eligibility", poll, methods=["GET"]),
        ]
    )


@contextmanager
def mock_stedi_eligibility(
    state: MockEligibilityState | None = None,
) -> Iterator[tuple[str, MockEligibilityState]]:
    """Serve the mock until the block ends; yields its base URL and its state."""
    state = state or MockEligibilityState()
    with serve_app(build_app(state), "mock-stedi-eligibility") as url:
        yield url, state

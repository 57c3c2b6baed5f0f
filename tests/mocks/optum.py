"""A scriptable mock of Optum: its client-credentials token endpoints (both generations),
the ERA Enrollment API (submission, results that go Processing, Processing, Complete) and the
Coverage Discovery task list with offset paging, served by uvicorn in a thread over
loopback."""

from __future__ import annotations

import base64
import copy
import itertools
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.mocks.serving import serve_app

TOKEN_PATHS = ("/apip/auth/v2/token", "/apip/auth/sntl/v1/token")
ERA_PREFIX = "/intelligentclearinghouse/iedi/enrollment/v1"
DISCOVERY_PATH = "/rcm/eligibility/v1/coverage-discovery"
RESULT_FIXTURES = (
    "optum/era-enrollment.results.processing.json",
    "optum/era-enrollment.results.processing.json",
    "optum/era-enrollment.results.complete.json",
)
NOT_FOUND_FIXTURE = "optum/era-enrollment.error-404.json"
TASK_FIXTURE = "optum/coverage-discovery.callback.success.json"


@dataclass(frozen=True, slots=True)
class Seen:
    """One request the mock saw: method, path, (lower-cased) headers, query and body."""

    method: str
    path: str
    headers: dict[str, str]
    query: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Issued:
    """A token the mock issued, with what it was asked for."""

    access_token: str
    token_path: str
    scope: str | None


@dataclass
class MockOptumState:
    """What the mock knows and saw; tests set the behaviour fields.

    `script` holds (status, headers) answers for the next API requests (after the Bearer and
    tenant checks); `token_script` the same for the token endpoint."""

    client_id: str
    client_secret: str
    tenant_id: str
    auth_method: str = "client_secret_basic"
    expires_in: int | None = 120
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    token_script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    link_base: str = ""  # prefix of the `link` header's target: a foreign host in some tests
    send_total_count: bool = True
    send_link: bool = True
    refuse_tokens: bool = False  # the API answers 401 to every token, new ones too
    tasks: list[dict[str, object]] = field(default_factory=list)
    issued: list[Issued] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    requests: list[Seen] = field(default_factory=list)
    token_requests: list[Seen] = field(default_factory=list)
    submissions: dict[str, list[object]] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def revoke_all(self) -> None:
        """Make the API answer 401 to every token issued so far."""
        with self._lock:
            self.revoked.update(token.access_token for token in self.issued)

    def api_requests(self) -> list[Seen]:
        """The API requests seen so far (not the token requests)."""
        with self._lock:
            return list(self.requests)


def create_mock_optum(fixtures_dir: Path, state: MockOptumState) -> Starlette:
    """The mock app, answering from the fixtures in `fixtures_dir/optum/`."""
    results = [json.loads((fixtures_dir / name).read_bytes()) for name in RESULT_FIXTURES]
    not_found = json.loads((fixtures_dir / NOT_FOUND_FIXTURE).read_bytes())
    counter = itertools.count(1)

    async def token(request: Request) -> Response:
        body = await request.body()
        seen = _seen(request, body)
        with state._lock:
            state.token_requests.append(seen)
            scripted = state.token_script.pop(0) if state.token_script else None
        if scripted is not None:
            return JSONResponse({"error": "temporarily_unavailable"}, scripted[0], scripted[1])
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        expected = (state.client_id, state.client_secret)
        if _credentials(request, form, state.auth_method) != expected:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "bad client"},
                401,
                headers={"WWW-Authenticate": "Basic"},
            )
        access_token = f"tok{next(counter)}-{secrets.token_hex(8)}"
        issued = Issued(access_token, request.url.path, form.get("scope"))
        with state._lock:
            state.issued.append(issued)
        answer: dict[str, object] = {"access_token": issued.access_token, "token_type": "Bearer"}
        if state.expires_in is not None:
            answer["expires_in"] = state.expires_in
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    async def api(request: Request, tenant_header: str) -> Response | None:
        """Record and authenticate an API request; an error answer, or None to go on."""
        seen = _seen(request, await request.body())
        with state._lock:
            state.requests.append(seen)
            valid = {token.access_token for token in state.issued} - state.revoked
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or presented not in valid or state.refuse_tokens:
            return JSONResponse(
                {"error": "invalid_token", "error_description": "Permission Denied."}, 401
            )
        if request.headers.get(tenant_header) != state.tenant_id:
            return JSONResponse(["invalid tenant id"], 403, headers=_trace())
        with state._lock:
            scripted = state.script.pop(0) if state.script else None
        if scripted is None:
            return None
        status, headers = scripted
        if tenant_header == "tenant-id":  # the ERA API's errors carry the trace id in the body
            return JSONResponse(_era_error(request, status), status, headers)
        return JSONResponse(["Internal - scripted"], status, {**_trace(), **headers})

    async def submit(request: Request) -> Response:
        if (refused := await api(request, "tenant-id")) is not None:
            return refused
        records = json.loads(await request.body())
        payload_id = secrets.token_hex(4) + "-4c6e-4b8d-9f2a-" + secrets.token_hex(6)
        with state._lock:
            state.submissions[payload_id] = records
        return JSONResponse({"payloadId": payload_id}, 202)

    async def result(request: Request) -> Response:
        if (refused := await api(request, "tenant-id")) is not None:
            return refused
        payload_id = request.path_params["payload_id"]
        with state._lock:
            if payload_id not in state.submissions:
                return JSONResponse(not_found, 404)
            poll = state.polls[payload_id] = state.polls.get(payload_id, 0) + 1
        return JSONResponse(copy.deepcopy(results[min(poll, len(results)) - 1]))

    async def discovery_list(request: Request) -> Response:
        if (refused := await api(request, "x-optum-tenant-id")) is not None:
            return refused
        query = request.query_params
        offset, limit = int(query.get("offset", "0")), int(query.get("limit", "30"))
        with state._lock:
            matching = _filtered(state.tasks, query.get("status"), query.get("startDateTime"))
        if query.get("sort", "-startDateTime") == "-startDateTime":
            matching.reverse()
        headers = _trace()
        if state.send_total_count:
            headers["x-total-count"] = str(len(matching))
        if state.send_link and offset + limit < len(matching):
            target = f"{state.link_base}/?limit={limit}&offset={offset + limit}"
            headers["link"] = f'<{target}>; rel="next"'
        return JSONResponse(matching[offset : offset + limit], headers=headers)

    async def discovery_task(request: Request) -> Response:
        if (refused := await api(request, "x-optum-tenant-id")) is not None:
            return refused
        with state._lock:
            found = [task for task in state.tasks if task["id"] == request.path_params["task_id"]]
        if not found:
            return JSONResponse(["Not Found - record not found"], 404, headers=_trace())
        return JSONResponse(found[0], headers=_trace())

    routes = [Route(path, token, methods=["POST"]) for path in TOKEN_PATHS] + [
        Route(f"{ERA_PREFIX}/era/enrollment-submission", submit, methods=["POST"]),
        Route(f"{ERA_PREFIX}/era/results/{{payload_id}}", result),
        Route(DISCOVERY_PATH, discovery_list),
        Route(f"{DISCOVERY_PATH}/{{task_id}}", discovery_task),
    ]
    return Starlette(routes=routes)


def make_tasks(fixtures_dir: Path, count: int, *, start: datetime) -> list[dict[str, object]]:
    """`count` tasks shaped like the callback fixture, a minute apart from `start`, with
    statuses cycling success, failure, pending."""
    template = json.loads((fixtures_dir / TASK_FIXTURE).read_bytes())
    statuses = ("success", "failure", "pending")
    tasks = []
    for index in range(count):
        task = copy.deepcopy(template)
        task["id"] = f"0716e3e8-87ee-11ee-b9d1-{index:012d}"
        task["status"] = statuses[index % 3]
        task["startDateTime"] = _iso(start + timedelta(minutes=index))
        tasks.append(task)
    return tasks


@contextmanager
def serve_mock_optum(fixtures_dir: Path, state: MockOptumState) -> Iterator[str]:
    """Run the mock under uvicorn on a free loopback port; yields its base URL."""
    with serve_app(create_mock_optum(fixtures_dir, state), "mock-optum") as base_url:
        yield base_url


def _credentials(request: Request, form: dict[str, str], method: str) -> tuple[str, str] | None:
    """The client credentials, only by the method the mock expects (RFC 6749 §2.3.1 says a
    client must not use more than one)."""
    authorization = request.headers.get("authorization", "")
    if method == "client_secret_basic":
        if "client_secret" in form or not authorization.startswith("Basic "):
            return None
        decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode("latin-1")
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    if authorization:
        return None
    return form.get("client_id", ""), form.get("client_secret", "")


def _filtered(
    tasks: list[dict[str, object]], status: str | None, start: str | None
) -> list[dict[str, object]]:
    kept = [t for t in tasks if status is None or t["status"] == status]
    if start is not None:
        kept = [t for t in kept if str(t["startDateTime"]) >= start]
    return sorted(kept, key=lambda t: str(t["startDateTime"]))


def _seen(request: Request, body: bytes) -> Seen:
    return Seen(request.method, request.url.path, dict(request.headers), request.url.query, body)


def _trace() -> dict[str, str]:
    return {"x-optum-trace-id": "9fb77454-8c58-4345-aa50-" + secrets.token_hex(6)}


def _era_error(request: Request, status: int) -> dict[str, object]:
    """The ERA Enrollment API's error body, which carries its trace id (a fixed one)."""
    return {
        "error": "Service Unavailable" if status == 503 else f"scripted {status}",
        "path": request.url.path,
        "status": status,
        "timestamp": _iso(datetime.now(UTC)),
        "traceId": "133cab33-6839-423e-b554-eeec78c9b3e9",
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

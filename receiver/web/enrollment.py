"""ERA enrollment routes (scope enrollment:write): submit records through an Optum
connection, and a submission's status."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from receiver.enrollment.records import EnrollmentRecordsError
from receiver.errors import BadRequestError, ReceiverError
from receiver.intake.body import parse_json_object, require_json_content_type
from receiver.ops import enrollment as use
from receiver.upstream.optum import OptumClient
from receiver.web.body import read_body
from receiver.web.deps import ORJSONResponse, require_scope, services
from receiver.web.services import Services

WRITE_SCOPE = "enrollment:write"
FIELDS = frozenset({"optum", "records"})


def _client(svc: Services) -> OptumClient:
    if svc.optum is None:
        raise ReceiverError("the Optum client is not configured")
    return svc.optum


async def create_submission(request: Request) -> Response:
    """POST /era-enrollments: 202 with the local id and Optum's payloadId; 400 lists every
    problem by field path; 409 names a record already accepted and its submission."""
    await require_scope(request, WRITE_SCOPE)
    svc = services(request)
    require_json_content_type(request.headers.get("content-type"))
    body = parse_json_object(
        await read_body(request, svc.settings.max_body_bytes),
        max_depth=svc.settings.max_json_depth,
    )
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadRequestError(
            f"unknown field {', '.join(unknown)}; fields are {', '.join(sorted(FIELDS))}"
        )
    try:
        submitted = await use.submit(
            svc.store,
            _client(svc),
            connection_name=body.get("optum"),
            records=body.get("records"),
            now=svc.clock,
        )
    except EnrollmentRecordsError as exc:
        errors = [{"path": e.path, "message": e.message} for e in exc.errors]
        return ORJSONResponse(
            {"error": exc.code, "detail": exc.detail, "errors": errors}, status_code=400
        )
    return ORJSONResponse(use.submission_json(submitted), status_code=202)


async def show_submission(request: Request) -> Response:
    """GET /era-enrollments/{id}: status, poll state and (once final) the result."""
    await require_scope(request, WRITE_SCOPE)
    svc = services(request)
    found = await use.status(svc.store, request.path_params["id"])
    return ORJSONResponse(use.submission_json(found))

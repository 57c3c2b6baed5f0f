"""GET /audit (scope audit:read): the audit trail, newest first, with filters and cursor paging."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from receiver.ops.audit import audit_filter, page_json
from receiver.ops.events import parse_limit
from receiver.web.deps import ORJSONResponse, require_scope, services

AUDIT_SCOPE = "audit:read"


async def list_audit(request: Request) -> Response:
    """GET /audit: filters actor, action, since and until (with a timezone), cursor, limit."""
    await require_scope(request, AUDIT_SCOPE)
    query = request.query_params
    page = await services(request).store.list_audit(
        audit_filter(query), limit=parse_limit(query.get("limit")), cursor=query.get("cursor")
    )
    return ORJSONResponse(page_json(page))

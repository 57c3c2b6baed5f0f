"""Bulk replay (scope events:replay): resend the deliveries of messages published in a time
window, for a subscriber that lost data or was down; shared with `receiver replay`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from receiver.intake.body import require_json_content_type
from receiver.ops.replays import (
    log_replay,
    parse_replay,
    replay,
)
from receiver.web.body import read_body
from receiver.web.deps import ORJSONResponse, require_actor, services

REPLAY_SCOPE = "events:replay"


async def create_replay(request: Request) -> Response:
    """POST /replays: 202 once the window's matching deliveries are pending again; 200 with
    the counts for a dry run."""
    actor = await require_actor(request, REPLAY_SCOPE)
    svc = services(request)
    body = await read_body(request, svc.settings.max_body_bytes)
    if body:
        require_json_content_type(request.headers.get("content-type"))
    now = svc.clock()
    flt, dry_run = parse_replay(body, max_depth=svc.settings.max_json_depth, now=now)
    answer = await replay(
        svc.store,
        flt,
        now=now,
        limit=svc.settings.replay_max_deliveries,
        dry_run=dry_run,
        actor=actor,
    )
    log_replay(flt, answer, dry_run=dry_run)
    if answer.get("requeued"):
        svc.dispatch_wakeup.notify()
    return ORJSONResponse(answer, status_code=200 if dry_run else 202)

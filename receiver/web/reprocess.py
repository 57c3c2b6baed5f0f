"""POST /events/{id}/reprocess (scope events:replay): run an event's follow-up again."""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import Response

from receiver.ops.reprocess import reprocess_event
from receiver.web.deps import ORJSONResponse, require_actor, services

REPLAY_SCOPE = "events:replay"

_log = structlog.get_logger("receiver.reprocess")


async def reprocess(request: Request) -> Response:
    """202 once a `reprocess` job for the event is queued (or still pending from before)."""
    actor = await require_actor(request, REPLAY_SCOPE)
    svc = services(request)
    event_id = request.path_params["id"]
    answer = await reprocess_event(svc.store, event_id, now=svc.clock(), actor=actor)
    _log.info("event.reprocess_queued", event_id=event_id, queued=answer["queued"])
    if svc.wakeup is not None and answer["queued"]:
        svc.wakeup.notify()
    return ORJSONResponse(answer, status_code=202)

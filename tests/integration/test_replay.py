"""POST /replays over HTTP: a live app, a real dispatcher and a sink that verifies Standard
Webhooks signatures get a time window's dead deliveries again, same id, same bytes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from receiver.models import OutboundMessage
from tests.integration.builders import (
    JSON,
    Sink,
    _running_sink,
    add_subscription,
    admin,
    bad,
    delivery_detail,
    dispatch,
    publish,
)
from tests.integration.conftest import StartServer
from tests.integration.harness import LiveServer

FAILING = [500] * 20  # more than the dispatcher's attempt budget: the delivery goes dead


@pytest.fixture
def sink() -> Iterator[Sink]:
    yield from _running_sink("sink")


@pytest.fixture
def server(start_server: StartServer) -> LiveServer:
    return start_server(allow_insecure_destinations=True)


@pytest.fixture
def auth(server: LiveServer) -> dict[str, str]:
    return admin(server)


def post_replay(server: LiveServer, headers: dict[str, str], body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return server.http.post("/replays", headers={**headers, **JSON}, content=content)


def dead_messages(server: LiveServer, sink: Sink, *types: str) -> list[OutboundMessage]:
    """One message per type, published one after the other (distinct times), each delivery
    dead after the sink failed every attempt."""
    messages = [publish(server, type_)[1][0] for type_ in types]
    sink.state.script = list(FAILING)
    dispatch(server)
    sink.state.script = []
    return messages


def iso(message: OutboundMessage, shift: timedelta = timedelta(0)) -> str:
    return (message.created_at + shift).isoformat()


def test_a_dead_delivery_in_the_window_is_sent_again(
    server: LiveServer, auth: dict[str, str], sink: Sink, captured: io.StringIO
) -> None:
    sub = add_subscription(server, sink, "claim.*")
    old, new = dead_messages(server, sink, "claim.file.failed", "claim.acknowledgment.received")
    assert old.created_at < new.created_at
    for message in (old, new):
        assert delivery_detail(server, auth, message.id)["status"] == "dead"
    failed = [r for r in sink.state.received if r.webhook_id == new.id]
    window = {"since": iso(new)}  # inclusive: `new` is in, `old` is out

    dry = post_replay(server, auth, {**window, "dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json() == {
        "dry_run": True,
        "would_requeue": 1,
        "already_pending": 0,
        "over_limit": False,
    }
    assert delivery_detail(server, auth, new.id)["status"] == "dead"  # nothing changed

    resp = post_replay(server, auth, {**window, "subscription_id": sub.id})
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"requeued": 1, "already_pending": 0}
    detail = delivery_detail(server, auth, new.id)
    assert (detail["status"], detail["attempts_since_requeue"]) == ("pending", 0)
    assert detail["attempt_count"] == len(detail["attempts"])
    before = len(sink.state.received)
    dispatch(server)

    again = sink.state.received[before:]
    assert [r.webhook_id for r in again] == [new.id]  # not `old`: outside the window
    assert again[0].body == failed[0].body  # byte-identical
    assert again[0].verified_with == (sink.secret,)
    assert delivery_detail(server, auth, new.id)["status"] == "delivered"
    assert delivery_detail(server, auth, old.id)["status"] == "dead"

    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    logged = [line for line in lines if line.get("event") == "replay.requested"]
    assert [line["dry_run"] for line in logged] == [True, False]
    assert logged[0]["would_requeue"] == 1
    assert logged[1]["since"] == new.created_at.isoformat()
    assert logged[1]["subscription_id"] == sub.id
    assert (logged[1]["requeued"], logged[1]["already_pending"]) == (1, 0)
    assert "SYN0001842" not in json.dumps(logged)


def test_until_is_exclusive_and_status_chooses(
    server: LiveServer, auth: dict[str, str], sink: Sink
) -> None:
    add_subscription(server, sink, "claim.*")
    first, second = dead_messages(server, sink, "claim.a", "claim.b")
    between = {"since": iso(first), "until": iso(second)}
    assert post_replay(server, auth, {**between, "status": "delivered"}).json() == {
        "requeued": 0,
        "already_pending": 0,
    }
    assert post_replay(server, auth, {**between, "status": "all"}).json() == {
        "requeued": 1,
        "already_pending": 0,
    }
    assert delivery_detail(server, auth, first.id)["status"] == "pending"
    assert delivery_detail(server, auth, second.id)["status"] == "dead"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"", "since is required"),
        ({}, "since is required"),
        ({"until": "2026-11-23T10:00:00Z"}, "since is required"),
        ({"since": "2026-11-23T10:00:00"}, "timezone"),
        ({"since": "yesterday"}, "ISO-8601"),
        ({"since": 5}, "since"),
        ({"since": "2026-11-23T10:00:00Z", "until": "2026-11-23T10:00:00Z"}, "later than"),
        ({"since": "2026-11-23T10:00:00Z", "until": "2026-11-23T09:00:00+00:00"}, "later than"),
        ({"since": "2999-01-01T00:00:00Z"}, "later than"),  # until defaults to now
        ({"since": "2026-11-23T10:00:00Z", "status": "pending"}, "status must be one of"),
        ({"since": "2026-11-23T10:00:00Z", "dry_run": "yes"}, "dry_run"),
        ({"since": "2026-11-23T10:00:00Z", "subscription_id": 7}, "subscription_id"),
        ({"since": "2026-11-23T10:00:00Z", "window": 1}, "unknown field window"),
        (b"[]", "object"),
        (b"not json", "JSON"),
    ],
)
def test_bad_body_is_400(server: LiveServer, auth: dict[str, str], body: Any, needle: str) -> None:
    bad(post_replay(server, auth, body), 400, "invalid_request", needle)


def test_subscription_unknown_is_404_and_removed_is_409(
    server: LiveServer, auth: dict[str, str], sink: Sink
) -> None:
    sub = add_subscription(server, sink, "claim.*")
    body = {"since": "2026-01-01T00:00:00Z", "subscription_id": "sub_nope"}
    bad(post_replay(server, auth, body), 404, "not_found", "sub_nope")
    assert server.http.delete(f"/subscriptions/{sub.id}", headers=auth).status_code == 204
    removed = {**body, "subscription_id": sub.id}
    bad(post_replay(server, auth, removed), 409, "conflict", "removed")
    bad(post_replay(server, auth, {**removed, "dry_run": True}), 409, "conflict", "removed")


def test_over_the_cap_is_409_and_changes_nothing(start_server: StartServer, sink: Sink) -> None:
    server = start_server(allow_insecure_destinations=True, replay_max_deliveries=1)
    auth = admin(server)
    add_subscription(server, sink, "claim.*")
    first, second = dead_messages(server, sink, "claim.a", "claim.b")
    window = {"since": iso(first)}
    resp = post_replay(server, auth, window)
    bad(resp, 409, "conflict", "2 deliveries match", "narrow the window")
    for message in (first, second):
        assert delivery_detail(server, auth, message.id)["status"] == "dead"
    dry = post_replay(server, auth, {**window, "dry_run": True})
    assert dry.status_code == 200, dry.text
    assert (dry.json()["would_requeue"], dry.json()["over_limit"]) == (2, True)
    one = post_replay(server, auth, {"since": iso(second)})
    assert one.status_code == 202, one.text
    assert one.json() == {"requeued": 1, "already_pending": 0}


def test_needs_events_replay(server: LiveServer) -> None:
    body = {"since": "2026-11-23T10:00:00Z"}
    assert post_replay(server, {}, body).status_code == 401
    resp = post_replay(server, server.bearer("ops"), body)  # events:read only
    assert resp.status_code == 403
    assert 'scope="events:replay"' in resp.headers["www-authenticate"]


def test_non_json_content_type_is_415(server: LiveServer, auth: dict[str, str]) -> None:
    headers = {**auth, "content-type": "text/plain"}
    resp = server.http.post("/replays", headers=headers, content=b"{}")
    bad(resp, 415, "unsupported_media_type")

"""POST /events/{id}/redeliver over HTTP: a live app, a real dispatcher and a sink that
verifies Standard Webhooks signatures get the event's message again, same id, same bytes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from receiver.delivery.subscriptions import generate_secret
from tests.conftest import fixture_bytes
from tests.integration.builders import (
    JSON,
    Sink,
    add_subscription,
    admin,
    bad,
    delivery_detail,
    dispatch,
    publish,
)
from tests.integration.conftest import StartServer
from tests.integration.harness import STEDI_WEBHOOK_FIXTURES, LiveServer
from tests.mocks.serving import serve_app
from tests.mocks.sink import create_sink


def redeliver(
    server: LiveServer, event_id: str, headers: dict[str, str], **kwargs: Any
) -> httpx.Response:
    return server.http.post(f"/events/{event_id}/redeliver", headers=headers, **kwargs)


@pytest.fixture
def sink() -> Iterator[Sink]:
    secret = generate_secret()
    app, state = create_sink((secret,))
    with serve_app(app, "sink") as base:
        yield Sink(f"{base}/hook", state, secret)


@pytest.fixture
def server(start_server: StartServer) -> LiveServer:
    return start_server(allow_insecure_destinations=True)


@pytest.fixture
def auth(server: LiveServer) -> dict[str, str]:
    return admin(server)


def test_the_sink_gets_the_same_message_again(
    server: LiveServer, auth: dict[str, str], sink: Sink, captured: io.StringIO
) -> None:
    add_subscription(server, sink, "claim.*")
    event_id, (ack,) = publish(server, "claim.acknowledgment.received")
    dispatch(server)
    (first,) = sink.state.received
    assert delivery_detail(server, auth, ack.id)["status"] == "delivered"

    resp = redeliver(server, event_id, auth)
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"event_id": event_id, "requeued": 1, "already_pending": 0}
    detail = delivery_detail(server, auth, ack.id)
    assert (detail["status"], detail["attempt_count"], len(detail["attempts"])) == (
        "pending",
        1,
        1,
    )
    assert detail["attempts_since_requeue"] == 0
    dispatch(server)

    assert len(sink.state.received) == 2
    again = sink.state.received[1]
    assert again.webhook_id == first.webhook_id == ack.id
    assert again.body == first.body  # byte-identical
    assert again.verified_with == (sink.secret,)  # the standardwebhooks library agrees
    assert first.verified_with == (sink.secret,)
    detail = delivery_detail(server, auth, ack.id)
    assert (detail["status"], detail["attempt_count"], detail["attempts_since_requeue"]) == (
        "delivered",
        2,
        1,
    )
    assert [(a["attempt"], a["status_code"]) for a in detail["attempts"]] == [(1, 200), (2, 200)]

    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    (logged,) = [line for line in lines if line.get("event") == "event.redelivered"]
    assert logged["event_id"] == event_id
    assert (logged["requeued"], logged["already_pending"]) == (1, 0)
    assert "SYN0001842" not in json.dumps(logged)


def test_pending_ones_are_left_alone_and_one_subscription_can_be_chosen(
    server: LiveServer, auth: dict[str, str], sink: Sink
) -> None:
    mine = add_subscription(server, sink, "claim.*")
    event_id, (ack,) = publish(server, "claim.acknowledgment.received")
    # Owed but not sent yet: nothing to requeue, and nothing is sent twice.
    assert redeliver(server, event_id, auth).json() == {
        "event_id": event_id,
        "requeued": 0,
        "already_pending": 1,
    }
    dispatch(server)
    body = {"subscription_id": mine.id}
    resp = redeliver(server, event_id, {**auth, **JSON}, content=json.dumps(body))
    assert resp.status_code == 202, resp.text
    assert resp.json()["requeued"] == 1
    dispatch(server)
    assert sink.state.ids() == [ack.id, ack.id]


def test_unknown_event_is_404(server: LiveServer, auth: dict[str, str]) -> None:
    bad(redeliver(server, "evt_unknown", auth), 404, "not_found", "evt_unknown")


def test_an_event_that_published_nothing_yet_is_409(
    server: LiveServer, auth: dict[str, str]
) -> None:
    accepted = server.stedi(fixture_bytes(STEDI_WEBHOOK_FIXTURES[0]))
    assert accepted.status_code == 200, accepted.text
    event_id = accepted.json()["event_id"]  # its job has not run: no worker in this app
    bad(redeliver(server, event_id, auth), 409, "conflict", "published no messages")


def test_subscription_unknown_is_404_and_removed_is_409(
    server: LiveServer, auth: dict[str, str], sink: Sink
) -> None:
    sub = add_subscription(server, sink, "claim.*")
    event_id, _ = publish(server, "claim.acknowledgment.received")
    headers = {**auth, **JSON}
    resp = redeliver(server, event_id, headers, content=b'{"subscription_id": "sub_nope"}')
    bad(resp, 404, "not_found", "sub_nope")
    assert server.http.delete(f"/subscriptions/{sub.id}", headers=auth).status_code == 204
    body = json.dumps({"subscription_id": sub.id})
    bad(redeliver(server, event_id, headers, content=body), 409, "conflict", "removed")


def test_needs_events_replay(server: LiveServer) -> None:
    assert redeliver(server, "evt_x", {}).status_code == 401
    resp = redeliver(server, "evt_x", server.bearer("ops"))  # events:read only
    assert resp.status_code == 403
    assert 'scope="events:replay"' in resp.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"not json", "JSON"),
        (b"[]", "object"),
        (b'{"subscription_id": 5}', "subscription_id"),
        (b'{"subscription_id": null}', "subscription_id"),
        (b'{"subscription": "sub_x"}', "unknown field subscription"),
    ],
)
def test_bad_body_is_400(
    server: LiveServer, auth: dict[str, str], sink: Sink, content: bytes, needle: str
) -> None:
    add_subscription(server, sink)
    event_id, _ = publish(server, "claim.acknowledgment.received")
    resp = redeliver(server, event_id, {**auth, **JSON}, content=content)
    bad(resp, 400, "invalid_request", needle)


def test_non_json_content_type_is_415(server: LiveServer, auth: dict[str, str]) -> None:
    resp = redeliver(server, "evt_x", {**auth, "content-type": "text/plain"}, content=b"{}")
    bad(resp, 415, "unsupported_media_type")

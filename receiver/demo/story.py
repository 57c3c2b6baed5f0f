"""The demo's story: the fixtures pushed through a running demo, one stage after another."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from receiver.demo import packaged_fixtures
from receiver.demo.optum import send_coverage_discovery
from receiver.demo.run import (
    ACCOUNT,
    INBOUND_HEADER,
    OPTUM_BODY,
    OPTUM_HEADERS,
    POLL_PAGE,
    WEBHOOK_277,
    WEBHOOK_835,
    DemoError,
    Running,
    Watch,
    take_token,
)
from receiver.demo.stages import stage
from receiver.demo.stedi import REPORT_FIXTURES

REPORTS = "/change/medicalnetwork/reports/v2/"


def tell(running: Running, echo: Callable[[str], None]) -> str:
    """Push the fixtures through `running`, printing each stage; returns the ops token."""
    fixtures = packaged_fixtures()
    with (
        httpx.Client(base_url=running.receiver_url, timeout=10) as http,
        httpx.Client(base_url=running.receiver_url, timeout=10) as sender,
    ):
        ops_token = take_token(http, running.credentials.ops)
        http.headers["authorization"] = f"Bearer {ops_token}"
        watch = Watch(echo, http, running.stedi, running.sink)

        def webhook(name: str) -> dict[str, Any]:
            answer = sender.post(
                f"/webhooks/stedi/{ACCOUNT}",
                content=(fixtures / name).read_bytes(),
                headers={
                    "content-type": "application/json",
                    INBOUND_HEADER: running.credentials.inbound_secret,
                },
            )
            if answer.status_code != 200:
                raise DemoError(f"the Stedi webhook was answered {answer.status_code}")
            return dict(answer.json())

        echo(stage("Stedi", "sends a transaction.processed.v2 webhook: a 277CA is ready"))
        webhook(WEBHOOK_277)
        watch.until(lambda w: w.delivered("claim.acknowledgment.received"), "the 277CA")

        echo(stage("Stedi", "sends a transaction.processed.v2 webhook: an 835 is ready"))
        first = webhook(WEBHOOK_835)
        again = webhook(WEBHOOK_835)
        echo(stage("Stedi", f"sends it again (senders retry): {again['status']}, nothing new"))
        if (again["status"], again["event_id"]) != ("duplicate", first["event_id"]):
            raise DemoError(f"the resent webhook was answered {again['status']}")
        watch.until(lambda w: w.delivered("claim.remittance.received"), "the 835")

        optum_headers = {
            k: v
            for k, v in json.loads((fixtures / OPTUM_HEADERS).read_bytes()).items()
            if not k.startswith("_") and k.lower() not in ("authorization", "content-type")
        }
        client_id, secret = running.credentials.optum
        sent = send_coverage_discovery(
            sender,
            client_id=client_id,
            client_secret=secret,
            body=(fixtures / OPTUM_BODY).read_bytes(),
            headers=optum_headers,
        )
        echo(
            stage(
                "Optum",
                f"takes a token (scope {sent.scope}), sends a Coverage Discovery callback: "
                f"{sent.status_code}",
            )
        )
        if sent.status_code != 204:
            raise DemoError(f"the Optum callback was answered {sent.status_code}")
        watch.until(lambda w: w.delivered("coverage_discovery.completed"), "the coverage result")

        echo(stage("Stedi", "lists a submitted 837 in poll-transactions; no webhook came for it"))
        page = json.loads((fixtures / POLL_PAGE).read_bytes())
        with running.stedi._lock:
            running.stedi.poll_pages = [page, {"items": []}]
        watch.until(lambda w: w.fetched("/download/") and w.processed(), "the reconciled 837")

        claim = _claim_timeline(http, fixtures)
        events, delivered, verified = watch.counts()
        echo(stage("claim", claim))
        signatures = "every signature verified" if verified else "SIGNATURES NOT VERIFIED"
        echo(f"done: {events} events received, {delivered} messages delivered, {signatures}")
        if not verified:
            raise DemoError("a delivered message's signature did not verify")
        return ops_token


def _claim_timeline(http: httpx.Client, fixtures: Any) -> str:
    """The claim's timeline across the 837, 277CA and 835, as one line."""
    report = json.loads((fixtures / REPORT_FIXTURES["835"]).read_bytes())
    pcn = _first_pcn(report)
    answer = http.get(f"/claims/{pcn}")
    if answer.status_code != 200:
        return f"{pcn}: no timeline ({answer.status_code})"
    kinds = [entry["kind"] for entry in answer.json()["timeline"]]
    return f"{pcn}: {', '.join(kinds)}, in the order they arrived (GET /claims/{pcn})"


def _first_pcn(value: Any) -> str | None:
    """The first patient control number in a report, wherever it is nested."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "patientControlNumber" and isinstance(item, str):
                return item
            if (found := _first_pcn(item)) is not None:
                return found
    if isinstance(value, list):
        for item in value:
            if (found := _first_pcn(item)) is not None:
                return found
    return None

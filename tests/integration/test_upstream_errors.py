"""An upstream error answer naming a patient, over real HTTP with the worker on: the job's
`last_error` (GET /jobs and the stored row) keeps the status, Stedi's code and trace id, and
neither it nor any log line carries the patient's name (on both stores)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator

import pytest

from receiver.models import Job, JobFilter
from tests.conftest import FIXTURES, fixture_bytes
from tests.integration.conftest import StartServer
from tests.integration.harness import LiveServer
from tests.mocks.stedi import MockStediState, serve_mock_stedi

API_KEY = "upstream-errors-stedi-key"
WEBHOOK_835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"
PATIENT = "TESTPATIENT JANE"
MEMBER_ID = "ZZT900000001"
TRACE = "8d2f4a6c-0e1b-4c3d-9f5a-7b9c1d3e5f70"
ERROR_BODY = {
    "message": f"Subscriber {PATIENT} (member {MEMBER_ID}) born 1980-01-01 is not eligible",
    "code": "INVALID_ARGUMENT",
    "errors": [{"field": "subscriber.lastName", "description": f"{PATIENT} mismatch"}],
}


@pytest.fixture
def mock_stedi() -> Iterator[tuple[str, MockStediState]]:
    with serve_mock_stedi(FIXTURES) as (url, state):
        state.api_key = API_KEY
        state.error_body = ERROR_BODY
        yield url, state


@pytest.fixture
def live(
    captured: io.StringIO, start_serving: StartServer, mock_stedi: tuple[str, MockStediState]
) -> LiveServer:
    stedi_url, _ = mock_stedi
    return start_serving(
        stedi_api_key=API_KEY,
        stedi_healthcare_url=stedi_url,
        stedi_core_url=stedi_url,
        reconcile_interval_seconds=0,
    )


def wait_for_job(server: LiveServer, event_id: str, status: str) -> dict[str, object]:
    """The event's job once it is in `status` after at least one attempt (a new job is
    already pending before the worker has tried it)."""
    deadline = time.monotonic() + 20
    while True:
        resp = server.http.get("/jobs", params={"event_id": event_id}, headers=server.bearer())
        assert resp.status_code == 200, resp.text
        (job,) = resp.json()["items"]
        if job["status"] == status and job["attempts"]:
            return dict(job)
        assert time.monotonic() < deadline, f"job still {job['status']}"
        time.sleep(0.05)


def stored_job(server: LiveServer, event_id: str) -> Job:
    async def read() -> Job:
        assert server.store_of is not None
        store = server.store_of()
        await store.open()
        try:
            (job,) = (
                await store.list_jobs(JobFilter(event_id=event_id), limit=5, cursor=None)
            ).items
            return job
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.parametrize(
    ("status", "job_status", "suffix"),
    [(400, "dead", " (permanent status)"), (503, "pending", "")],
)
def test_an_upstream_error_naming_a_patient_keeps_only_codes(
    live: LiveServer,
    mock_stedi: tuple[str, MockStediState],
    captured: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    status: int,
    job_status: str,
    suffix: str,
) -> None:
    _, state = mock_stedi
    state.script = [(status, {"x-amzn-RequestId": TRACE})]
    caplog.set_level(logging.DEBUG)
    resp = live.stedi(fixture_bytes(WEBHOOK_835))
    assert resp.status_code == 200, resp.text
    event_id = resp.json()["event_id"]

    job = wait_for_job(live, event_id, job_status)

    expected = f"835 report: HTTP {status} (code INVALID_ARGUMENT, trace {TRACE}){suffix}"
    assert job["last_error"] == expected
    assert stored_job(live, event_id).last_error == expected
    listing = live.http.get("/jobs", headers=live.bearer()).text
    logs = captured.getvalue() + caplog.text
    assert "job.upstream_failed" in logs  # the failure was logged, without the text
    for text in (listing, logs, json.dumps(job)):
        for secret in ("TESTPATIENT", "JANE", MEMBER_ID, "1980-01-01", "lastName"):
            assert secret not in text

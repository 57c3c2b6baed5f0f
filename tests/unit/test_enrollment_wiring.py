"""The enrollment wiring's pure parts: the poll state after each outcome, the conflict text
and the message an ERA result event publishes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from receiver.enrollment.events import enrollment_messages, result_event
from receiver.enrollment.poller import PollRead, next_state
from receiver.enrollment.polling import PollAction, PollOutcome
from receiver.enrollment.results import read_result_summary
from receiver.enrollment.submissions import (
    EraSubmission,
    LiveRecord,
    RecordState,
    SubmissionStatus,
)
from receiver.models import StoredEvent
from receiver.ops.enrollment import conflict_detail

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SUBMISSION = EraSubmission(
    id="era_1",
    connection="acme",
    record_count=1,
    created_at=T0,
    status=SubmissionStatus.POLLING,
    payload_id="p-1",
    first_poll_at=T0,
    next_poll_at=T0 + timedelta(minutes=1),
)


def test_processing_polls_again_later() -> None:
    read = PollRead(PollOutcome.PROCESSING, summary=read_result_summary({"status": "Processing"}))
    after, action = next_state(SUBMISSION, read, now=T0 + timedelta(minutes=1), random=lambda: 0.5)
    assert action is PollAction.POLL
    assert after.status is SubmissionStatus.POLLING
    assert after.attempts == 1
    assert after.next_poll_at is not None
    assert after.next_poll_at > T0 + timedelta(minutes=1)


def test_errored_is_done_with_status_errored() -> None:
    summary = read_result_summary({"status": "Errored"})
    read = PollRead(PollOutcome.ERRORED, summary=summary)
    after, action = next_state(SUBMISSION, read, now=T0 + timedelta(minutes=1))
    assert action is PollAction.DONE
    assert after.status is SubmissionStatus.ERRORED
    assert after.result is not None
    assert after.result["status"] == "errored"
    assert after.result["submission_id"] == "era_1"
    assert after.next_poll_at is None


def test_a_permanent_failure_is_dead_with_its_reason_and_trace_id() -> None:
    read = PollRead(
        PollOutcome.PERMANENT_FAILURE, reason="ERA enrollment result: HTTP 400", trace_id="t-9"
    )
    after, action = next_state(SUBMISSION, read, now=T0 + timedelta(minutes=1))
    assert action is PollAction.DEAD
    assert after.status is SubmissionStatus.DEAD
    assert after.reason == "permanent failure: ERA enrollment result: HTTP 400"
    assert after.trace_id == "t-9"


def test_not_found_counts_a_streak_that_a_result_resets() -> None:
    missing = PollRead(PollOutcome.NOT_FOUND, reason="HTTP 404")
    after, _ = next_state(SUBMISSION, missing, now=T0 + timedelta(minutes=1), random=lambda: 0.5)
    assert after.not_found_streak == 1
    processing = PollRead(
        PollOutcome.PROCESSING, summary=read_result_summary({"status": "Processing"})
    )
    again, _ = next_state(after, processing, now=T0 + timedelta(minutes=5), random=lambda: 0.5)
    assert again.not_found_streak == 0


def test_the_conflict_names_each_record_and_its_earlier_submission() -> None:
    detail = conflict_detail({2: LiveRecord("fp", "era_0", 5, RecordState.ACCEPTED)})
    assert detail.startswith("records[2] equals records[5] of submission era_0 (accepted)")


def test_a_result_event_publishes_era_enrollment_completed() -> None:
    data: dict[str, object] = {"payload_id": "p-1", "status": "complete", "submission_id": "era_1"}
    event = result_event(data, tenant_id="T", payload_id="p-1", event_id="evt_1", now=T0)
    assert event.dedup_keys == ("optum:era-result:p-1",)
    stored = StoredEvent(
        id=event.id,
        source=event.source,
        type=event.type,
        account=event.account,
        external_id=event.external_id,
        status="received",
        received_at=T0,
        transaction_id=None,
        transaction_set=None,
        direction=None,
        summary=event.summary,
        headers={},
    )
    assert enrollment_messages(stored) == [
        ("era_enrollment.completed", {"event_id": "evt_1", **data})
    ]

"""Reading ERA enrollment results, the era_enrollment.completed message built from them, and
the poll decision."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from receiver.enrollment.polling import (
    ERA_POLL_POLICY,
    PollAction,
    PollOutcome,
    decide_poll,
    outcome_of,
    outcome_of_failure,
)
from receiver.enrollment.records import record_fingerprint
from receiver.enrollment.results import (
    ResultStatus,
    UnreadableResultError,
    completed_message_data,
    read_result_summary,
    split_error_messages,
)
from receiver.policy import FailureKind, RetryPolicy
from tests.conftest import fixture_bytes

COMPLETE = json.loads(fixture_bytes("optum/era-enrollment.results.complete.json"))
PROCESSING = json.loads(fixture_bytes("optum/era-enrollment.results.processing.json"))
SUBMITTED = json.loads(fixture_bytes("optum/era-enrollment.submission.request.json"))
PAYLOAD_ID = "6b8d0f2a-4c6e-4b8d-9f2a-4c6e8b0d2f77"
T0 = datetime(2025, 3, 18, 16, 0, tzinfo=UTC)


def middle() -> float:
    """No jitter."""
    return 0.5


class TestReadResultSummary:
    def test_the_complete_fixture(self) -> None:
        summary = read_result_summary(COMPLETE)
        assert summary.status is ResultStatus.COMPLETE
        assert (summary.received, summary.accepted, summary.rejected) == (2, 1, 1)
        [accepted] = summary.accepted_records
        assert (accepted.ref.payer_id, accepted.ref.npi, accepted.ref.tin) == (
            "SYN87726",
            1999999984,
            990000001,
        )
        assert [(a.provider_id_type, a.status) for a in accepted.associations] == [
            ("NPI", "Associated"),
            ("TIN", "Associated"),
        ]
        [rejected] = summary.rejected_records
        assert rejected.errors == (
            "Provider NPI is invalid.",
            "Preference for Aggregation NPI is invalid.",
        )

    def test_fingerprints_match_the_submitted_records(self) -> None:
        """Optum echoes each record: its fingerprint is the one stored at submission."""
        summary = read_result_summary(COMPLETE)
        assert summary.accepted_records[0].ref.fingerprint == record_fingerprint(SUBMITTED[0])
        assert summary.rejected_records[0].ref.fingerprint == record_fingerprint(SUBMITTED[1])

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ("Processing", ResultStatus.PROCESSING),
            ("PROCESSING", ResultStatus.PROCESSING),
            (" complete ", ResultStatus.COMPLETE),
            ("errored", ResultStatus.ERRORED),
        ],
    )
    def test_the_status_whatever_its_case(self, status: str, expected: ResultStatus) -> None:
        summary = read_result_summary({"status": status})
        assert summary.status is expected
        assert summary.accepted_records == summary.rejected_records == ()
        assert summary.received is None

    @pytest.mark.parametrize("document", [{"status": "Queued"}, {}, {"status": 1}, ["x"], None])
    def test_an_unknown_status_is_unreadable(self, document: object) -> None:
        with pytest.raises(UnreadableResultError):
            read_result_summary(document)

    def test_the_correctly_spelled_count_is_read_too(self) -> None:
        document = {"status": "Complete", "numberOfRecordsReceived": "3"}
        assert read_result_summary(document).received == 3

    def test_malformed_entries_are_skipped(self) -> None:
        document = copy.deepcopy(COMPLETE)
        document["acceptedRecords"].append("junk")
        document["rejectedRecords"][0]["errorMessages"] = ["not", "a string"]
        document["numberOfRecordsAccepted"] = True
        summary = read_result_summary(document)
        assert len(summary.accepted_records) == 1
        assert summary.rejected_records[0].errors == ()
        assert summary.accepted is None

    @pytest.mark.parametrize(
        ("text", "lines"),
        [
            ("a.\nb.", ("a.", "b.")),
            ("  a.\r\n\n  \nb.  \n", ("a.", "b.")),
            ("", ()),
            (None, ()),
        ],
    )
    def test_error_messages_split_by_line(self, text: object, lines: tuple[str, ...]) -> None:
        assert split_error_messages(text) == lines


class TestCompletedMessage:
    def test_records_by_id_and_fingerprint_without_contact_details(self) -> None:
        data = completed_message_data(read_result_summary(COMPLETE), payload_id=PAYLOAD_ID)
        assert data["payload_id"] == PAYLOAD_ID
        assert data["status"] == "complete"
        assert (data["records_received"], data["records_accepted"], data["records_rejected"]) == (
            2,
            1,
            1,
        )
        [accepted] = data["accepted"]  # type: ignore[misc]
        assert accepted["fingerprint"] == record_fingerprint(SUBMITTED[0])
        assert accepted["associations"][0] == {
            "payer_id": "SYN87726",
            "provider_id": "1999999984",
            "provider_id_type": "NPI",
            "status": "Associated",
            "status_date": "2025-03-18T16:02:11.402311",
        }
        [rejected] = data["rejected"]  # type: ignore[misc]
        assert rejected == {
            "payer_id": "SYN87726",
            "npi": 1999999985,
            "tin": 990000001,
            "fingerprint": record_fingerprint(SUBMITTED[1]),
            "errors": ["Provider NPI is invalid.", "Preference for Aggregation NPI is invalid."],
        }
        text = json.dumps(data)
        for contact in ("example.invalid", "5555550101", "5555550102", "Casey", "Robin"):
            assert contact not in text

    def test_errored_has_a_message_with_no_records(self) -> None:
        data = completed_message_data(read_result_summary({"status": "Errored"}), payload_id="p-1")
        assert (data["status"], data["accepted"], data["rejected"]) == ("errored", [], [])

    def test_processing_has_none(self) -> None:
        with pytest.raises(ValueError, match="processing"):
            completed_message_data(read_result_summary(PROCESSING), payload_id="p-1")


class TestDecidePoll:
    def decide(self, outcome: PollOutcome, attempts: int, now: datetime, **kw: object):
        return decide_poll(
            outcome=outcome,
            attempts=attempts,
            first_poll_at=T0,
            now=now,
            random=middle,
            **kw,  # type: ignore[arg-type]
        )

    def test_processing_backs_off_to_the_cap(self) -> None:
        delays = [
            (self.decide(PollOutcome.PROCESSING, n, T0).at - T0).total_seconds()  # type: ignore[operator]
            for n in range(1, 9)
        ]
        assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]

    def test_processing_polls_last_at_the_deadline_then_is_dead(self) -> None:
        deadline = T0 + timedelta(days=7)
        near = self.decide(PollOutcome.PROCESSING, 200, deadline - timedelta(minutes=5))
        assert (near.action, near.at) == (PollAction.POLL, deadline)
        late = self.decide(PollOutcome.PROCESSING, 201, deadline)
        assert (late.action, late.reason) == (PollAction.DEAD, "still processing after 7d")

    @pytest.mark.parametrize(
        ("outcome", "action"),
        [
            (PollOutcome.COMPLETE, PollAction.DONE),
            (PollOutcome.ERRORED, PollAction.DONE),
            (PollOutcome.PERMANENT_FAILURE, PollAction.DEAD),
        ],
    )
    def test_final_outcomes(self, outcome: PollOutcome, action: PollAction) -> None:
        decision = self.decide(outcome, 1, T0)
        assert (decision.action, decision.at) == (action, None)

    def test_a_404_is_retried_a_few_times_then_dead(self) -> None:
        policy = ERA_POLL_POLICY.not_found_attempts
        actions = [self.decide(PollOutcome.NOT_FOUND, n, T0).action for n in range(1, policy + 1)]
        assert actions == [PollAction.POLL] * (policy - 1) + [PollAction.DEAD]
        assert self.decide(PollOutcome.NOT_FOUND, policy, T0).reason == "not found after 5 polls"

    def test_a_404_after_long_processing_counts_its_own_streak(self) -> None:
        decision = self.decide(PollOutcome.NOT_FOUND, 40, T0, not_found_streak=1)
        assert decision.action is PollAction.POLL

    def test_a_transient_failure_honours_a_longer_retry_after(self) -> None:
        decision = self.decide(PollOutcome.TRANSIENT_FAILURE, 1, T0, retry_after=900.0)
        assert decision.at == T0 + timedelta(seconds=900)

    def test_transient_failures_give_up_at_the_deadline(self) -> None:
        policy = RetryPolicy(base_seconds=60, max_delay_seconds=60, give_up_after_seconds=3600)
        decision = self.decide(
            PollOutcome.TRANSIENT_FAILURE, 60, T0 + timedelta(hours=1), policy=policy
        )
        assert (decision.action, decision.reason) == (
            PollAction.DEAD,
            "gave up after 1h (transient_failure)",
        )

    def test_outcomes_of_results_and_failures(self) -> None:
        assert outcome_of(read_result_summary(COMPLETE)) is PollOutcome.COMPLETE
        assert outcome_of(read_result_summary(PROCESSING)) is PollOutcome.PROCESSING
        assert outcome_of_failure(FailureKind.NOT_FOUND) is PollOutcome.NOT_FOUND
        assert outcome_of_failure(FailureKind.TRANSIENT) is PollOutcome.TRANSIENT_FAILURE
        assert outcome_of_failure(FailureKind.PERMANENT) is PollOutcome.PERMANENT_FAILURE

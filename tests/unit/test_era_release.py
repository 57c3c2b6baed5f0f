"""Which ERA submissions may be released (pure): only one whose Optum answer was lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from receiver.enrollment.submissions import (
    RELEASABLE_AFTER,
    EraSubmission,
    SubmissionStatus,
    release_refusal,
)

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def submission(status: SubmissionStatus) -> EraSubmission:
    return EraSubmission(
        id="era_1", connection="acme", record_count=2, created_at=T0, status=status
    )


def test_unknown_may_be_released_at_once() -> None:
    assert release_refusal(submission(SubmissionStatus.UNKNOWN), T0) is None


def test_submitting_only_once_its_call_must_be_over() -> None:
    busy = release_refusal(submission(SubmissionStatus.SUBMITTING), T0 + timedelta(minutes=1))
    assert busy is not None
    assert "is being submitted" in busy
    late = T0 + RELEASABLE_AFTER
    assert release_refusal(submission(SubmissionStatus.SUBMITTING), late) is None


@pytest.mark.parametrize(
    "status",
    [
        SubmissionStatus.POLLING,
        SubmissionStatus.COMPLETE,
        SubmissionStatus.ERRORED,
        SubmissionStatus.DEAD,
        SubmissionStatus.FAILED,
    ],
)
def test_anything_answered_is_refused_naming_its_status(status: SubmissionStatus) -> None:
    refusal = release_refusal(submission(status), T0 + timedelta(days=1))
    assert refusal is not None
    assert f"is {status.value}" in refusal

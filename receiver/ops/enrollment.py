"""ERA enrollment use cases web/ and cli/ share: submit records through an Optum connection
(refusing records already accepted), a submission's status, and the release of one whose
Optum answer was lost."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from receiver.enrollment.polling import ERA_POLL_POLICY
from receiver.enrollment.records import parse_records, record_fingerprint
from receiver.enrollment.submissions import (
    EraSubmission,
    LiveRecord,
    SubmissionStatus,
    release_refusal,
)
from receiver.errors import BadRequestError, ConflictError, NotFoundError, ReceiverError
from receiver.ids import new_id
from receiver.models import Actor, AuditAction
from receiver.ops.trail import record
from receiver.store.base import Store
from receiver.store.ports import EnrollmentStore
from receiver.upstream.optum import OptumClient, OptumError

_log = structlog.get_logger("receiver.ops.enrollment")


class OptumUpstreamError(ReceiverError):
    """Optum refused or did not answer a submission; the detail says whether it may still
    have been accepted."""

    status_code = 502
    code = "upstream_error"


class RecordAlreadySubmittedError(ConflictError):
    """A record equals (after normalising) one already pending or accepted."""

    code = "already_submitted"


def conflict_detail(found: dict[int, LiveRecord]) -> str:
    """Which records of this submission equal which earlier ones (pure)."""
    parts = [
        f"records[{index}] equals records[{live.position}] of submission {live.submission_id} "
        f"({live.state.value})"
        for index, live in sorted(found.items())
    ]
    return (
        "; ".join(parts) + ": Optum asks that accepted records are never resubmitted "
        "(a rejected record, corrected, may go again)"
    )


async def submit(
    store: EnrollmentStore,
    client: OptumClient,
    *,
    connection_name: object,
    records: object,
    now: Callable[[], datetime],
    new_submission_id: Callable[[], str] = lambda: new_id("era"),
) -> EraSubmission:
    """Validate, reserve the records, submit them to Optum; the submission, polling."""
    if not isinstance(connection_name, str) or not connection_name:
        raise BadRequestError("optum: must name an Optum connection")
    stored = await store.fetch_optum_connection(connection_name)
    if stored is None:
        raise BadRequestError("optum: no Optum connection by that name")
    cleaned = parse_records(records)
    fingerprints = [record_fingerprint(record) for record in cleaned]
    live = {r.fingerprint: r for r in await store.find_live_records(fingerprints)}
    if live:
        found = {i: live[fp] for i, fp in enumerate(fingerprints) if fp in live}
        raise RecordAlreadySubmittedError(conflict_detail(found))
    started = now()
    submission = EraSubmission(
        id=new_submission_id(),
        connection=stored.name,
        record_count=len(cleaned),
        created_at=started,
        status=SubmissionStatus.SUBMITTING,
    )
    try:
        await store.add_era_submission(submission, fingerprints)
    except ConflictError:  # a concurrent submission took a record first
        raise RecordAlreadySubmittedError(
            "a record of this submission was submitted meanwhile by another; look it up and "
            "resubmit the others"
        ) from None
    try:
        payload_id = await client.submit_era_enrollment(stored.connection, cleaned)
    except OptumError as exc:
        status = SubmissionStatus.UNKNOWN if exc.outcome_unknown else SubmissionStatus.FAILED
        await store.save_era_submission(
            dataclasses.replace(submission, status=status, reason=exc.reason, trace_id=exc.trace_id)
        )
        if not exc.outcome_unknown:
            await store.settle_era_records(submission.id, rejected=None)
        _log.warning(
            "enrollment.submit_failed",
            submission_id=submission.id,
            status=exc.status,
            outcome_unknown=exc.outcome_unknown,
            trace_id=exc.trace_id,
        )
        maybe = " (Optum may have accepted it: its records stay reserved)" * exc.outcome_unknown
        raise OptumUpstreamError(
            f"submission {submission.id} failed: {exc.reason}{maybe}"
            + (f" (Optum trace id {exc.trace_id})" if exc.trace_id else "")
        ) from None
    submitted_at = now()
    polling = dataclasses.replace(
        submission,
        status=SubmissionStatus.POLLING,
        payload_id=payload_id,
        first_poll_at=submitted_at,
        next_poll_at=submitted_at + timedelta(seconds=ERA_POLL_POLICY.base_seconds),
    )
    await store.save_era_submission(polling)
    _log.info("enrollment.submitted", submission_id=submission.id, records=len(cleaned))
    return polling


def submission_json(submission: EraSubmission) -> dict[str, object]:
    """A submission as the API and the CLI show it."""

    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": submission.id,
        "optum": submission.connection,
        "payloadId": submission.payload_id,
        "status": submission.status.value,
        "records": submission.record_count,
        "created_at": iso(submission.created_at),
        "polls": submission.attempts,
        "last_polled_at": iso(submission.last_polled_at),
        "next_poll_at": iso(submission.next_poll_at),
        "reason": submission.reason,
        "trace_id": submission.trace_id,
        "completed_at": iso(submission.completed_at),
        "result": submission.result,
    }


async def status(store: EnrollmentStore, submission_id: str) -> EraSubmission:
    """A submission by id; NotFoundError otherwise."""
    found = await store.fetch_era_submission(submission_id)
    if found is None:
        raise NotFoundError("no ERA enrollment submission by that id")
    return found


async def release(
    store: Store, submission_id: str, *, now: datetime, actor: Actor
) -> EraSubmission:
    """Give up a submission whose Optum answer was lost (see `release_refusal`): marked dead,
    its pending records free to be submitted again, audited; the submission as it now is.
    NotFoundError for an unknown id, ConflictError when it may not be released or moved on
    meanwhile."""
    found = await status(store, submission_id)
    refusal = release_refusal(found, now)
    if refusal is not None:
        raise ConflictError(refusal)
    reason = (
        f"released by {actor.who} after Optum's answer was lost; if Optum did accept it, "
        "resubmitting its records enrolls them twice"
    )
    if not await store.release_era_submission(
        submission_id, was=found.status, reason=reason, now=now
    ):
        raise ConflictError(f"submission {submission_id} changed meanwhile; look at it again")
    counts = {"records": found.record_count}
    await record(
        store,
        actor,
        AuditAction.ERA_SUBMISSION_RELEASE,
        now=now,
        target=submission_id,
        counts=counts,
    )
    _log.info("enrollment.released", submission_id=submission_id, was=found.status.value)
    return await status(store, submission_id)

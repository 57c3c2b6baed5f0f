"""Eligibility use cases web/ and cli/ share: a real-time check, a batch submission, a batch's
progress, following a batch another system submitted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import structlog

from receiver.eligibility.batching import split_batches
from receiver.eligibility.events import check_event, is_batch_id
from receiver.eligibility.fields import Issue, JsonObject
from receiver.eligibility.records import (
    BatchStatus,
    EligibilityBatch,
    EligibilitySubmission,
    Origin,
)
from receiver.eligibility.rules import check_batch, check_request
from receiver.errors import BadRequestError, ConflictError, NotFoundError, ReceiverError
from receiver.ids import new_id
from receiver.models import Account
from receiver.store.base import PROCESS_JOB
from receiver.store.ports import EligibilityStageStore
from receiver.upstream.stedi import UpstreamError
from receiver.upstream.stedi_eligibility import StediEligibilityClient

_log = structlog.get_logger("receiver.ops.eligibility")

DEFAULT_MAX_RETRY_HOURS = 8  # Stedi's default for a batch submitted without maxRetryHours


class BadGatewayError(ReceiverError):
    """Stedi answered with an error, or with something receiver cannot read."""

    status_code = 502
    code = "upstream_error"


class GatewayTimeoutError(ReceiverError):
    """Stedi did not answer in time (or kept throttling until the deadline)."""

    status_code = 504
    code = "upstream_timeout"


class InvalidChecksError(BadRequestError):
    """One or more checks break the request rules; `issues` lists every one with its path."""

    code = "invalid_checks"

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        count = len(self.issues)
        shown = "; ".join(str(issue) for issue in self.issues[:20])
        more = f" (and {count - 20} more)" if count > 20 else ""
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} {noun}, nothing was sent to Stedi: {shown}{more}")


def issues_json(issues: Sequence[Issue]) -> list[dict[str, str]]:
    """Issues as `{"path", "message"}` objects."""
    return [{"path": issue.path, "message": issue.message} for issue in issues]


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """A real-time check's answer: Stedi's response, the rules' warnings, the event stored."""

    response: dict[str, object]
    warnings: tuple[Issue, ...]
    event_id: str
    created: bool


@dataclass(frozen=True, slots=True)
class Submitted:
    """A batch submission as stored, with the rules' warnings."""

    submission: EligibilitySubmission
    batches: tuple[EligibilityBatch, ...]
    warnings: tuple[Issue, ...]


async def account_with_key(store: EligibilityStageStore, name: object) -> tuple[Account, str]:
    """The named Stedi account and its API key; 400 without a name, 404 or 409 otherwise."""
    if not isinstance(name, str) or not name:
        raise BadRequestError("account is required: the local name of a Stedi account")
    account = await store.fetch_account(name)
    if account is None:
        raise NotFoundError(f"no account named {name!r}")
    if not account.api_key:
        raise ConflictError(
            f"account {name} has no Stedi API key; add one with "
            f"receiver accounts rotate {name} --api-key-env VAR"
        )
    return account, account.api_key


def upstream_failure(exc: UpstreamError, what: str) -> ReceiverError:
    """The 502 or 504 for a failed Stedi call, with a detail naming what failed and why."""
    if exc.status is None and ("timeout" in exc.reason or "deadline" in exc.reason):
        return GatewayTimeoutError(f"{what}: Stedi did not answer in time ({exc.reason})")
    return BadGatewayError(f"{what}: Stedi answered {exc.reason}")


async def run_check(
    store: EligibilityStageStore,
    client: StediEligibilityClient,
    body: JsonObject,
    *,
    today: date,
    now: Callable[[], datetime],
    deadline_seconds: float,
    new_event_id: Callable[[], str] = lambda: new_id("evt"),
) -> CheckOutcome:
    """Validate one check (Stedi's request plus `account`), send it, store the answer as an
    event (published by the worker as `eligibility.check.completed`) and return it."""
    request = {key: value for key, value in body.items() if key != "account"}
    account, api_key = await account_with_key(store, body.get("account"))
    result = check_request(request, today=today)
    if not result.ok:
        raise InvalidChecksError(result.errors)
    try:
        response = await client.check(
            account=account.name,
            api_key=api_key,
            request=result.request,
            deadline_seconds=deadline_seconds,
        )
    except UpstreamError as exc:
        _log.warning(
            "eligibility.check_failed", account=account.name, status=exc.status, reason=exc.reason
        )
        raise upstream_failure(exc, "eligibility check") from None
    event = check_event(response, account=account.name, event_id=new_event_id(), received_at=now())
    recorded = await store.record_inbound(event, PROCESS_JOB)
    _log.info(
        "eligibility.check_done",
        account=account.name,
        event_id=recorded.event_id,
        created=recorded.created,
    )
    return CheckOutcome(response, result.warnings, recorded.event_id, recorded.created)


async def submit_checks(
    store: EligibilityStageStore,
    client: StediEligibilityClient,
    *,
    account_name: object,
    items: object,
    origin: Origin,
    today: date,
    now: Callable[[], datetime],
    batch_size: int,
    new_submission_id: Callable[[], str] = lambda: new_id("elb"),
) -> Submitted:
    """Validate every item (InvalidChecksError listing each bad one, nothing sent), split them
    into batches of at most `batch_size`, submit each to Stedi and store the submission with
    the batches' poll state.

    If Stedi refuses a later batch, the ones it took are still stored (and polled) and the
    502 names the local id."""
    account, api_key = await account_with_key(store, account_name)
    result = check_batch(items, today=today)
    if not result.ok:
        raise InvalidChecksError(result.errors)
    submission_id = new_submission_id()
    chunks = split_batches(result.items, batch_size)
    batches: list[EligibilityBatch] = []
    failure: ReceiverError | None = None
    for position, chunk in enumerate(chunks):
        try:
            answer = await client.submit_batch(
                api_key=api_key, items=list(chunk), name=f"{submission_id}-{position + 1}"
            )
        except UpstreamError as exc:
            _log.warning(
                "eligibility.batch_submit_failed",
                account=account.name,
                submission_id=submission_id,
                position=position,
                status=exc.status,
                reason=exc.reason,
            )
            failure = upstream_failure(exc, f"batch {position + 1} of {len(chunks)}")
            break
        batch_id = answer.get("batchId")
        if not is_batch_id(batch_id):
            failure = BadGatewayError(f"batch {position + 1}: Stedi's batchId is not usable")
            break
        submitted_at = now()
        batches.append(
            EligibilityBatch(
                batch_id=str(batch_id),
                submission_id=submission_id,
                account=account.name,
                position=position,
                item_count=len(chunk),
                submitted_at=submitted_at,
                max_retry_hours=DEFAULT_MAX_RETRY_HOURS,
                next_poll_at=submitted_at,
            )
        )
    submission = EligibilitySubmission(
        id=submission_id,
        account=account.name,
        origin=origin,
        item_count=sum(batch.item_count for batch in batches),
        created_at=now(),
    )
    if batches:
        await store.add_eligibility_submission(submission, batches)
    _log.info(
        "eligibility.batches_submitted",
        account=account.name,
        submission_id=submission_id,
        batches=len(batches),
        items=submission.item_count,
    )
    if failure is not None:
        if batches:
            earlier = (
                "1 earlier batch was"
                if len(batches) == 1
                else f"{len(batches)} earlier batches were"
            )
            failure.detail += f"; {earlier} submitted and followed as {submission_id}"
        raise failure
    return Submitted(submission, tuple(batches), result.warnings)


async def follow_batch(
    store: EligibilityStageStore,
    client: StediEligibilityClient,
    *,
    account_name: str,
    batch_id: str,
    now: datetime,
    new_submission_id: Callable[[], str] = lambda: new_id("elb"),
) -> EligibilitySubmission:
    """Follow a batch another system submitted: its size from Stedi's batch status, then
    polled like ours. ConflictError if receiver already follows it."""
    if not is_batch_id(batch_id):
        raise BadRequestError("batch id must be 1-100 letters, digits, hyphens or underscores")
    account, api_key = await account_with_key(store, account_name)
    if await store.fetch_eligibility_batch(batch_id) is not None:
        raise ConflictError(f"batch {batch_id} is already followed")
    try:
        status = await client.batch_status(api_key=api_key, batch_id=batch_id)
    except UpstreamError as exc:
        raise upstream_failure(exc, f"batch {batch_id}") from None
    total = status.get("totalCount")
    if not isinstance(total, int) or total < 0:
        raise BadGatewayError(f"batch {batch_id}: Stedi's status has no totalCount")
    retry_hours = status.get("maxRetryHours")
    submission = EligibilitySubmission(new_submission_id(), account.name, Origin.FOLLOW, total, now)
    batch = EligibilityBatch(
        batch_id=batch_id,
        submission_id=submission.id,
        account=account.name,
        position=0,
        item_count=total,
        submitted_at=now,
        max_retry_hours=retry_hours if isinstance(retry_hours, int) else DEFAULT_MAX_RETRY_HOURS,
        next_poll_at=now,
    )
    await store.add_eligibility_submission(submission, [batch])
    _log.info("eligibility.batch_followed", account=account.name, submission_id=submission.id)
    return submission


async def progress(store: EligibilityStageStore, submission_id: str) -> dict[str, object]:
    """A submission's progress: its batches, results stored of expected, and a status
    (`polling` while any batch is, else `completed` or, if any was given up, `given_up`)."""
    submission = await store.fetch_eligibility_submission(submission_id)
    if submission is None:
        raise NotFoundError("no such eligibility submission")
    batches = await store.list_eligibility_batches(submission_id)
    counts: dict[str, int] = {}
    for batch in batches:
        for status, n in (await store.count_eligibility_results(batch.batch_id)).items():
            counts[status] = counts.get(status, 0) + n
    statuses = {batch.status for batch in batches}
    overall = (
        BatchStatus.POLLING
        if BatchStatus.POLLING in statuses
        else BatchStatus.GIVEN_UP
        if BatchStatus.GIVEN_UP in statuses
        else BatchStatus.COMPLETED
    )
    return {
        "id": submission.id,
        "account": submission.account,
        "origin": submission.origin.value,
        "created_at": submission.created_at,
        "status": overall.value,
        "expected": submission.item_count,
        "stored": sum(batch.stored_results for batch in batches),
        "results": counts,
        "batches": [batch_json(batch) for batch in batches],
    }


def batch_json(batch: EligibilityBatch) -> dict[str, object]:
    """One batch's progress fields."""
    return {
        "batch_id": batch.batch_id,
        "status": batch.status.value,
        "expected": batch.item_count,
        "stored": batch.stored_results,
        "passes": batch.attempts,
        "submitted_at": batch.submitted_at,
        "last_polled_at": batch.last_polled_at,
        "next_poll_at": batch.next_poll_at if batch.status is BatchStatus.POLLING else None,
        "completed_at": batch.completed_at,
        "reason": batch.reason,
    }


def submitted_json(submitted: Submitted) -> dict[str, object]:
    """The 202 answer to a batch submission."""
    return {
        "id": submitted.submission.id,
        "account": submitted.submission.account,
        "items": submitted.submission.item_count,
        "batch_ids": [batch.batch_id for batch in submitted.batches],
        "warnings": issues_json(submitted.warnings),
    }

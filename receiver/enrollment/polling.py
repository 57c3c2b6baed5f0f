"""When to poll Optum for an ERA enrollment submission's result again, from persisted data
and an explicit `now`. Pure."""

from __future__ import annotations

import enum
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from receiver.enrollment.results import ResultSummary
from receiver.policy import FailureKind, RetryPolicy, backoff_seconds

# Poll a submission a minute after it, backing off to hourly, for at most a week; a result
# that stays unknown (404) is given up after five polls.
ERA_POLL_POLICY = RetryPolicy(
    base_seconds=60.0,
    max_delay_seconds=3600.0,
    give_up_after_seconds=7 * 24 * 3600.0,
    not_found_attempts=5,
    jitter=0.1,
)


class PollOutcome(enum.StrEnum):
    """What the last poll of a submission's result found."""

    PROCESSING = "processing"
    NOT_FOUND = "not_found"
    TRANSIENT_FAILURE = "transient_failure"
    PERMANENT_FAILURE = "permanent_failure"
    COMPLETE = "complete"
    ERRORED = "errored"


_FAILURES = {
    FailureKind.NOT_FOUND: PollOutcome.NOT_FOUND,
    FailureKind.TRANSIENT: PollOutcome.TRANSIENT_FAILURE,
    FailureKind.PERMANENT: PollOutcome.PERMANENT_FAILURE,
}


class PollAction(enum.StrEnum):
    """Poll again at a time, stop with the result, or stop without one."""

    POLL = "poll"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class PollDecision:
    """What to do after a poll: `at` is set when the action is POLL."""

    action: PollAction
    at: datetime | None
    reason: str


def outcome_of(summary: ResultSummary) -> PollOutcome:
    """The poll outcome a result answer stands for."""
    return PollOutcome(summary.status.value)


def outcome_of_failure(kind: FailureKind) -> PollOutcome:
    """The poll outcome a failed fetch stands for (an OptumError's `kind`)."""
    return _FAILURES[kind]


def decide_poll(
    *,
    outcome: PollOutcome,
    attempts: int,
    first_poll_at: datetime,
    now: datetime,
    policy: RetryPolicy = ERA_POLL_POLICY,
    retry_after: float | None = None,
    not_found_streak: int | None = None,
    random: Callable[[], float] = _random.random,
) -> PollDecision:
    """Decide, from persisted data, what follows a poll of a submission's result.

    `attempts` counts the polls so far, this one included; `not_found_streak` the 404s in a
    row (this one included; `attempts` when not given). Complete and Errored are done; a
    permanent failure is dead; a 404 is polled again until `policy.not_found_attempts`, then
    dead. Processing and transient failures back off from `policy.base_seconds` (doubling,
    capped at `policy.max_delay_seconds`, jittered, a longer Retry-After honoured) until
    `policy.give_up_after_seconds` after the first poll: the last poll falls on that
    deadline, and the next decision is dead.
    """
    if outcome in (PollOutcome.COMPLETE, PollOutcome.ERRORED):
        return PollDecision(PollAction.DONE, None, outcome.value)
    if outcome is PollOutcome.PERMANENT_FAILURE:
        return PollDecision(PollAction.DEAD, None, "permanent failure")
    streak = attempts if not_found_streak is None else not_found_streak
    if outcome is PollOutcome.NOT_FOUND and streak >= policy.not_found_attempts:
        return PollDecision(PollAction.DEAD, None, f"not found after {streak} polls")
    deadline = first_poll_at + timedelta(seconds=policy.give_up_after_seconds)
    if now >= deadline:
        waited = _duration(policy.give_up_after_seconds)
        reason = f"still processing after {waited}"
        if outcome is not PollOutcome.PROCESSING:
            reason = f"gave up after {waited} ({outcome.value})"
        return PollDecision(PollAction.DEAD, None, reason)
    delay = backoff_seconds(attempts, policy, retry_after=retry_after, random=random)
    at = min(now + timedelta(seconds=delay), deadline)
    return PollDecision(PollAction.POLL, at, outcome.value)


def _duration(seconds: float) -> str:
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds)}s"

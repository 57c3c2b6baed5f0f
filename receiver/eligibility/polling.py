"""The pure poll decision for a submitted Stedi batch: from its persisted poll state, a clock
reading and a schedule, what to do next.

A *pass* polls `GET {manager}/eligibility-manager/polling/batch-eligibility?batchId=` and then
follows `nextPageToken` page by page until Stedi leaves it out. Between passes the poller waits
on a schedule anchored at the batch's submission: by default 5 s, 15 s, 30 s and 1 min apart,
then every 5 min. Anchoring at the start keeps the schedule from drifting with slow polls, and
after an outage the next pass is due at once but the one after it waits for its next slot, so
missed slots never turn into a burst. A batch is given up when it is still incomplete after a
last pass at the deadline (by default 25 h: Stedi retries a payer for `maxRetryHours`, 8 to 24).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_DEFAULT_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=15),
    timedelta(seconds=30),
    timedelta(minutes=1),
)


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """When passes are due: `delays` apart at first, then every `then_every`, for at most
    `give_up_after` from the submission; a pass longer than `max_pages` pages is abandoned."""

    delays: tuple[timedelta, ...] = _DEFAULT_DELAYS
    then_every: timedelta = timedelta(minutes=5)
    give_up_after: timedelta = timedelta(hours=25)
    max_pages: int = 1000

    def __post_init__(self) -> None:
        if any(delay <= timedelta(0) for delay in (*self.delays, self.then_every)):
            raise ValueError("poll delays must be positive")
        if self.max_pages < 1:
            raise ValueError("max_pages must be at least 1")

    def slot(self, index: int) -> timedelta:
        """How long after the submission pass number `index` (0-based) is due."""
        if index < len(self.delays):
            return sum(self.delays[: index + 1], timedelta(0))
        return sum(self.delays, timedelta(0)) + (index - len(self.delays) + 1) * self.then_every


def schedule_for(max_retry_hours: int, *, margin: timedelta = timedelta(hours=1)) -> PollSchedule:
    """The default schedule, giving up `margin` after Stedi stops retrying a batch submitted
    with `maxRetryHours` (Stedi's default is 8)."""
    return PollSchedule(give_up_after=timedelta(hours=max_retry_hours) + margin)


@dataclass(frozen=True, slots=True)
class PollState:
    """A batch's persisted poll state.

    `attempts` counts passes begun; `last_polled_at` is when the latest page was fetched;
    `pages_seen` counts the pages of the current pass; `next_page_token` is the token the
    latest page returned (None when Stedi left it out); `expected_items` is how many checks
    were submitted and `stored_results` how many distinct results (by `ec_` id) are stored.
    Times are timezone-aware.
    """

    started_at: datetime
    expected_items: int
    stored_results: int = 0
    attempts: int = 0
    last_polled_at: datetime | None = None
    pages_seen: int = 0
    next_page_token: str | None = None


@dataclass(frozen=True, slots=True)
class FetchPage:
    """Fetch the next page of the current pass now, with this `pageToken`."""

    token: str


@dataclass(frozen=True, slots=True)
class PollAt:
    """Begin a new pass (no page token) at `at`, which is never before `now`."""

    at: datetime


@dataclass(frozen=True, slots=True)
class Done:
    """Every expected result is stored: publish `eligibility.batch.completed`."""


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop polling this batch; `reason` is for ops and names no patient data."""

    reason: str


PollDecision = FetchPage | PollAt | Done | GiveUp


def decide_poll(
    state: PollState, *, now: datetime, schedule: PollSchedule | None = None
) -> PollDecision:
    """What to do next for one batch."""
    schedule = schedule or PollSchedule()
    if state.stored_results >= state.expected_items:
        return Done()
    if state.next_page_token:
        if state.pages_seen >= schedule.max_pages:
            return GiveUp(f"a poll pass went past {schedule.max_pages} pages")
        return FetchPage(state.next_page_token)
    deadline = state.started_at + schedule.give_up_after
    if state.last_polled_at is not None and state.last_polled_at >= deadline:
        return GiveUp(
            f"{state.stored_results} of {state.expected_items} results after "
            f"{_hours(schedule.give_up_after)} h"
        )
    return PollAt(max(now, min(next_pass_at(state, schedule), deadline)))


def next_pass_at(state: PollState, schedule: PollSchedule) -> datetime:
    """The first slot of `schedule` that is both at least the `attempts`-th and after the last
    poll: the due time of the next pass, however long the poller was away."""
    index = max(state.attempts, 0)
    if state.last_polled_at is not None:
        index = max(index, _first_slot_after(state.last_polled_at - state.started_at, schedule))
    return state.started_at + schedule.slot(index)


def _first_slot_after(elapsed: timedelta, schedule: PollSchedule) -> int:
    for index in range(len(schedule.delays)):
        if schedule.slot(index) > elapsed:
            return index
    beyond = elapsed - sum(schedule.delays, timedelta(0))
    return len(schedule.delays) + max(beyond // schedule.then_every, 0)


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g}"

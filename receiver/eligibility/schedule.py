"""RECEIVER_ELIGIBILITY_POLL_SCHEDULE read into a PollSchedule (pure)."""

from __future__ import annotations

from receiver.eligibility.polling import PollSchedule, schedule_for
from receiver.policy import parse_poll_schedule


def schedule_of(text: str, max_retry_hours: int) -> PollSchedule:
    """The poll schedule for a batch submitted with `max_retry_hours`, with `text`'s delays."""
    delays, every = parse_poll_schedule(text)
    base = schedule_for(max_retry_hours)
    return PollSchedule(
        delays=delays, then_every=every, give_up_after=base.give_up_after, max_pages=base.max_pages
    )

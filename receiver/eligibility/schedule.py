"""RECEIVER_ELIGIBILITY_POLL_SCHEDULE read into a PollSchedule (pure)."""

from __future__ import annotations

from datetime import timedelta

from receiver.eligibility.polling import PollSchedule, schedule_for


def parse_poll_schedule(text: str) -> tuple[tuple[timedelta, ...], timedelta]:
    """Comma-separated seconds between poll passes, the last repeating: `5,15,30,60,300` polls
    5 s, 15 s, 30 s and 60 s apart, then every 300 s. ValueError names what is wrong."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError("give at least one delay in seconds, e.g. 5,15,30,60,300")
    delays: list[timedelta] = []
    for part in parts:
        try:
            seconds = float(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a number of seconds") from None
        if not 0 < seconds <= 86_400:
            raise ValueError(f"each delay must be more than 0 and at most 86400 s, not {part}")
        delays.append(timedelta(seconds=seconds))
    return tuple(delays[:-1]), delays[-1]


def schedule_of(text: str, max_retry_hours: int) -> PollSchedule:
    """The poll schedule for a batch submitted with `max_retry_hours`, with `text`'s delays."""
    delays, every = parse_poll_schedule(text)
    base = schedule_for(max_retry_hours)
    return PollSchedule(
        delays=delays, then_every=every, give_up_after=base.give_up_after, max_pages=base.max_pages
    )

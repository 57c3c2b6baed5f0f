"""The pure poll decision for a Stedi batch: pages now, passes on a start-anchored schedule,
done when every result is stored, given up after a last pass at the deadline."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from receiver.eligibility.polling import (
    Done,
    FetchPage,
    GiveUp,
    PollAt,
    PollSchedule,
    PollState,
    decide_poll,
    next_pass_at,
    schedule_for,
)

T0 = datetime(2025, 3, 12, 13, 5, 41, tzinfo=UTC)
SCHEDULE = PollSchedule()
S = timedelta(seconds=1)


def state(**fields: object) -> PollState:
    return replace(PollState(started_at=T0, expected_items=500), **fields)


class TestPollSchedule:
    def test_the_default_slots(self):
        offsets = [SCHEDULE.slot(n) / S for n in range(7)]
        assert offsets == [5, 20, 50, 110, 410, 710, 1010]

    def test_schedule_for_max_retry_hours(self):
        assert schedule_for(8).give_up_after == timedelta(hours=9)
        assert schedule_for(24, margin=timedelta(0)).give_up_after == timedelta(hours=24)
        assert schedule_for(8).delays == SCHEDULE.delays

    @pytest.mark.parametrize(
        "fields",
        [
            {"delays": (5 * S, 0 * S)},
            {"delays": (-S,)},
            {"then_every": timedelta(0)},
            {"max_pages": 0},
        ],
    )
    def test_nonsense_schedules_are_refused(self, fields):
        with pytest.raises(ValueError, match="must be"):
            PollSchedule(**fields)

    def test_a_schedule_without_initial_delays(self):
        schedule = PollSchedule(delays=(), then_every=10 * S)
        assert [schedule.slot(n) / S for n in range(3)] == [10, 20, 30]


class TestDecidePoll:
    def test_a_new_batch_is_first_polled_5_seconds_after_submission(self):
        assert decide_poll(state(), now=T0) == PollAt(T0 + 5 * S)

    def test_done_when_every_result_is_stored(self):
        assert decide_poll(state(stored_results=500), now=T0) == Done()
        assert decide_poll(state(stored_results=501), now=T0) == Done()

    def test_done_wins_over_a_pending_page(self):
        assert decide_poll(state(stored_results=500, next_page_token="t"), now=T0) == Done()

    def test_nothing_expected_is_done(self):
        assert decide_poll(state(expected_items=0), now=T0) == Done()

    def test_a_returned_page_token_is_followed_at_once(self):
        current = state(attempts=3, last_polled_at=T0 + 60 * S, pages_seen=2, next_page_token="p3")
        assert decide_poll(current, now=T0 + 61 * S) == FetchPage("p3")

    def test_pages_are_followed_even_past_the_deadline(self):
        late = T0 + timedelta(hours=26)
        current = state(attempts=9, last_polled_at=late, pages_seen=1, next_page_token="p2")
        assert decide_poll(current, now=late) == FetchPage("p2")

    def test_an_empty_token_means_the_pass_is_over(self):
        current = state(attempts=1, last_polled_at=T0 + 5 * S, next_page_token="")
        assert decide_poll(current, now=T0 + 6 * S) == PollAt(T0 + 20 * S)

    def test_a_pass_past_max_pages_is_given_up(self):
        schedule = PollSchedule(max_pages=3)
        current = state(attempts=1, pages_seen=3, next_page_token="p4")
        assert decide_poll(current, now=T0, schedule=schedule) == GiveUp(
            "a poll pass went past 3 pages"
        )
        assert decide_poll(replace(current, pages_seen=2), now=T0, schedule=schedule) == (
            FetchPage("p4")
        )

    def test_a_due_pass_is_due_now_never_in_the_past(self):
        assert decide_poll(state(), now=T0 + 7 * S) == PollAt(T0 + 7 * S)

    def test_passes_follow_the_schedule(self):
        due, current = [], state()
        for _ in range(7):
            decision = decide_poll(current, now=current.last_polled_at or T0)
            assert isinstance(decision, PollAt)
            due.append((decision.at - T0) / S)
            current = replace(current, attempts=current.attempts + 1, last_polled_at=decision.at)
        assert due == [5, 20, 50, 110, 410, 710, 1010]

    def test_slow_polls_do_not_drift(self):
        """A poll that took 4 s still leaves the next pass on its slot from the start."""
        current = state(attempts=5, last_polled_at=T0 + 714 * S)
        assert decide_poll(current, now=T0 + 714 * S) == PollAt(T0 + 1010 * S)

    def test_after_an_outage_one_pass_is_due_and_the_next_waits_for_its_slot(self):
        back = T0 + timedelta(hours=1)
        missed = state(attempts=2, last_polled_at=T0 + 20 * S)
        assert decide_poll(missed, now=back) == PollAt(back)
        caught_up = replace(missed, attempts=3, last_polled_at=back)
        assert decide_poll(caught_up, now=back) == PollAt(T0 + 3710 * S)

    def test_a_clock_behind_the_start_still_advances_by_attempts(self):
        skewed = state(attempts=2, last_polled_at=T0 - 30 * S)
        assert next_pass_at(skewed, SCHEDULE) == T0 + 50 * S

    def test_the_last_pass_is_at_the_deadline(self):
        schedule = schedule_for(8)  # gives up 9 h after submission
        deadline = T0 + timedelta(hours=9)
        current = state(attempts=100, last_polled_at=deadline - 60 * S, stored_results=480)
        assert decide_poll(current, now=deadline - 60 * S, schedule=schedule) == PollAt(deadline)

    def test_incomplete_after_the_last_pass_is_given_up(self):
        deadline = T0 + timedelta(hours=25)
        current = state(attempts=301, last_polled_at=deadline, stored_results=480)
        assert decide_poll(current, now=deadline + S) == GiveUp("480 of 500 results after 25 h")

    def test_a_fractional_deadline_is_named_exactly(self):
        schedule = PollSchedule(give_up_after=timedelta(minutes=90))
        current = state(attempts=9, last_polled_at=T0 + timedelta(hours=2), stored_results=1)
        assert decide_poll(current, now=T0, schedule=schedule) == GiveUp(
            "1 of 500 results after 1.5 h"
        )

    def test_a_custom_schedule_is_used(self):
        schedule = PollSchedule(delays=(S,), then_every=10 * S, give_up_after=timedelta(hours=1))
        current = state(attempts=1, last_polled_at=T0 + S)
        assert decide_poll(current, now=T0 + S, schedule=schedule) == PollAt(T0 + 11 * S)


class TestAPollLoop:
    def test_a_batch_completing_over_time_ends_done(self):
        """Drive the decision like the poller would, against a fake Stedi that completes 100
        results a minute and serves them 40 to a page."""
        completed_by = lambda at: min(500, int((at - T0) / timedelta(minutes=1)) * 100)  # noqa: E731
        current, now, calls = state(), T0, []
        while not isinstance(decision := decide_poll(current, now=now), Done | GiveUp):
            if isinstance(decision, PollAt):
                now = decision.at
                current = replace(current, attempts=current.attempts + 1, pages_seen=0)
                offset = 0
            else:
                offset = int(decision.token)
            ready = completed_by(now)
            page = list(range(offset, min(offset + 40, ready)))
            calls.append((round((now - T0) / S), offset, len(page)))
            more = offset + 40 < ready
            current = replace(
                current,
                last_polled_at=now,
                pages_seen=current.pages_seen + 1,
                next_page_token=str(offset + 40) if more else None,
                stored_results=max(current.stored_results, offset + len(page)),
            )
        assert decision == Done()
        assert [call[0] for call in calls if call[1] == 0] == [5, 20, 50, 110, 410]
        assert current.stored_results == 500
        assert current.attempts == 5

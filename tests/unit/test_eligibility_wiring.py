"""The pure parts that wire the eligibility core: the throttle backoff, the poll schedule
setting, the 429 test, the events and messages results become, the SQL placeholder rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from receiver.delivery.message_id import message_id
from receiver.eligibility.events import (
    BATCH_EVENT,
    CHECK_EVENT,
    MSG_BATCH,
    MSG_CHECK,
    batch_event,
    check_event,
    check_id_of,
    is_batch_id,
)
from receiver.eligibility.poller import batch_summary, poll_state
from receiver.eligibility.records import EligibilityBatch
from receiver.eligibility.schedule import schedule_of
from receiver.errors import ConfigError
from receiver.followup.plan import build_result
from receiver.models import InboundEvent, StoredEvent
from receiver.policy import parse_poll_schedule, throttle_delay
from receiver.settings import load_settings
from receiver.upstream.stedi_eligibility import is_customer_limit
from tests.conftest import fixture_bytes

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ACTIVE = json.loads(fixture_bytes("stedi/eligibility-check.active.response.json"))
AAA = json.loads(fixture_bytes("stedi/eligibility-check.aaa-error.response.json"))


def stored(event: InboundEvent) -> StoredEvent:
    return StoredEvent(
        id=event.id,
        source=event.source.value,
        type=event.type,
        account=event.account,
        external_id=event.external_id,
        status="pending",
        received_at=event.received_at,
        transaction_id=None,
        transaction_set=None,
        direction=None,
        summary=event.summary,
        headers={},
        body=event.body,
    )


class TestThrottleDelay:
    def test_doubles_from_the_base_with_half_of_each_step_jittered(self) -> None:
        assert throttle_delay(1, elapsed=0, deadline=60, jitter=0) == 0.125
        assert throttle_delay(1, elapsed=0, deadline=60, jitter=1) == 0.25
        assert throttle_delay(3, elapsed=0, deadline=60, jitter=0) == 0.5
        assert throttle_delay(30, elapsed=0, deadline=60, jitter=1) == 8.0  # the cap

    def test_none_when_the_wait_would_end_too_close_to_the_deadline(self) -> None:
        assert throttle_delay(1, elapsed=59.7, deadline=60, jitter=0) is None
        assert throttle_delay(5, elapsed=56, deadline=60, jitter=1) is None
        assert throttle_delay(5, elapsed=50, deadline=60, jitter=1) == 4.0

    def test_attempts_count_from_one(self) -> None:
        with pytest.raises(ValueError, match="from 1"):
            throttle_delay(0, elapsed=0, deadline=60, jitter=0)


class TestPollSchedule:
    def test_the_last_delay_repeats(self) -> None:
        delays, every = parse_poll_schedule("5, 15,30,60,300")
        assert delays == tuple(timedelta(seconds=s) for s in (5, 15, 30, 60))
        assert every == timedelta(seconds=300)
        assert parse_poll_schedule("0.05") == ((), timedelta(seconds=0.05))

    @pytest.mark.parametrize(
        ("text", "says"),
        [
            ("", "at least one delay"),
            ("5,x", "not a number"),
            ("0", "more than 0"),
            ("-1", "more than 0"),
            ("5,100000", "at most 86400"),
        ],
    )
    def test_bad_schedules_are_refused(self, text: str, says: str) -> None:
        with pytest.raises(ValueError, match=says):
            parse_poll_schedule(text)

    def test_the_setting_is_checked_at_load(self) -> None:
        with pytest.raises(ConfigError, match="RECEIVER_ELIGIBILITY_POLL_SCHEDULE"):
            load_settings({"RECEIVER_ELIGIBILITY_POLL_SCHEDULE": "soon"})

    def test_gives_up_an_hour_after_stedi_stops_retrying(self) -> None:
        schedule = schedule_of("5,300", 12)
        assert schedule.give_up_after == timedelta(hours=13)
        assert schedule.slot(0) == timedelta(seconds=5)
        assert schedule.slot(2) == timedelta(seconds=605)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            429,
            b'{"message": "Request throttled: CUSTOMER_LIMIT", "code": "TOO_MANY_REQUESTS"}',
            True,
        ),
        (429, b"not json", True),
        (429, b'{"message": "quota", "code": "QUOTA_EXCEEDED"}', False),
        (500, b'{"message": "throttled: CUSTOMER_LIMIT"}', False),
    ],
)
def test_customer_limit(status: int, body: bytes, expected: bool) -> None:
    assert is_customer_limit(status, body) is expected


def test_ids_receiver_accepts() -> None:
    assert check_id_of({"id": "ec_2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e83"})
    assert check_id_of({"id": "evt_1"}) is None
    assert check_id_of({"id": "ec_../x"}) is None
    assert is_batch_id("01958a3c-7e21-7b4d-9c0a-2f4e6a8c0b13")
    assert not is_batch_id("../batch")
    assert not is_batch_id("")


class TestCheckEvents:
    def test_a_check_is_keyed_on_its_ec_id_per_account(self) -> None:
        event = check_event(ACTIVE, account="acme", event_id="evt_1", received_at=NOW)
        assert event.type == CHECK_EVENT
        assert event.external_id == ACTIVE["id"]
        assert event.dedup_keys == (f"eligibility-check:acme:{ACTIVE['id']}",)
        assert json.loads(event.body) == ACTIVE
        assert event.summary["status"] == "active"

    def test_a_response_without_an_id_is_keyed_on_its_event(self) -> None:
        event = check_event({"errors": []}, account="acme", event_id="evt_9", received_at=NOW)
        assert event.dedup_keys == ("eligibility-check:acme:evt:evt_9",)

    def test_the_worker_publishes_the_summary_once_per_check(self) -> None:
        first = check_event(ACTIVE, account="acme", event_id="evt_1", received_at=NOW)
        again = check_event(ACTIVE, account="acme", event_id="evt_2", received_at=NOW)
        (message,) = build_result(stored(first), report=None, kind=None, now=NOW).messages
        (same,) = build_result(stored(again), report=None, kind=None, now=NOW).messages
        assert message.type == MSG_CHECK
        assert (
            message.id
            == same.id
            == message_id(
                account="acme",
                about=("stedi-eligibility-check", ACTIVE["id"]),
                message_type=MSG_CHECK,
            )
        )
        assert message.data["event_id"] == "evt_1"
        assert message.data["status"] == "active"
        for phi in ("ZZT000123401", "TESTPATIENT", "19800101"):
            assert phi not in json.dumps(message.data)

    def test_aaa_errors_are_published_with_their_codes(self) -> None:
        event = check_event(AAA, account="acme", event_id="evt_1", received_at=NOW)
        (message,) = build_result(stored(event), report=None, kind=None, now=NOW).messages
        assert message.data["status"] == "error"
        errors = message.data["errors"]
        assert isinstance(errors, list)
        assert errors
        assert all(error["code"] for error in errors)


def test_a_completed_batch_publishes_its_counts() -> None:
    summary = batch_summary("b-1", {"active": 3, "error": 1, "inactive": 2})
    assert (summary.total, summary.active, summary.inactive, summary.errors, summary.unknown) == (
        6,
        3,
        2,
        1,
        0,
    )
    event = batch_event(
        summary, account="acme", event_id="evt_1", received_at=NOW, submission_id="elb_1"
    )
    assert event.type == BATCH_EVENT
    assert event.dedup_keys == ("eligibility-batch:acme:b-1",)
    (message,) = build_result(stored(event), report=None, kind=None, now=NOW).messages
    assert message.type == MSG_BATCH
    assert message.data == {"event_id": "evt_1", **summary.to_data(), "submission_id": "elb_1"}


def test_poll_state_reads_the_stored_batch() -> None:
    batch = EligibilityBatch(
        batch_id="b-1",
        submission_id="elb_1",
        account="acme",
        position=0,
        item_count=7,
        submitted_at=NOW,
        max_retry_hours=8,
        next_poll_at=NOW,
        attempts=2,
        pages_seen=1,
        next_page_token="t",
        last_polled_at=NOW,
        stored_results=3,
    )
    state = poll_state(batch)
    assert (state.expected_items, state.stored_results, state.attempts) == (7, 3, 2)
    assert (state.pages_seen, state.next_page_token, state.last_polled_at) == (1, "t", NOW)
    assert state.started_at == NOW

"""SQLite timestamps: fixed-width UTC text and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from receiver.store.sqlite.base import _TS_FORMAT, from_text, to_text

EST = timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2025, 3, 21, 8, 11, 2, 771000, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),  # no fraction: still six digits
        datetime(2025, 3, 21, 3, 11, 2, 5, tzinfo=EST),  # another zone: stored as UTC
    ],
)
def test_round_trip(moment: datetime) -> None:
    text = to_text(moment)
    assert len(text) == len("2025-03-21T08:11:02.771000Z")
    assert text.endswith("Z")
    back = from_text(text)
    assert back == moment
    assert back.tzinfo == UTC


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2025, 3, 21, 8, 11, 2, 771000, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 3, 21, 3, 11, 2, 5, tzinfo=EST),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_the_text_is_what_strftime_wrote_before(moment: datetime) -> None:
    """Stored rows hold strftime's text; new ones must compare and sort with them."""
    assert to_text(moment) == moment.astimezone(UTC).strftime(_TS_FORMAT)


def test_text_sorts_as_time() -> None:
    moments = [datetime(2025, 3, 21, 8, 0, s, 10**s, tzinfo=UTC) for s in range(6)]
    assert sorted(to_text(m) for m in reversed(moments)) == [to_text(m) for m in moments]


def test_a_text_without_a_zone_is_read_as_utc() -> None:
    assert from_text("2025-03-21T08:11:02.771000") == datetime(
        2025, 3, 21, 8, 11, 2, 771000, tzinfo=UTC
    )

"""The CLI's one look: human times, aligned plain tables, the empty line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from receiver.cli.render import human_time, plain_table

NOW = datetime(2026, 12, 2, 19, 4, 15, tzinfo=UTC)


def test_human_time_says_when_and_how_long_ago() -> None:
    assert human_time(NOW - timedelta(minutes=3), NOW) == "2026-12-02 19:01:15Z (3 min ago)"
    assert human_time(NOW - timedelta(seconds=5), NOW) == "2026-12-02 19:04:10Z (5 s ago)"
    assert human_time(NOW + timedelta(hours=2), NOW) == "2026-12-02 21:04:15Z (in 2 h)"
    assert human_time(NOW - timedelta(days=3), NOW) == "2026-11-29 19:04:15Z (3 d ago)"
    assert human_time(None, NOW) == "-"


def test_human_time_is_shown_in_utc() -> None:
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    assert human_time(paris, NOW) == "2026-12-02 19:04:15Z (0 s ago)"


def test_plain_table_aligns_every_column_under_its_header() -> None:
    lines = plain_table(["ID", "STATUS"], [["evt_1", "received"], ["evt_22222", "failed"]])
    assert lines == [
        "ID         STATUS",
        "evt_1      received",
        "evt_22222  failed",
    ]

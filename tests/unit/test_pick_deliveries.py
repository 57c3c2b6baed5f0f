"""Which due deliveries a claim leases: oldest first, room per subscription, active only."""

from __future__ import annotations

from receiver.store.fanout_rows import pick_deliveries


def row(id_: str, sub: str, at: int, seq: int) -> dict[str, object]:
    return {"id": id_, "subscription_id": sub, "next_attempt_at": at, "seq": seq}


ROWS = [
    row("a1", "A", 1, 1),
    row("a2", "A", 2, 2),
    row("a3", "A", 3, 3),
    row("b1", "B", 4, 4),
    row("c1", "C", 0, 5),  # C is not active
]


def test_oldest_first_with_room_per_subscription() -> None:
    picked = pick_deliveries(ROWS, {}, {"A", "B"}, per_subscription=2, limit=10)
    assert picked == ["a1", "a2", "b1"]


def test_running_ones_count_against_the_room() -> None:
    picked = pick_deliveries(ROWS, {"A": 1}, {"A", "B"}, per_subscription=2, limit=10)
    assert picked == ["a1", "b1"]
    assert pick_deliveries(ROWS, {"A": 2, "B": 2}, {"A", "B"}, per_subscription=2, limit=9) == []


def test_limit_and_order_by_time_then_seq() -> None:
    rows = [row("late", "A", 5, 1), row("tie2", "B", 1, 9), row("tie1", "B", 1, 8)]
    assert pick_deliveries(rows, {}, {"A", "B"}, per_subscription=5, limit=2) == ["tie1", "tie2"]


def test_a_row_listed_twice_is_taken_once() -> None:
    rows = [row("x", "A", 1, 1), row("x", "A", 1, 1)]
    assert pick_deliveries(rows, {}, {"A"}, per_subscription=5, limit=5) == ["x"]

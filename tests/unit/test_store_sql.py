"""The `?` to `$n` rendering of SQL written once for both store adapters."""

from __future__ import annotations

from receiver.store.sql import marks, numbered


def test_numbers_placeholders_in_order() -> None:
    assert numbered("UPDATE t SET a = ?, b = ? WHERE id = ?") == (
        "UPDATE t SET a = $1, b = $2 WHERE id = $3"
    )


def test_sql_without_placeholders_is_unchanged() -> None:
    assert numbered("SELECT status, COUNT(*) FROM jobs GROUP BY status") == (
        "SELECT status, COUNT(*) FROM jobs GROUP BY status"
    )


def test_question_marks_in_literals_and_identifiers_are_kept() -> None:
    assert numbered("SELECT '?', \"a?b\" FROM t WHERE x = ? AND y = 'it''s ?' AND z = ?") == (
        "SELECT '?', \"a?b\" FROM t WHERE x = $1 AND y = 'it''s ?' AND z = $2"
    )


def test_marks() -> None:
    assert marks(3) == "?, ?, ?"
    assert numbered(f"VALUES ({marks(3)})") == "VALUES ($1, $2, $3)"
    assert marks(0) == ""

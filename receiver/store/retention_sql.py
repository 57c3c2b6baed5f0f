"""Retention's SQL, written once with `?` placeholders (PostgreSQL renders them with
`sql.numbered`), and its counts.

An event may be purged (its raw body and its documents' bodies set empty, everything else
kept) once it was received before the cut-off, is not purged yet, has no job that is not done
(pending, running or dead: a retry needs the body) and no delivery of its messages that is not
delivered (pending, running or dead). Audit rows are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

HIGH_SEQ_SQL = "SELECT MAX(seq) AS high FROM inbound_events WHERE received_at < ?"
"""The newest event received before the cut-off (read off the received_at index), so a
batch scans `seq` between the last batch's end and it."""

CANDIDATES_SQL = (
    "SELECT e.seq, e.id, length(e.body) AS body_bytes, "
    "(SELECT COUNT(*) FROM documents d WHERE d.event_id = e.id AND d.purged_at IS NULL) "
    "AS documents, "
    "(SELECT COALESCE(SUM(length(d.body)), 0) FROM documents d "
    "WHERE d.event_id = e.id AND d.purged_at IS NULL) AS document_bytes "
    "FROM inbound_events e "
    "WHERE e.seq > ? AND e.seq <= ? AND e.received_at < ? AND e.purged_at IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.event_id = e.id AND j.status <> 'done') "
    "AND NOT EXISTS (SELECT 1 FROM outbound_messages m JOIN deliveries dl "
    "ON dl.message_id = m.id WHERE m.event_id = e.id AND dl.status <> 'delivered') "
    "ORDER BY e.seq LIMIT ?"
)
"""One batch of purgeable events after a `seq`, up to the high `seq` (parameters: after,
high, before, batch): their sizes. The cut-off is checked again: `seq` follows the order of
storing, not of `received_at` (a poll may record an older event later)."""


def purge_events_sql(count: int) -> str:
    """Empty the bodies of `count` events by id (parameters: empty body, now, the ids)."""
    marks = ", ".join("?" * count)
    return f"UPDATE inbound_events SET body = ?, purged_at = ? WHERE id IN ({marks})"  # noqa: S608


def purge_documents_sql(count: int) -> str:
    """Empty the bodies of the documents of `count` events (parameters as above)."""
    marks = ", ".join("?" * count)
    return (
        "UPDATE documents SET body = ?, purged_at = ? "  # noqa: S608
        f"WHERE purged_at IS NULL AND event_id IN ({marks})"
    )


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """What a purge emptied (or, in a dry run, would): events, documents, and their bytes."""

    events: int = 0
    documents: int = 0
    bytes: int = 0

    def __add__(self, other: PurgeCounts) -> PurgeCounts:
        return PurgeCounts(
            self.events + other.events, self.documents + other.documents, self.bytes + other.bytes
        )


def batch_counts(rows: list[dict[str, int]]) -> PurgeCounts:
    """The counts of one batch of CANDIDATES_SQL rows."""
    return PurgeCounts(
        events=len(rows),
        documents=sum(int(r["documents"]) for r in rows),
        bytes=sum(int(r["body_bytes"] or 0) + int(r["document_bytes"] or 0) for r in rows),
    )

"""The job queue's reads and revival, written once in `?`-style SQL over `SqlCalls`."""

from __future__ import annotations

from datetime import datetime

from receiver.models import Document, Job, JobFilter, OutboundMessage, Page, TimelineEntry
from receiver.store import job_sql, rows
from receiver.store.base import check_limit, decode_cursor
from receiver.store.sql import SqlCalls


def _mark(_: int) -> str:
    return "?"


class JobReads(SqlCalls):
    """Listing jobs and messages, a job's documents, a claim's timeline, job counts, and
    reviving a dead job."""

    async def list_jobs(self, flt: JobFilter, *, limit: int, cursor: str | None) -> Page[Job]:
        """Newest first, cursor on `seq`."""
        where, params = rows.job_conditions(flt, decode_cursor(cursor), _mark)
        found = await self._rows(
            f"SELECT {rows.JOB_COLUMNS} FROM jobs{where} ORDER BY seq DESC LIMIT ?",  # noqa: S608
            [*params, check_limit(limit) + 1],
        )
        return rows.page_of(found, limit, rows.job_from_row)

    async def fetch_documents(self, event_id: str) -> list[Document]:
        """By kind, then revision (a corrected report after the one it corrects)."""
        found = await self._rows(
            f"SELECT {rows.DOCUMENT_COLUMNS} FROM documents "  # noqa: S608
            "WHERE event_id = ? ORDER BY kind, revision",
            (event_id,),
        )
        return [rows.document_from_row(row) for row in found]

    async def fetch_transaction_document(
        self, account: str | None, transaction_id: str, kind: str
    ) -> Document | None:
        """The newest revision, off the (account, transaction_id, kind, revision) index."""
        found = await self._rows(
            f"SELECT {rows.DOCUMENT_COLUMNS} FROM documents "  # noqa: S608
            "WHERE account = ? AND transaction_id = ? AND kind = ? ORDER BY revision DESC LIMIT 1",
            (account or "", transaction_id, kind),
        )
        return rows.document_from_row(found[0]) if found else None

    async def claim_timeline(self, patient_control_number: str) -> list[TimelineEntry]:
        """Oldest event first, then insertion order."""
        found = await self._rows(
            f"SELECT {rows.TIMELINE_COLUMNS} FROM claim_entries c "  # noqa: S608
            "JOIN inbound_events e ON e.id = c.event_id "
            "WHERE c.patient_control_number = ? ORDER BY e.received_at, c.seq",
            (patient_control_number,),
        )
        return [rows.timeline_from_row(row) for row in found]

    async def list_messages(self, *, limit: int, cursor: str | None) -> Page[OutboundMessage]:
        """Newest first, cursor on `seq`."""
        where, params = rows.where_clause([("seq < {}", decode_cursor(cursor))], _mark)
        found = await self._rows(
            f"SELECT {rows.MESSAGE_COLUMNS} FROM outbound_messages{where} "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?",
            [*params, check_limit(limit) + 1],
        )
        return rows.page_of(found, limit, rows.message_from_row)

    async def count_jobs_by_status(self) -> dict[str, int]:
        """One GROUP BY over the jobs table."""
        found = await self._rows("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {row["status"]: int(row["n"]) for row in found}

    async def revive_job(self, job_id: str, *, now: datetime) -> bool:
        """Dead -> pending, due now (and workers told)."""
        return await self._run(job_sql.revive(job_id, now=now), wake="jobs")

"""SqliteStore: the embedded default Store on one SQLite file (WAL, synchronous=FULL).

One writer connection, serialised by a lock (SQLite has one writer anyway), and one reader
connection, which WAL lets run beside the writer. Every sqlite3 error becomes
StoreUnavailableError at this boundary, so callers answer 503 and senders retry. The adapter
is assembled from one part per concern; `base` holds the connections and plumbing.
"""

from collections.abc import Awaitable, Callable

from receiver.store.audit import AuditRows
from receiver.store.directory import DirectoryRows
from receiver.store.eligibility import EligibilityRows
from receiver.store.enrollment import EnrollmentRows
from receiver.store.sqlite.base import to_text
from receiver.store.sqlite.datakeys import SqliteDataKeys
from receiver.store.sqlite.eligibility import SqliteEligibility
from receiver.store.sqlite.enrollment import SqliteEnrollment
from receiver.store.sqlite.fanout import SqliteFanout
from receiver.store.sqlite.intake import SqliteIntake
from receiver.store.sqlite.jobs import SqliteJobs
from receiver.store.sqlite.reprocess import SqliteReprocess
from receiver.store.sqlite.retention import SqliteRetention

__all__ = ["SqliteStore", "to_text"]


class SqliteStore(
    SqliteIntake,
    SqliteJobs,
    DirectoryRows,
    SqliteFanout,
    SqliteEligibility,
    EligibilityRows,  # after the adapter's part: it supplies _claim_due_batch_ids
    AuditRows,
    SqliteReprocess,
    SqliteRetention,
    EnrollmentRows,
    SqliteEnrollment,
    SqliteDataKeys,
):
    """The Store protocol on a local SQLite file."""

    async def listen(
        self, *, on_jobs: Callable[[], None], on_deliveries: Callable[[], None]
    ) -> Callable[[], Awaitable[None]]:
        """SQLite cannot signal other processes: their workers poll. Returns a no-op."""

        async def stop() -> None:
            return None

        return stop

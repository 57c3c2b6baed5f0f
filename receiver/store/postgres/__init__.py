"""PostgresStore: the Store protocol on PostgreSQL through an asyncpg connection pool.

Driver and network errors become StoreUnavailableError at this boundary. The adapter is
assembled from one part per concern; `base` holds the pool, transactions and migrations.
"""

from receiver.store.audit import AuditRows
from receiver.store.directory import DirectoryRows
from receiver.store.eligibility import EligibilityRows
from receiver.store.enrollment import EnrollmentRows
from receiver.store.postgres.datakeys import PostgresDataKeys
from receiver.store.postgres.eligibility import PostgresEligibility
from receiver.store.postgres.enrollment import PostgresEnrollment
from receiver.store.postgres.fanout import PostgresFanout
from receiver.store.postgres.intake import PostgresIntake
from receiver.store.postgres.jobs import PostgresJobs
from receiver.store.postgres.notify import PostgresNotify
from receiver.store.postgres.reprocess import PostgresReprocess
from receiver.store.postgres.retention import PostgresRetention

__all__ = ["PostgresStore"]


class PostgresStore(
    PostgresIntake,
    PostgresJobs,
    DirectoryRows,
    PostgresFanout,
    PostgresNotify,
    PostgresEligibility,
    EligibilityRows,  # after the adapter's part: it supplies _claim_due_batch_ids
    AuditRows,
    PostgresReprocess,
    PostgresRetention,
    EnrollmentRows,
    PostgresEnrollment,
    PostgresDataKeys,
):
    """The Store protocol on PostgreSQL, optionally confined to one schema."""

-- Fewer index entries written per event (issue 16). The claim index holds only the jobs a
-- claim can take (pending, or running with a lease that may run out): a finished job leaves
-- it instead of being written back into it, and it stays as small as the backlog however many
-- jobs are done. The claim query names the statuses as literals, so that the planner can
-- prove it only wants rows of this index (a generic plan over `status = $1` could not).
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (status, next_attempt_at)
    WHERE status = 'pending' OR status = 'running';

-- Fewer B-trees written per event (issue 16).
-- The dedup table becomes WITHOUT ROWID: its key is the primary key of the one B-tree that
-- holds the rows, instead of a rowid table plus a key index (two writes per key, two per
-- Stedi webhook). Copied in key order, as 0009 did.
CREATE TABLE inbound_dedup_keyed (
    key      TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES inbound_events (id)
) WITHOUT ROWID;
INSERT INTO inbound_dedup_keyed (key, event_id) SELECT key, event_id FROM inbound_dedup ORDER BY key;
DROP TABLE inbound_dedup;
ALTER TABLE inbound_dedup_keyed RENAME TO inbound_dedup;
-- The claim index holds only the jobs a claim can take (pending, or running with a lease
-- that may run out): a finished job leaves it instead of being written back into it, and it
-- stays as small as the backlog however many jobs are done. The claim query names the
-- statuses as literals, so that SQLite can prove it only wants rows of this index.
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (status, next_attempt_at)
    WHERE status = 'pending' OR status = 'running';

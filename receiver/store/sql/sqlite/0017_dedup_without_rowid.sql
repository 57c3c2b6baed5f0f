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

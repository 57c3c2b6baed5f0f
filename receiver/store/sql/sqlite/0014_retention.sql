-- Retention: when an event's raw body and its documents were purged (set empty) by
-- `receiver purge` or RECEIVER_RETENTION_DAYS; the rest of the row (its metadata) stays.
ALTER TABLE inbound_events ADD COLUMN purged_at TEXT;
ALTER TABLE documents ADD COLUMN purged_at TEXT;

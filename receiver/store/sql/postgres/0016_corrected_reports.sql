-- A corrected report (a reprocess fetched different bytes) is kept beside the earlier one and
-- published as a message of its own. Documents and the claim entries read from them get a
-- `revision` (0: the first version stored for the account, transaction and kind; each
-- different version fetched later is the next), documents are unique per (account,
-- transaction, kind, revision) and claim entries per (event, kind, ordinal, revision). A
-- message is no longer one per (event, type): its id (deterministic from what it says,
-- already unique) is the dedup, and a plain index on (event_id, type) serves the reads by event.
ALTER TABLE documents ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents DROP CONSTRAINT documents_event_id_kind_key;
DROP INDEX documents_transaction;
CREATE UNIQUE INDEX documents_transaction ON documents (account, transaction_id, kind, revision);
CREATE INDEX documents_event ON documents (event_id, kind);

ALTER TABLE claim_entries ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE claim_entries DROP CONSTRAINT claim_entries_event_id_kind_ordinal_key;
ALTER TABLE claim_entries ADD CONSTRAINT claim_entries_event_id_kind_ordinal_revision_key
    UNIQUE (event_id, kind, ordinal, revision);

ALTER TABLE outbound_messages DROP CONSTRAINT outbound_messages_event_id_type_key;
CREATE INDEX outbound_messages_event ON outbound_messages (event_id, type);

-- A corrected report (a reprocess fetched different bytes) is kept beside the earlier one and
-- published as a message of its own. Documents and the claim entries read from them get a
-- `revision` (0: the first version stored for the account, transaction and kind; each
-- different version fetched later is the next), documents are unique per (account,
-- transaction, kind, revision) and claim entries per (event, kind, ordinal, revision). A
-- message is no longer one per (event, type): its id (deterministic from what it says,
-- already unique) is the dedup, and a plain index on (event_id, type) serves the reads by event.
--
-- SQLite cannot drop an inline UNIQUE, so the three tables are rebuilt, keeping every row, its
-- `seq` and the AUTOINCREMENT counters. Deliveries reference outbound_messages (id): dropping
-- that table deletes its rows first, which counts a deferred foreign-key violation per
-- delivery; inserting the same ids into the new table takes each back, so the messages go
-- through a temporary copy (drop, create, insert) rather than the create-copy-drop-rename
-- that would leave the count standing at COMMIT. No foreign key references documents or
-- claim_entries, and none of these tables has a trigger or an ON DELETE action.
PRAGMA defer_foreign_keys = ON;
CREATE TEMPORARY TABLE kept_sequence AS
    SELECT name, seq FROM sqlite_sequence
    WHERE name IN ('documents', 'claim_entries', 'outbound_messages');

CREATE TABLE documents_v16 (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL REFERENCES inbound_events (id),
    kind           TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    body           BLOB NOT NULL,
    created_at     TEXT NOT NULL,
    account        TEXT NOT NULL DEFAULT '',
    purged_at      TEXT,
    revision       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO documents_v16 (seq, event_id, kind, transaction_id, content_type, body, created_at,
                           account, purged_at, revision)
    SELECT seq, event_id, kind, transaction_id, content_type, body, created_at, account,
           purged_at, 0
    FROM documents ORDER BY seq;
DROP TABLE documents;
ALTER TABLE documents_v16 RENAME TO documents;
CREATE UNIQUE INDEX documents_transaction ON documents (account, transaction_id, kind, revision);
CREATE INDEX documents_event ON documents (event_id, kind);

CREATE TABLE claim_entries_v16 (
    seq                    INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id               TEXT NOT NULL REFERENCES inbound_events (id),
    ordinal                INTEGER NOT NULL,
    patient_control_number TEXT NOT NULL,
    kind                   TEXT NOT NULL,
    data                   TEXT NOT NULL,
    created_at             TEXT NOT NULL,
    revision               INTEGER NOT NULL DEFAULT 0,
    UNIQUE (event_id, kind, ordinal, revision)
);
INSERT INTO claim_entries_v16 (seq, event_id, ordinal, patient_control_number, kind, data,
                               created_at, revision)
    SELECT seq, event_id, ordinal, patient_control_number, kind, data, created_at, 0
    FROM claim_entries ORDER BY seq;
DROP TABLE claim_entries;
ALTER TABLE claim_entries_v16 RENAME TO claim_entries;
CREATE INDEX claim_entries_pcn_seq ON claim_entries (patient_control_number, seq);

CREATE TEMPORARY TABLE outbound_messages_v15 AS SELECT * FROM outbound_messages;
DROP TABLE outbound_messages;
CREATE TABLE outbound_messages (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    event_id   TEXT NOT NULL REFERENCES inbound_events (id),
    type       TEXT NOT NULL,
    account    TEXT,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO outbound_messages (seq, id, event_id, type, account, data, created_at)
    SELECT seq, id, event_id, type, account, data, created_at
    FROM outbound_messages_v15 ORDER BY seq;
DROP TABLE outbound_messages_v15;
CREATE INDEX outbound_messages_created_at ON outbound_messages (created_at);
CREATE INDEX outbound_messages_event ON outbound_messages (event_id, type);

DELETE FROM sqlite_sequence WHERE name IN (SELECT name FROM kept_sequence);
INSERT INTO sqlite_sequence (name, seq) SELECT name, seq FROM kept_sequence;
DROP TABLE kept_sequence;

-- Data keys for encryption at rest, each wrapped by a key-encryption key (KEK) that lives in a
-- file outside the database (RECEIVER_ENCRYPTION_KEY_PATH). `purpose` is 'data' (seals values;
-- the newest seals new ones) or 'index' (the one key blind indexes derive from).
CREATE TABLE data_keys (
    id         TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    kek_id     TEXT NOT NULL,
    material   BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX data_keys_one_index_key ON data_keys (purpose) WHERE purpose = 'index';

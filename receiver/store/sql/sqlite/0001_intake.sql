-- Intake foundation: inbound events with their dedup keys and follow-up jobs; OAuth clients;
-- Stedi accounts. Timestamps are UTC ISO-8601 text of fixed width, so they sort as text.
CREATE TABLE inbound_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    source          TEXT NOT NULL,
    type            TEXT NOT NULL,
    account         TEXT,
    external_id     TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'received',
    transaction_id  TEXT,
    transaction_set TEXT,
    direction       TEXT,
    received_at     TEXT NOT NULL,
    summary         TEXT NOT NULL,
    headers         TEXT NOT NULL,
    body            BLOB NOT NULL
);
CREATE INDEX inbound_events_source_seq ON inbound_events (source, seq);
CREATE INDEX inbound_events_account_seq ON inbound_events (account, seq);
CREATE INDEX inbound_events_type_seq ON inbound_events (type, seq);
CREATE INDEX inbound_events_status_seq ON inbound_events (status, seq);
CREATE INDEX inbound_events_received_at ON inbound_events (received_at);
CREATE INDEX inbound_events_transaction_id ON inbound_events (transaction_id);

CREATE TABLE inbound_dedup (
    key      TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES inbound_events (id)
);

CREATE TABLE jobs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    event_id        TEXT NOT NULL REFERENCES inbound_events (id),
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until     TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (event_id, kind)
);
CREATE INDEX jobs_due ON jobs (status, next_attempt_at);
CREATE INDEX jobs_status_seq ON jobs (status, seq);

CREATE TABLE clients (
    client_id            TEXT PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    scopes               TEXT NOT NULL,
    secret_hash          TEXT NOT NULL,
    previous_secret_hash TEXT,
    previous_expires_at  TEXT,
    created_at           TEXT NOT NULL,
    revoked_at           TEXT
);

CREATE TABLE accounts (
    name             TEXT PRIMARY KEY,
    stedi_account_id TEXT NOT NULL,
    credentials      TEXT NOT NULL,
    api_key          TEXT,
    created_at       TEXT NOT NULL
);

-- Job results: documents fetched for an event (exact bytes), per-claim timeline entries,
-- and the transactional outbox of messages to publish. Timestamps TIMESTAMPTZ; data JSONB.
CREATE TABLE documents (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       TEXT NOT NULL REFERENCES inbound_events (id),
    kind           TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    body           BYTEA NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (event_id, kind)
);

CREATE TABLE claim_entries (
    seq                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id               TEXT NOT NULL REFERENCES inbound_events (id),
    ordinal                INTEGER NOT NULL,
    patient_control_number TEXT NOT NULL,
    kind                   TEXT NOT NULL,
    data                   JSONB NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    UNIQUE (event_id, kind, ordinal)
);
CREATE INDEX claim_entries_pcn_seq ON claim_entries (patient_control_number, seq);

CREATE TABLE outbound_messages (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    event_id   TEXT NOT NULL REFERENCES inbound_events (id),
    type       TEXT NOT NULL,
    account    TEXT,
    data       JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (event_id, type)
);

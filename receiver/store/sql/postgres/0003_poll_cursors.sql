-- Named cursors for polling upstream APIs (e.g. Stedi poll-transactions per account).
CREATE TABLE poll_cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

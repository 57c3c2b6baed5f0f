-- Optum connections (the client secret is sent to Optum's token endpoint, so it is kept as
-- the Stedi API keys are), ERA enrollment submissions with their persisted poll state (a
-- restart resumes), and each submitted record's fingerprint: a pending or accepted record
-- may be submitted once only (the partial unique index).
CREATE TABLE optum_connections (
    name               TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    client_secret      TEXT NOT NULL,
    token_auth_method  TEXT NOT NULL,
    discover_missed    INTEGER NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL
);
CREATE TABLE era_submissions (
    id                TEXT PRIMARY KEY,
    connection        TEXT NOT NULL,
    record_count      INTEGER NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    status            TEXT NOT NULL,
    payload_id        TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    not_found_streak  INTEGER NOT NULL DEFAULT 0,
    first_poll_at     TIMESTAMPTZ,
    next_poll_at      TIMESTAMPTZ,
    last_polled_at    TIMESTAMPTZ,
    reason            TEXT,
    trace_id          TEXT,
    result            TEXT,
    completed_at      TIMESTAMPTZ
);
CREATE INDEX era_submissions_due ON era_submissions (status, next_poll_at);
CREATE TABLE era_records (
    submission_id  TEXT NOT NULL REFERENCES era_submissions (id),
    position       INTEGER NOT NULL,
    fingerprint    TEXT NOT NULL,
    state          TEXT NOT NULL,
    PRIMARY KEY (submission_id, position)
);
CREATE UNIQUE INDEX era_records_live ON era_records (fingerprint)
    WHERE state IN ('pending', 'accepted');

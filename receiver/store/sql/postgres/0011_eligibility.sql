-- Stedi batch eligibility: submissions (what one caller sent, split into Stedi batches), the
-- batches with their persisted poll state (a restart resumes where it was), and one row per
-- item result stored (by its ec_ id), counted by coverage status.
CREATE TABLE eligibility_submissions (
    id          TEXT PRIMARY KEY,
    account     TEXT NOT NULL,
    origin      TEXT NOT NULL,
    item_count  INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE eligibility_batches (
    batch_id         TEXT PRIMARY KEY,
    submission_id    TEXT NOT NULL REFERENCES eligibility_submissions (id),
    account          TEXT NOT NULL,
    position         INTEGER NOT NULL,
    item_count       INTEGER NOT NULL,
    submitted_at     TIMESTAMPTZ NOT NULL,
    max_retry_hours  INTEGER NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    pages_seen       INTEGER NOT NULL DEFAULT 0,
    next_page_token  TEXT,
    last_polled_at   TIMESTAMPTZ,
    next_poll_at     TIMESTAMPTZ NOT NULL,
    reason           TEXT,
    completed_at     TIMESTAMPTZ
);
CREATE INDEX eligibility_batches_due ON eligibility_batches (status, next_poll_at);
CREATE INDEX eligibility_batches_submission ON eligibility_batches (submission_id, position);
CREATE TABLE eligibility_results (
    check_id    TEXT PRIMARY KEY,
    batch_id    TEXT NOT NULL REFERENCES eligibility_batches (batch_id),
    status      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX eligibility_results_batch ON eligibility_results (batch_id, status);

-- Downstream fan-out: subscriptions, one delivery per (message, subscription), and every
-- HTTP attempt at a delivery. Timestamps are TIMESTAMPTZ.
CREATE TABLE subscriptions (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE,
    url                 TEXT NOT NULL,
    type_patterns       JSONB NOT NULL,
    account             TEXT,
    description         TEXT NOT NULL,
    secret              TEXT NOT NULL,
    previous_secret     TEXT,
    previous_expires_at TIMESTAMPTZ,
    status              TEXT NOT NULL,
    disabled_reason     TEXT,
    failing_since       TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE deliveries (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    message_id      TEXT NOT NULL REFERENCES outbound_messages (id),
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
    type            TEXT NOT NULL,
    account         TEXT,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (message_id, subscription_id)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_subscription_seq ON deliveries (subscription_id, seq);

CREATE TABLE delivery_attempts (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id       TEXT NOT NULL REFERENCES deliveries (id),
    attempt           INTEGER NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL,
    duration_ms       INTEGER NOT NULL,
    status_code       INTEGER,
    response_excerpt  TEXT,
    error             TEXT
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, seq);

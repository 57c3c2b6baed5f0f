-- The audit trail: one row per ops action (API and CLI alike) and per read of PHI over the
-- API. Append-only: the triggers make any UPDATE or DELETE of a row fail, and retention never
-- purges it. `filter` and `counts` are JSON objects.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT,
    filter      TEXT NOT NULL,
    counts      TEXT NOT NULL,
    request_id  TEXT NOT NULL
);
CREATE INDEX audit_log_actor_seq ON audit_log (actor, seq);
CREATE INDEX audit_log_action_seq ON audit_log (action, seq);
CREATE INDEX audit_log_created_at ON audit_log (created_at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

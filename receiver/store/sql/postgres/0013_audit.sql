-- The audit trail: one row per ops action (API and CLI alike) and per read of PHI over the
-- API. Append-only: the triggers make any UPDATE, DELETE or TRUNCATE of the table raise, and
-- retention never purges it. `filter` and `counts` are JSON objects (text, as on SQLite).
CREATE TABLE audit_log (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
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
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

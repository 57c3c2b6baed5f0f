-- An index for a GET /events filter a 1,000,000-event database showed slow: an account's
-- events in one status (the planner took the status index and checked the account row by
-- row). Time windows are bounded by seq in the query instead (see rows.event_conditions).
CREATE INDEX inbound_events_account_status_seq ON inbound_events (account, status, seq);

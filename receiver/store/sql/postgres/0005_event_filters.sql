-- Indexes for the GET /events filters a 1,000,000-event database showed slow: a type within a
-- time window (walked every event of the type from the newest back to the window) and an
-- account's events in one status (checked the account row by row).
CREATE INDEX inbound_events_type_received_at ON inbound_events (type, received_at);
CREATE INDEX inbound_events_account_status_seq ON inbound_events (account, status, seq);

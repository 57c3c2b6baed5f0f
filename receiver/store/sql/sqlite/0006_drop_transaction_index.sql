-- No query reads inbound_events by transaction_id (a transaction's events are found through
-- their dedup keys), and the index cost every intake a write on a random page: on a
-- 1,000,000-event database those are the page misses that slow intake down.
DROP INDEX inbound_events_transaction_id;

-- An account may hold Stedi's UUID for it (the form event destinations carry) beside the id
-- its webhooks carry.
ALTER TABLE accounts ADD COLUMN stedi_account_uuid TEXT;

-- Stedi webhook dedup keys are scoped to the local account that received the event
-- ('stedi:event:X' -> 'stedi:acct:acme:event:X', likewise txn: and file:), so one account can
-- neither learn of nor suppress another's events. The stored keys are rewritten, so a resend
-- of an event stored before this migration is still a duplicate. The table is copied in key
-- order rather than updated in place: an in-place rewrite of the key index is random writes
-- (5x slower here). The new keys cannot meet an old one ('acct' is none of event, txn, file).
CREATE TABLE inbound_dedup_scoped (
    key      TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES inbound_events (id)
);
INSERT INTO inbound_dedup_scoped (key, event_id)
SELECT CASE
           WHEN e.account IS NOT NULL
                AND (d.key GLOB 'stedi:event:*' OR d.key GLOB 'stedi:txn:*'
                     OR d.key GLOB 'stedi:file:*')
           THEN 'stedi:acct:' || e.account || substr(d.key, 6)
           ELSE d.key
       END,
       d.event_id
FROM inbound_dedup AS d
LEFT JOIN inbound_events AS e ON e.id = d.event_id
ORDER BY 1;
DROP TABLE inbound_dedup;
ALTER TABLE inbound_dedup_scoped RENAME TO inbound_dedup;

-- An account may hold Stedi's UUID for it (the form event destinations carry) beside the id
-- its webhooks carry.
ALTER TABLE accounts ADD COLUMN stedi_account_uuid TEXT;

-- Stedi webhook dedup keys are scoped to the local account that received the event
-- ('stedi:event:X' -> 'stedi:acct:acme:event:X', likewise txn: and file:), so one account can
-- neither learn of nor suppress another's events. The stored keys are rewritten, so a resend
-- of an event stored before this migration is still a duplicate. The table is rebuilt rather
-- than updated in place (an update writes a new row version and index entry per key, several
-- times slower). The new keys cannot meet an old one ('acct' is none of event, txn, file).
CREATE TABLE inbound_dedup_scoped AS
SELECT CASE
           WHEN e.account IS NOT NULL
                AND (d.key LIKE 'stedi:event:%' OR d.key LIKE 'stedi:txn:%'
                     OR d.key LIKE 'stedi:file:%')
           THEN 'stedi:acct:' || e.account || substr(d.key, 6)
           ELSE d.key
       END AS key,
       d.event_id
FROM inbound_dedup AS d
LEFT JOIN inbound_events AS e ON e.id = d.event_id;
DROP TABLE inbound_dedup;
ALTER TABLE inbound_dedup_scoped RENAME TO inbound_dedup;
ALTER TABLE inbound_dedup
    ALTER COLUMN key SET NOT NULL,
    ALTER COLUMN event_id SET NOT NULL,
    ADD CONSTRAINT inbound_dedup_pkey PRIMARY KEY (key),
    ADD CONSTRAINT inbound_dedup_event_id_fkey FOREIGN KEY (event_id)
        REFERENCES inbound_events (id);

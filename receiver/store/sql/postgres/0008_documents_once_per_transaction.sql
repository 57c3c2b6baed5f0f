-- A Stedi transaction is one set of documents, whichever event told receiver of it first (a
-- webhook, an event destination, a poll): documents are unique per (account, transaction,
-- kind), and the claim entries read from a document are stored only with it. `account` is
-- the event's account name ('' for none, so that the unique index also holds there).
ALTER TABLE documents ADD COLUMN account TEXT NOT NULL DEFAULT '';
UPDATE documents d SET account = COALESCE(e.account, '')
    FROM inbound_events e WHERE e.id = d.event_id;
-- Before this, a transaction told twice was stored twice: keep the first copy of each
-- document and the claim entries read from it, drop the later copies and theirs.
CREATE TEMPORARY TABLE later_documents ON COMMIT DROP AS
    SELECT d.event_id, d.kind FROM documents d
    WHERE d.seq > (SELECT MIN(f.seq) FROM documents f
                   WHERE f.account = d.account AND f.transaction_id = d.transaction_id
                     AND f.kind = d.kind);
DELETE FROM claim_entries c USING later_documents l
    WHERE l.event_id = c.event_id
      AND l.kind = CASE c.kind WHEN 'acknowledgment' THEN '277'
                               WHEN 'remittance' THEN '835'
                               WHEN 'submitted' THEN '837' END;
DELETE FROM documents d USING later_documents l
    WHERE l.event_id = d.event_id AND l.kind = d.kind;
CREATE UNIQUE INDEX documents_transaction ON documents (account, transaction_id, kind);

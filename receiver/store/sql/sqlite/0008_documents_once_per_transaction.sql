-- A Stedi transaction is one set of documents, whichever event told receiver of it first (a
-- webhook, an event destination, a poll): documents are unique per (account, transaction,
-- kind), and the claim entries read from a document are stored only with it. `account` is
-- the event's account name ('' for none, so that the unique index also holds there).
ALTER TABLE documents ADD COLUMN account TEXT NOT NULL DEFAULT '';
UPDATE documents SET account = COALESCE(
    (SELECT e.account FROM inbound_events e WHERE e.id = documents.event_id), '');
-- Before this, a transaction told twice was stored twice: keep the first copy of each
-- document and the claim entries read from it, drop the later copies and theirs.
CREATE TEMPORARY TABLE later_documents AS
    SELECT d.event_id, d.kind FROM documents d
    WHERE d.seq > (SELECT MIN(f.seq) FROM documents f
                   WHERE f.account = d.account AND f.transaction_id = d.transaction_id
                     AND f.kind = d.kind);
DELETE FROM claim_entries WHERE EXISTS (
    SELECT 1 FROM later_documents l
    WHERE l.event_id = claim_entries.event_id
      AND l.kind = CASE claim_entries.kind WHEN 'acknowledgment' THEN '277'
                                           WHEN 'remittance' THEN '835'
                                           WHEN 'submitted' THEN '837' END);
DELETE FROM documents WHERE EXISTS (
    SELECT 1 FROM later_documents l
    WHERE l.event_id = documents.event_id AND l.kind = documents.kind);
DROP TABLE later_documents;
CREATE UNIQUE INDEX documents_transaction ON documents (account, transaction_id, kind);

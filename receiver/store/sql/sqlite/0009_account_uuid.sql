-- An account may hold Stedi's UUID for it (the form event destinations carry) beside the id
-- its webhooks carry.
ALTER TABLE accounts ADD COLUMN stedi_account_uuid TEXT;

-- A bulk replay (POST /replays, `receiver replay`) selects the messages published in a time
-- window; without this index that is a scan of every message ever published. From the window's
-- messages the deliveries are reached through their (message_id, subscription_id) index.
CREATE INDEX outbound_messages_created_at ON outbound_messages (created_at);

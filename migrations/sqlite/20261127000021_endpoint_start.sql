-- Where in the feed an endpoint starts: events after this position are its own. Set when the
-- endpoint is made, from the feed's head, so an event that commits after the making is never
-- missed, whatever the clocks say. NULL for endpoints made before: every event the fan-out
-- reads from now on.
ALTER TABLE webhook_endpoints ADD COLUMN starts_tx INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN starts_seq INTEGER
    CHECK ((starts_tx IS NULL) = (starts_seq IS NULL));

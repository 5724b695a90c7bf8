-- Where in the feed an endpoint starts: events after this position are its own. Set when the
-- endpoint is made, from the feed's head (below it, every event has committed), so an event
-- that commits after the making is never missed, whatever the clocks say. NULL for endpoints
-- made before: every event the fan-out reads from now on.
ALTER TABLE webhook_endpoints ADD COLUMN starts_tx BIGINT;
ALTER TABLE webhook_endpoints ADD COLUMN starts_seq BIGINT;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_start_whole
    CHECK ((starts_tx IS NULL) = (starts_seq IS NULL));

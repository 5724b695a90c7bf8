-- Webhook endpoints and their deliveries (issue 18): every event is fanned out to each enabled
-- endpoint that wants its type, one delivery row each, then sent, retried on a schedule and
-- logged here.
CREATE TABLE webhook_endpoints (
    id               UUID PRIMARY KEY,
    url              TEXT NOT NULL,
    description      TEXT,
    event_types      TEXT NOT NULL,          -- JSON array of types; empty: every type
    enabled          SMALLINT NOT NULL CHECK (enabled IN (0, 1)),
    secret           TEXT NOT NULL,          -- whsec_…: signs every delivery
    previous_secret  TEXT,                   -- signs too until previous_until (rotation)
    previous_until   TIMESTAMPTZ,
    disabled_reason  TEXT,                   -- why ordo disabled it (410, failing too long)
    failing_since    TIMESTAMPTZ,            -- first failure since its last success
    version          INTEGER NOT NULL CHECK (version >= 1),
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               UUID PRIMARY KEY,
    endpoint_id      UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         UUID NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    -- A sender's lease: no other sender takes the delivery until it ends.
    leased_until     TIMESTAMPTZ,
    lease_token      UUID,
    last_status      INTEGER,                -- the endpoint's HTTP status, if it answered
    last_error       TEXT,
    last_attempt_at  TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

-- How far the fan-out has read the feed; moved by compare-and-set with the rows it adds.
CREATE TABLE webhook_fanout (
    name  TEXT PRIMARY KEY CHECK (name = 'feed'),
    tx    BIGINT NOT NULL,
    seq   BIGINT NOT NULL
);
INSERT INTO webhook_fanout (name, tx, seq) VALUES ('feed', -1, -1);

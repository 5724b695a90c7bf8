-- Webhook endpoints and their deliveries (issue 18): every event is fanned out to each enabled
-- endpoint that wants its type, one delivery row each, then sent, retried on a schedule and
-- logged here.
CREATE TABLE webhook_endpoints (
    id               BLOB PRIMARY KEY CHECK (length(id) = 16),
    url              TEXT NOT NULL,
    description      TEXT,
    event_types      TEXT NOT NULL,          -- JSON array of types; empty: every type
    enabled          INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    secret           TEXT NOT NULL,
    previous_secret  TEXT,
    previous_until   INTEGER,                -- microseconds since the epoch
    disabled_reason  TEXT,
    failing_since    INTEGER,
    version          INTEGER NOT NULL CHECK (version >= 1),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY CHECK (length(id) = 16),
    endpoint_id      BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         BLOB NOT NULL CHECK (length(event_id) = 16),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at  INTEGER NOT NULL,
    leased_until     INTEGER,
    lease_token      BLOB,
    last_status      INTEGER,
    last_error       TEXT,
    last_attempt_at  INTEGER,
    created_at       INTEGER NOT NULL,
    UNIQUE (endpoint_id, event_id)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

CREATE TABLE webhook_fanout (
    name  TEXT PRIMARY KEY CHECK (name = 'feed'),
    tx    INTEGER NOT NULL,
    seq   INTEGER NOT NULL
) STRICT;
INSERT INTO webhook_fanout (name, tx, seq) VALUES ('feed', -1, -1);

-- Every change of an order, recorded in the transaction that makes it (issue 18). One row per
-- event; an order's events form a hash chain (see the `event` module of ordo-domain).
CREATE TABLE order_events (
    -- Insertion order; never read alone by the feed (see `tx`).
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction's id. Transactions commit out of `seq` order, so the feed reads
    -- by (tx, seq) and only below the oldest transaction still running: no event can later
    -- appear behind a position a reader has passed.
    tx              BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    id              UUID NOT NULL UNIQUE,
    order_id        UUID NOT NULL,
    customer_id     UUID NOT NULL,
    -- 1 for an order's first event, +1 for each after: the chain's position.
    chain           INTEGER NOT NULL CHECK (chain >= 1),
    kind            TEXT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    actor_role      TEXT NOT NULL CHECK (actor_role IN ('customer', 'staff', 'admin', 'key', 'system')),
    actor_subject   TEXT NOT NULL,
    request_id      TEXT,
    idempotency_key TEXT,
    at              TIMESTAMPTZ NOT NULL,
    -- The order as the API showed it after the change: exact bytes (not JSONB, which would
    -- reformat them and break the digest); NULL once the customer's data is erased.
    payload         TEXT,
    payload_digest  BYTEA NOT NULL CHECK (length(payload_digest) = 32),
    prev_hash       BYTEA CHECK (length(prev_hash) = 32),
    hash            BYTEA NOT NULL CHECK (length(hash) = 32),
    CHECK ((chain = 1) = (prev_hash IS NULL)),
    -- Two writers chaining onto the same event: one fails, so an order's chain never forks.
    UNIQUE (order_id, chain)
);

-- The feed's order, and a customer's slice of it.
CREATE INDEX order_events_feed ON order_events (tx, seq);
CREATE INDEX order_events_customer ON order_events (customer_id, tx, seq);

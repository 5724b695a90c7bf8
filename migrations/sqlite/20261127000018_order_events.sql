-- Every change of an order, recorded in the transaction that makes it (issue 18). One row per
-- event; an order's events form a hash chain (see the `event` module of ordo-domain).
CREATE TABLE order_events (
    -- Insertion order. SQLite has one writer, so events commit in this order; AUTOINCREMENT
    -- never hands out a value twice.
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Always 0: the feed reads by (tx, seq) on both databases (PostgreSQL needs the tx).
    tx              INTEGER NOT NULL DEFAULT 0,
    id              BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    order_id        BLOB NOT NULL CHECK (length(order_id) = 16),
    customer_id     BLOB NOT NULL CHECK (length(customer_id) = 16),
    chain           INTEGER NOT NULL CHECK (chain >= 1),
    kind            TEXT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    actor_role      TEXT NOT NULL CHECK (actor_role IN ('customer', 'staff', 'admin', 'key', 'system')),
    actor_subject   TEXT NOT NULL,
    request_id      TEXT,
    idempotency_key TEXT,
    at              INTEGER NOT NULL,           -- microseconds since the epoch
    payload         TEXT,                       -- exact bytes; NULL once erased
    payload_digest  BLOB NOT NULL CHECK (length(payload_digest) = 32),
    prev_hash       BLOB CHECK (length(prev_hash) = 32),
    hash            BLOB NOT NULL CHECK (length(hash) = 32),
    CHECK ((chain = 1) = (prev_hash IS NULL)),
    UNIQUE (order_id, chain)
) STRICT;

CREATE INDEX order_events_feed ON order_events (tx, seq);
CREATE INDEX order_events_customer ON order_events (customer_id, tx, seq);

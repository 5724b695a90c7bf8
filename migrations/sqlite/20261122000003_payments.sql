-- The money side of an order, kept apart from its fulfilment status, and an audit trail.
-- Amounts are exact decimal TEXT; SQLite cannot add CHECKs comparing them as numbers, so the
-- domain checks refunded <= captured <= authorized <= total on every read.
ALTER TABLE orders ADD COLUMN payment_status TEXT NOT NULL DEFAULT 'unpaid' CHECK (payment_status IN
    ('unpaid', 'authorized', 'paid', 'partially_refunded', 'refunded', 'failed', 'unknown'));
ALTER TABLE orders ADD COLUMN amount_authorized TEXT NOT NULL DEFAULT '0';
ALTER TABLE orders ADD COLUMN amount_captured TEXT NOT NULL DEFAULT '0';
ALTER TABLE orders ADD COLUMN amount_refunded TEXT NOT NULL DEFAULT '0';
ALTER TABLE orders ADD COLUMN payment_reference TEXT;   -- the gateway's id for the authorization

-- Every call to the payment gateway and what came of it, for audit. Never updated.
CREATE TABLE payment_attempts (
    id           BLOB PRIMARY KEY,
    order_id     BLOB NOT NULL REFERENCES orders (id),
    operation    TEXT NOT NULL CHECK (operation IN ('authorize', 'capture', 'void', 'refund')),
    amount       TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('approved', 'declined', 'timed_out')),
    reference    TEXT,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX payment_attempts_order_idx ON payment_attempts (order_id, created_at);

-- The simulated gateway's own books: what it did for each idempotency key it was given, so a
-- repeated call returns the first outcome instead of charging again, across restarts.
CREATE TABLE simulated_gateway_ledger (
    idempotency_key  TEXT PRIMARY KEY,
    operation        TEXT NOT NULL,
    order_id         BLOB NOT NULL,
    amount           TEXT NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN ('approved', 'declined')),
    reference        TEXT NOT NULL,
    created_at       INTEGER NOT NULL
) STRICT;

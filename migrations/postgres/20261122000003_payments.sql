-- The money side of an order, kept apart from its fulfilment status, and an audit trail.
ALTER TABLE orders
    ADD COLUMN payment_status TEXT NOT NULL DEFAULT 'unpaid' CHECK (payment_status IN
        ('unpaid', 'authorized', 'paid', 'partially_refunded', 'refunded', 'failed', 'unknown')),
    ADD COLUMN amount_authorized NUMERIC NOT NULL DEFAULT 0,
    ADD COLUMN amount_captured   NUMERIC NOT NULL DEFAULT 0,
    ADD COLUMN amount_refunded   NUMERIC NOT NULL DEFAULT 0,
    ADD COLUMN payment_reference TEXT,       -- the gateway's id for the authorization
    ADD CONSTRAINT orders_payment_amounts CHECK (
        0 <= amount_refunded AND amount_refunded <= amount_captured
        AND amount_captured <= amount_authorized AND amount_authorized <= total);

-- Every call to the payment gateway and what came of it, for audit. Never updated.
CREATE TABLE payment_attempts (
    id           UUID PRIMARY KEY,
    order_id     UUID NOT NULL REFERENCES orders (id),
    operation    TEXT NOT NULL CHECK (operation IN ('authorize', 'capture', 'void', 'refund')),
    amount       NUMERIC NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('approved', 'declined', 'timed_out')),
    reference    TEXT,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX payment_attempts_order_idx ON payment_attempts (order_id, created_at);

-- The simulated gateway's own books: what it did for each idempotency key it was given, so a
-- repeated call returns the first outcome instead of charging again, across restarts.
CREATE TABLE simulated_gateway_ledger (
    idempotency_key  TEXT PRIMARY KEY,
    operation        TEXT NOT NULL,
    order_id         UUID NOT NULL,
    amount           NUMERIC NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN ('approved', 'declined')),
    reference        TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);

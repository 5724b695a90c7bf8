-- Refunds: each is reserved on the order (by compare-and-set) before the gateway is called,
-- so concurrent refunds can never add up to more than was captured.
CREATE TABLE refunds (
    id          BLOB PRIMARY KEY,
    order_id    BLOB NOT NULL REFERENCES orders (id),
    amount      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX refunds_order_idx ON refunds (order_id);
-- Backs reconciliation: refunds whose gateway answer never came.
CREATE INDEX refunds_pending_idx ON refunds (created_at) WHERE status = 'pending';
-- Backs reconciliation: orders whose authorization answer never came.
CREATE INDEX orders_payment_unknown_idx ON orders (updated_at) WHERE payment_status = 'unknown';

-- A gateway call claimed on the order before it is made (docs/status.md): set by the same
-- compare-and-set that checks the caller's version, cleared when the gateway's answer is
-- written. While it is set no other change of status or money may start, and reconciliation
-- finishes it with the same idempotency key if the process dies in between.
ALTER TABLE orders
    ADD COLUMN payment_pending TEXT
        CHECK (payment_pending IN ('authorize', 'capture', 'void', 'refund')),
    -- The status change the call's approval completes, and a cancellation's reason.
    ADD COLUMN pending_status TEXT
        CHECK (pending_status IN ('processing', 'completed', 'cancelled')),
    ADD COLUMN pending_reason TEXT,
    ADD CONSTRAINT orders_pending_change CHECK (
        (pending_status IS NULL OR payment_pending IS NOT NULL)
        AND (pending_reason IS NULL OR pending_status = 'cancelled')
        AND (pending_status IS DISTINCT FROM 'cancelled' OR pending_reason IS NOT NULL));

-- Orders placed before this migration: an unknown authorization, or one never made (the
-- process stopped between storing the order and calling the gateway), is a claimed
-- authorization, so reconciliation settles both.
UPDATE orders SET payment_pending = 'authorize'
WHERE payment_status = 'unknown'
   OR (payment_status = 'unpaid' AND status = 'pending' AND payment_reference IS NULL);

-- Backs reconciliation: claimed calls, oldest first.
DROP INDEX orders_payment_unknown_idx;
CREATE INDEX orders_payment_pending_idx ON orders (updated_at) WHERE payment_pending IS NOT NULL;

-- Payment terms: `partially_paid` (payments recorded outside a gateway adding up to less than
-- the total) and when a manual payment is due, with the index the staff list's overdue filter
-- reads.
ALTER TABLE orders DROP CONSTRAINT orders_payment_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_payment_status_check CHECK (payment_status IN
    ('unpaid', 'authorized', 'partially_paid', 'paid', 'partially_refunded', 'refunded',
     'failed', 'unknown'));
-- Microseconds since the epoch, from the document, where the order keeps it.
ALTER TABLE orders ADD COLUMN payment_due_us BIGINT
    GENERATED ALWAYS AS (CAST(document ->> 'payment_due_us' AS BIGINT)) STORED;
CREATE INDEX orders_payment_due_idx ON orders (payment_due_us, created_at, id)
    WHERE deleted_at IS NULL AND payment_due_us IS NOT NULL
      AND payment_status IN ('unpaid', 'partially_paid');

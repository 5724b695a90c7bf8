-- How much of an order is fulfilled, for the staff list's filter. Counted from the fulfilments
-- in the order's document and written with every change of the order. The check already names
-- the return statuses to come, so adding them later needs no table rebuild on SQLite. Orders
-- completed before fulfilments existed shipped everything when they completed.
ALTER TABLE orders ADD COLUMN fulfillment_status TEXT NOT NULL DEFAULT 'unfulfilled'
    CONSTRAINT orders_fulfillment_status_known CHECK (fulfillment_status IN
        ('unfulfilled', 'partially_fulfilled', 'fulfilled', 'partially_returned', 'returned'));
UPDATE orders SET fulfillment_status = 'fulfilled' WHERE status = 'completed';
CREATE INDEX orders_fulfillment_status_created_idx ON orders (fulfillment_status, created_at, id)
    WHERE deleted_at IS NULL;

-- An order's nested parts move into one document column (docs/performance.md, "How an order is
-- stored"): its lines with what they were when ordered, its shipping lines, and its details
-- (contact, addresses, notes, tags, metadata, channel). Amounts inside it are strings, so money
-- stays exact. What lists filter on stays a column: the email's match key (lowercased) and the
-- channel, written from the same values as the document on every write.
ALTER TABLE orders
    ADD COLUMN shipping  NUMERIC NOT NULL DEFAULT 0 CHECK (shipping >= 0),  -- Σ shipping lines
    ADD COLUMN email_key TEXT,                      -- the contact's email, lowercased; NULL without one
    ADD COLUMN channel   TEXT NOT NULL DEFAULT 'api',
    ADD COLUMN document  JSONB NOT NULL DEFAULT '{}';

-- The total now includes shipping (`orders_check1` is the first migration's unnamed
-- `total = subtotal - discount + tax`).
ALTER TABLE orders DROP CONSTRAINT orders_check1;
ALTER TABLE orders ADD CONSTRAINT orders_total_adds_up
    CHECK (total = subtotal - discount + shipping + tax);

-- Orders placed before: their lines, in their order, with amounts as their exact text.
UPDATE orders o SET document = jsonb_build_object('lines', (
    SELECT jsonb_agg(jsonb_build_object(
               'product_id', i.product_id,
               'quantity', i.quantity,
               'unit_price', CAST(i.unit_price AS TEXT),
               'line_total', CAST(i.line_total AS TEXT)) ORDER BY i.position)
    FROM order_items i WHERE i.order_id = o.id));

ALTER TABLE orders
    ALTER COLUMN shipping DROP DEFAULT,
    ALTER COLUMN channel DROP DEFAULT,
    ALTER COLUMN document DROP DEFAULT;

DROP TABLE order_items;

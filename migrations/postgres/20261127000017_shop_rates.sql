-- The shop's rates: its tax table ('taxes') and its shipping methods ('shipping'), each one
-- row holding the whole table as a document, replaced whole against its version (the ETag).
CREATE TABLE shop_rates (
    name        TEXT PRIMARY KEY CHECK (name IN ('taxes', 'shipping')),
    version     INTEGER NOT NULL CHECK (version >= 1),
    updated_at  TIMESTAMPTZ,                 -- null until first replaced
    document    JSONB NOT NULL
);
-- Every shop starts with no rates: no tax, and shipping only as staff give it.
INSERT INTO shop_rates (name, version, document) VALUES
    ('taxes', 1, '{"prices_include_tax": false, "rates": []}'),
    ('shipping', 1, '[]');

-- With prices that include tax (the order document says so), the total holds the tax already.
ALTER TABLE orders DROP CONSTRAINT orders_total_adds_up;
ALTER TABLE orders ADD CONSTRAINT orders_total_adds_up
    CHECK (total = subtotal - discount + shipping
        + CASE WHEN (document ->> 'prices_include_tax')::boolean IS TRUE THEN 0 ELSE tax END)
    NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_total_adds_up;

-- Orders and their line items. Money is TEXT holding the exact decimal (never REAL); ids are
-- 16-byte BLOBs; times are INTEGER microseconds since the Unix epoch (UTC), so they sort.

-- Order-number sequence values: one row per sequence, bumped inside a write transaction.
CREATE TABLE sequences (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL CHECK (value >= 0)
) STRICT;
INSERT INTO sequences (name, value) VALUES ('order_number', 0);

CREATE TABLE orders (
    id              BLOB PRIMARY KEY CHECK (length(id) = 16),  -- UUIDv7
    order_number    TEXT NOT NULL,                  -- canonical ORD-YYMMDD-XXXXXXXC form
    customer_id     BLOB NOT NULL CHECK (length(customer_id) = 16),
    currency        TEXT NOT NULL CHECK (length(currency) = 3),
    subtotal        TEXT NOT NULL,
    discount        TEXT NOT NULL,
    discount_kind   TEXT CHECK (discount_kind IN ('fixed', 'percentage')),
    discount_value  TEXT,                           -- the amount off, or the percentage
    tax_rate        TEXT,
    tax             TEXT NOT NULL,
    total           TEXT NOT NULL,
    -- The rounding policy the figures were computed with, so they can be re-checked later.
    minor_units     INTEGER NOT NULL CHECK (minor_units BETWEEN 0 AND 4),
    rounding_mode   TEXT NOT NULL CHECK (rounding_mode IN ('half_up', 'half_even')),
    tax_rounding    TEXT NOT NULL CHECK (tax_rounding IN ('per_order', 'per_line')),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'cancelled')),
    cancel_reason   TEXT CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL)),
    version         INTEGER NOT NULL CHECK (version >= 1),  -- compare-and-set on every change
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER,                        -- soft delete: set, the order is no longer found
    CHECK ((discount_kind IS NULL) = (discount_value IS NULL))
) STRICT;

CREATE UNIQUE INDEX orders_order_number_key ON orders (order_number);

-- Backs a customer's list, newest first, with keyset pagination on (created_at, id).
CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at, id)
    WHERE deleted_at IS NULL;

CREATE TABLE order_items (
    order_id    BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL CHECK (position >= 0),  -- the order the client gave
    product_id  BLOB NOT NULL CHECK (length(product_id) = 16),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    unit_price  TEXT NOT NULL,
    line_total  TEXT NOT NULL,
    PRIMARY KEY (order_id, position)
) STRICT, WITHOUT ROWID;

-- Orders and their line items. Money is NUMERIC without a fixed scale, so every amount keeps
-- exactly the digits it was priced with.

-- Order-number sequence values, shared by every replica; the domain turns each into a number.
CREATE SEQUENCE order_number_seq AS BIGINT MINVALUE 0 START WITH 1 NO CYCLE;

CREATE TABLE orders (
    id              UUID PRIMARY KEY,               -- UUIDv7: time-ordered, so inserts stay local
    order_number    TEXT NOT NULL,                  -- canonical ORD-YYMMDD-XXXXXXXC form
    customer_id     UUID NOT NULL,
    currency        CHAR(3) NOT NULL,               -- ISO 4217 code
    subtotal        NUMERIC NOT NULL CHECK (subtotal >= 0),
    discount        NUMERIC NOT NULL CHECK (discount >= 0 AND discount <= subtotal),
    discount_kind   TEXT CHECK (discount_kind IN ('fixed', 'percentage')),
    discount_value  NUMERIC CHECK (discount_value >= 0),  -- the amount off, or the percentage
    tax_rate        NUMERIC CHECK (tax_rate >= 0 AND tax_rate < 1),
    tax             NUMERIC NOT NULL CHECK (tax >= 0),
    total           NUMERIC NOT NULL CHECK (total = subtotal - discount + tax),
    -- The rounding policy the figures were computed with, so they can be re-checked later.
    minor_units     SMALLINT NOT NULL CHECK (minor_units BETWEEN 0 AND 4),
    rounding_mode   TEXT NOT NULL CHECK (rounding_mode IN ('half_up', 'half_even')),
    tax_rounding    TEXT NOT NULL CHECK (tax_rounding IN ('per_order', 'per_line')),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'cancelled')),
    cancel_reason   TEXT CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL)),
    version         INTEGER NOT NULL CHECK (version >= 1),  -- compare-and-set on every change
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    deleted_at      TIMESTAMPTZ,                    -- soft delete: set, the order is no longer found
    CHECK ((discount_kind IS NULL) = (discount_value IS NULL))
);

CREATE UNIQUE INDEX orders_order_number_key ON orders (order_number);

-- Backs a customer's list, newest first, with keyset pagination on (created_at, id).
CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at, id)
    WHERE deleted_at IS NULL;

CREATE TABLE order_items (
    order_id    UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position    SMALLINT NOT NULL CHECK (position >= 0),  -- the order the client gave
    product_id  UUID NOT NULL,
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    unit_price  NUMERIC NOT NULL CHECK (unit_price >= 0),
    line_total  NUMERIC NOT NULL CHECK (line_total = unit_price * quantity),
    PRIMARY KEY (order_id, position)
);

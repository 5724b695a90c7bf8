-- Discount codes and the orders that use them. A code's `used` counts the orders holding a use
-- of it: an order takes one in the transaction that stores it (SQLite's one writer makes every
-- such write wait its turn, so a limit holds), and gives it back when it is cancelled (the
-- trigger below, in the cancel's own transaction).
CREATE TABLE discount_codes (
    id                  BLOB PRIMARY KEY CHECK (length(id) = 16),
    code                TEXT NOT NULL,           -- upper case, as customers' are read
    status              TEXT NOT NULL CHECK (status IN ('active', 'archived')),
    used                INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    usage_limit         INTEGER CHECK (usage_limit >= 1),
    per_customer_limit  INTEGER CHECK (per_customer_limit >= 1),
    version             INTEGER NOT NULL CHECK (version >= 1),
    created_at          INTEGER NOT NULL,        -- microseconds since the epoch
    updated_at          INTEGER NOT NULL,
    document            TEXT NOT NULL CHECK (json_valid(document)),
    CONSTRAINT discount_codes_code_key UNIQUE (code),
    CHECK (usage_limit IS NULL OR used <= usage_limit)
) STRICT;

CREATE TABLE discount_redemptions (
    order_id     BLOB PRIMARY KEY REFERENCES orders (id),   -- one code per order
    code_id      BLOB NOT NULL REFERENCES discount_codes (id),
    customer_id  BLOB NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX discount_redemptions_code_customer_idx ON discount_redemptions (code_id, customer_id);

-- A cancelled order gives its use of a code back.
CREATE TRIGGER orders_cancel_releases_code AFTER UPDATE OF status ON orders
WHEN new.status = 'cancelled' AND old.status <> 'cancelled' BEGIN
    UPDATE discount_codes SET used = used - 1
    WHERE id = (SELECT code_id FROM discount_redemptions WHERE order_id = new.id);
    DELETE FROM discount_redemptions WHERE order_id = new.id;
END;

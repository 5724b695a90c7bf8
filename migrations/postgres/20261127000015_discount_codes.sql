-- Discount codes and the orders that use them. A code's `used` counts the orders holding a use
-- of it: an order takes one in the transaction that stores it (the row's update also makes
-- every other order using the code wait, so a limit holds under any concurrency), and gives it
-- back when it is cancelled (the trigger below, in the cancel's own transaction).
CREATE TABLE discount_codes (
    id                  UUID PRIMARY KEY,
    code                TEXT COLLATE "C" NOT NULL,   -- upper case, as customers' are read
    status              TEXT NOT NULL CHECK (status IN ('active', 'archived')),
    used                INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    usage_limit         INTEGER CHECK (usage_limit >= 1),
    per_customer_limit  INTEGER CHECK (per_customer_limit >= 1),
    version             INTEGER NOT NULL CHECK (version >= 1),
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    document            JSONB NOT NULL,          -- value, minimums, window
    CONSTRAINT discount_codes_code_key UNIQUE (code),
    CHECK (usage_limit IS NULL OR used <= usage_limit)
);

CREATE TABLE discount_redemptions (
    order_id     UUID PRIMARY KEY REFERENCES orders (id),   -- one code per order
    code_id      UUID NOT NULL REFERENCES discount_codes (id),
    customer_id  UUID NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX discount_redemptions_code_customer_idx ON discount_redemptions (code_id, customer_id);

CREATE FUNCTION discount_redemption_release() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE discount_codes c SET used = c.used - 1
    FROM discount_redemptions r WHERE r.order_id = NEW.id AND c.id = r.code_id;
    DELETE FROM discount_redemptions WHERE order_id = NEW.id;
    RETURN NULL;
END
$$;
-- A cancelled order gives its use of a code back.
CREATE TRIGGER orders_cancel_releases_code AFTER UPDATE OF status ON orders
    FOR EACH ROW WHEN (NEW.status = 'cancelled' AND OLD.status <> 'cancelled')
    EXECUTE FUNCTION discount_redemption_release();

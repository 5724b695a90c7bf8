-- no-transaction
-- Payment terms: `partially_paid` (payments recorded outside a gateway adding up to less than
-- the total) and when a manual payment is due. SQLite cannot change a CHECK in place, so the
-- table is rebuilt by SQLite's documented procedure (https://sqlite.org/lang_altertable.html,
-- "Making Other Kinds Of Table Schema Changes"): foreign keys off (which only works outside a
-- transaction, hence `no-transaction` and the explicit one below), a new table with the wider
-- check, every row copied, the old one dropped, the new one renamed, its indexes, triggers and
-- the view that reads it made again exactly as before, the foreign keys of the tables that
-- refer to orders (payment attempts, refunds, discount redemptions) checked before the commit
-- (the insert into `foreign_keys_hold` fails if any is dangling, and nothing is committed),
-- and foreign keys on again. The triggers are dropped first so that dropping the table deletes
-- nothing they would follow (search terms, code uses). Run again on a rebuilt table it
-- rebuilds it the same way (tests/storage/migrations.rs runs it so).
PRAGMA foreign_keys = OFF;

BEGIN IMMEDIATE;

CREATE TABLE orders_new (
    id                 BLOB PRIMARY KEY CHECK (length(id) = 16),  -- UUIDv7
    order_number       TEXT NOT NULL,                  -- canonical ORD-YYMMDD-XXXXXXXC form
    customer_id        BLOB NOT NULL CHECK (length(customer_id) = 16),
    currency           TEXT NOT NULL CHECK (length(currency) = 3),
    subtotal           TEXT NOT NULL,
    discount           TEXT NOT NULL,
    discount_kind      TEXT CHECK (discount_kind IN ('fixed', 'percentage')),
    discount_value     TEXT,                           -- the amount off, or the percentage
    tax_rate           TEXT,
    tax                TEXT NOT NULL,
    total              TEXT NOT NULL,
    -- The rounding policy the figures were computed with, so they can be re-checked later.
    minor_units        INTEGER NOT NULL CHECK (minor_units BETWEEN 0 AND 4),
    rounding_mode      TEXT NOT NULL CHECK (rounding_mode IN ('half_up', 'half_even')),
    tax_rounding       TEXT NOT NULL CHECK (tax_rounding IN ('per_order', 'per_line')),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'cancelled')),
    cancel_reason      TEXT CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL)),
    version            INTEGER NOT NULL CHECK (version >= 1),  -- compare-and-set on every change
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    deleted_at         INTEGER,                        -- soft delete: set, the order is no longer found
    payment_status     TEXT NOT NULL DEFAULT 'unpaid' CHECK (payment_status IN
        ('unpaid', 'authorized', 'partially_paid', 'paid', 'partially_refunded', 'refunded',
         'failed', 'unknown')),
    amount_authorized  TEXT NOT NULL DEFAULT '0',
    amount_captured    TEXT NOT NULL DEFAULT '0',
    amount_refunded    TEXT NOT NULL DEFAULT '0',
    payment_reference  TEXT,
    payment_pending    TEXT CHECK (payment_pending IN ('authorize', 'capture', 'void', 'refund')),
    pending_status     TEXT CHECK (pending_status IS NULL
                                   OR (pending_status IN ('processing', 'completed', 'cancelled')
                                       AND payment_pending IS NOT NULL)),
    pending_reason     TEXT CHECK ((pending_reason IS NULL) = (pending_status IS NOT 'cancelled')),
    shipping           TEXT NOT NULL DEFAULT '0',
    email_key          TEXT,
    channel            TEXT NOT NULL DEFAULT 'api',
    document           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(document)),
    total_key          TEXT GENERATED ALWAYS AS (
        substr('0000000000000000' || CASE WHEN instr(total, '.') > 0
                                          THEN substr(total, 1, instr(total, '.') - 1)
                                          ELSE total END, -16)
        || substr(CASE WHEN instr(total, '.') > 0 THEN substr(total, instr(total, '.') + 1)
                       ELSE '' END || '0000', 1, 4)) VIRTUAL,
    fulfillment_status TEXT NOT NULL DEFAULT 'unfulfilled'
        CONSTRAINT orders_fulfillment_status_known CHECK (fulfillment_status IN
            ('unfulfilled', 'partially_fulfilled', 'fulfilled', 'partially_returned', 'returned')),
    -- When a manual payment is due (payment terms), microseconds since the epoch: from the
    -- document, where the order keeps it.
    payment_due_us     INTEGER GENERATED ALWAYS AS (json_extract(document, '$.payment_due_us'))
        VIRTUAL,
    CHECK ((discount_kind IS NULL) = (discount_value IS NULL))
) STRICT;

INSERT INTO orders_new (
    id, order_number, customer_id, currency, subtotal, discount,
    discount_kind, discount_value, tax_rate, tax, total, minor_units,
    rounding_mode, tax_rounding, status, cancel_reason, version, created_at,
    updated_at, deleted_at, payment_status, amount_authorized, amount_captured, amount_refunded,
    payment_reference, payment_pending, pending_status, pending_reason, shipping, email_key,
    channel, document, fulfillment_status)
SELECT
    id, order_number, customer_id, currency, subtotal, discount,
    discount_kind, discount_value, tax_rate, tax, total, minor_units,
    rounding_mode, tax_rounding, status, cancel_reason, version, created_at,
    updated_at, deleted_at, payment_status, amount_authorized, amount_captured, amount_refunded,
    payment_reference, payment_pending, pending_status, pending_reason, shipping, email_key,
    channel, document, fulfillment_status
FROM orders;

DROP TRIGGER orders_search_insert;

DROP TRIGGER orders_search_update;

DROP TRIGGER orders_search_delete;

DROP TRIGGER orders_end_releases_code;

DROP VIEW order_search_body;

DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;

CREATE UNIQUE INDEX orders_order_number_key ON orders (order_number);

CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at, id)
    WHERE deleted_at IS NULL;

CREATE INDEX orders_payment_pending_idx ON orders (updated_at) WHERE payment_pending IS NOT NULL;

CREATE INDEX orders_created_idx ON orders (created_at, id) WHERE deleted_at IS NULL;

CREATE INDEX orders_status_created_idx ON orders (status, created_at, id)
    WHERE deleted_at IS NULL;

CREATE INDEX orders_payment_status_created_idx ON orders (payment_status, created_at, id)
    WHERE deleted_at IS NULL;

CREATE INDEX orders_email_created_idx ON orders (email_key, created_at, id)
    WHERE deleted_at IS NULL AND email_key IS NOT NULL;

CREATE INDEX orders_channel_created_idx ON orders (channel, created_at, id)
    WHERE deleted_at IS NULL;

CREATE INDEX orders_total_idx ON orders (total_key) WHERE deleted_at IS NULL;

CREATE INDEX orders_fulfillment_status_created_idx ON orders (fulfillment_status, created_at, id)
    WHERE deleted_at IS NULL;

CREATE INDEX orders_payment_due_idx ON orders (payment_due_us, created_at, id)
    WHERE deleted_at IS NULL AND payment_due_us IS NOT NULL
      AND payment_status IN ('unpaid', 'partially_paid');

CREATE VIEW order_search_body (order_id, body) AS
SELECT id, lower(order_number || char(31) || coalesce(email_key, '')
                 || char(31) || coalesce(json_extract(document, '$.details.contact.name'), '')
                 || char(31) || coalesce(json_extract(document, '$.details.shipping_address.name'), '')
                 || char(31) || coalesce(json_extract(document, '$.details.billing_address.name'), ''))
FROM orders;

CREATE TRIGGER orders_search_insert AFTER INSERT ON orders BEGIN
    INSERT INTO order_terms (kind, term, order_id)
    SELECT DISTINCT 'tag', value, new.id FROM json_each(new.document, '$.details.tags');
    INSERT INTO order_terms (kind, term, order_id)
    SELECT DISTINCT 'sku', json_extract(value, '$.snapshot.sku'), new.id
    FROM json_each(new.document, '$.lines')
    WHERE json_extract(value, '$.snapshot.sku') IS NOT NULL;
    INSERT INTO order_search (order_id) VALUES (new.id);
    INSERT INTO order_text (rowid, body)
    SELECT s.id, b.body FROM order_search s JOIN order_search_body b ON b.order_id = s.order_id
    WHERE s.order_id = new.id;
END;

CREATE TRIGGER orders_search_update AFTER UPDATE OF document, email_key ON orders
WHEN old.document IS NOT new.document OR old.email_key IS NOT new.email_key BEGIN
    DELETE FROM order_terms WHERE order_id = old.id AND kind = 'tag';
    INSERT INTO order_terms (kind, term, order_id)
    SELECT DISTINCT 'tag', value, new.id FROM json_each(new.document, '$.details.tags');
    DELETE FROM order_text WHERE rowid = (SELECT id FROM order_search WHERE order_id = old.id);
    INSERT INTO order_text (rowid, body)
    SELECT s.id, b.body FROM order_search s JOIN order_search_body b ON b.order_id = s.order_id
    WHERE s.order_id = new.id;
END;

CREATE TRIGGER orders_search_delete AFTER DELETE ON orders BEGIN
    DELETE FROM order_terms WHERE order_id = old.id;
    DELETE FROM order_text WHERE rowid = (SELECT id FROM order_search WHERE order_id = old.id);
    DELETE FROM order_search WHERE order_id = old.id;
END;

CREATE TRIGGER orders_end_releases_code AFTER UPDATE OF status, deleted_at ON orders
WHEN (new.status = 'cancelled' AND old.status <> 'cancelled')
  OR (new.deleted_at IS NOT NULL AND old.deleted_at IS NULL) BEGIN
    UPDATE discount_codes SET used = used - 1
    WHERE id = (SELECT code_id FROM discount_redemptions WHERE order_id = new.id) AND used > 0;
    DELETE FROM discount_redemptions WHERE order_id = new.id;
END;

CREATE TEMP TABLE foreign_keys_hold (dangling INTEGER NOT NULL CHECK (dangling = 0));
INSERT INTO foreign_keys_hold SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE foreign_keys_hold;

COMMIT;

PRAGMA foreign_keys = ON;

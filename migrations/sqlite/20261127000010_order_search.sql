-- Staff search: every order listable with any mix of filters, newest first by keyset, each
-- filter backed by an index. What PostgreSQL indexes in the document (tags, SKUs, the search
-- text) lives here in tables the triggers below keep in step with `orders`. The names are
-- those `SqliteDialect`'s filters read.

CREATE INDEX orders_created_idx ON orders (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX orders_status_created_idx ON orders (status, created_at, id)
    WHERE deleted_at IS NULL;
CREATE INDEX orders_payment_status_created_idx ON orders (payment_status, created_at, id)
    WHERE deleted_at IS NULL;
CREATE INDEX orders_email_created_idx ON orders (email_key, created_at, id)
    WHERE deleted_at IS NULL AND email_key IS NOT NULL;
CREATE INDEX orders_channel_created_idx ON orders (channel, created_at, id)
    WHERE deleted_at IS NULL;

-- The total as fixed-width text (16 integer digits, 4 decimals, no point), so comparing text
-- compares amounts exactly; totals are never negative and have at most 4 decimals.
ALTER TABLE orders ADD COLUMN total_key TEXT GENERATED ALWAYS AS (
    substr('0000000000000000' || CASE WHEN instr(total, '.') > 0
                                      THEN substr(total, 1, instr(total, '.') - 1)
                                      ELSE total END, -16)
    || substr(CASE WHEN instr(total, '.') > 0 THEN substr(total, instr(total, '.') + 1)
                   ELSE '' END || '0000', 1, 4)) VIRTUAL;
CREATE INDEX orders_total_idx ON orders (total_key) WHERE deleted_at IS NULL;

-- Each order's tags and SKUs, one row each.
CREATE TABLE order_terms (
    kind      TEXT NOT NULL CHECK (kind IN ('tag', 'sku')),
    term      TEXT NOT NULL,
    order_id  BLOB NOT NULL,
    PRIMARY KEY (kind, term, order_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX order_terms_order_idx ON order_terms (order_id);

-- The search text (number, email, names) of each order, lowercased: defined once, here. The
-- parts are joined by a control character (U+001F), which `q` never holds, so no match spans two.
CREATE VIEW order_search_body (order_id, body) AS
SELECT id, lower(order_number || char(31) || coalesce(email_key, '')
                 || char(31) || coalesce(json_extract(document, '$.details.contact.name'), '')
                 || char(31) || coalesce(json_extract(document, '$.details.shipping_address.name'), '')
                 || char(31) || coalesce(json_extract(document, '$.details.billing_address.name'), ''))
FROM orders;

-- The search text by trigrams (a substring match of 3 characters or more), under a row number
-- of its own: `orders` has no integer key a VACUUM would keep.
CREATE TABLE order_search (
    id        INTEGER PRIMARY KEY,
    order_id  BLOB NOT NULL UNIQUE
) STRICT;
CREATE VIRTUAL TABLE order_text USING fts5(body, tokenize = 'trigram');
-- A deleted row's tokens are removed at once, not at the next merge: an erased name is gone.
INSERT INTO order_text (order_text, rank) VALUES ('secure-delete', 1);

INSERT INTO order_terms (kind, term, order_id)
SELECT DISTINCT 'tag', t.value, o.id FROM orders o, json_each(o.document, '$.details.tags') t;
INSERT INTO order_terms (kind, term, order_id)
SELECT DISTINCT 'sku', json_extract(l.value, '$.snapshot.sku'), o.id
FROM orders o, json_each(o.document, '$.lines') l
WHERE json_extract(l.value, '$.snapshot.sku') IS NOT NULL;
INSERT INTO order_search (order_id) SELECT id FROM orders;
INSERT INTO order_text (rowid, body)
SELECT s.id, b.body FROM order_search s JOIN order_search_body b ON b.order_id = s.order_id;

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

-- Every write of an order sets its document; only a changed one (a patch, an erasure) is
-- indexed again. Lines never change, but tags and the searched names and email may.
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

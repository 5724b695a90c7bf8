-- Staff search: every order listable with any mix of filters, newest first by keyset. Each
-- filter has an index a page can start from on a big table (tests/storage/postgres_only.rs checks
-- the plans on a million orders). `PgDialect`'s filters and `store/list.rs` name them.

-- No filter, or filters the indexes below do not serve (currency, created range).
CREATE INDEX orders_created_idx ON orders (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX orders_status_created_idx ON orders (status, created_at, id)
    WHERE deleted_at IS NULL;
CREATE INDEX orders_payment_status_created_idx ON orders (payment_status, created_at, id)
    WHERE deleted_at IS NULL;
CREATE INDEX orders_email_created_idx ON orders (email_key, created_at, id)
    WHERE deleted_at IS NULL AND email_key IS NOT NULL;
CREATE INDEX orders_channel_created_idx ON orders (channel, created_at, id)
    WHERE deleted_at IS NULL;
CREATE INDEX orders_total_idx ON orders (total) WHERE deleted_at IS NULL;

-- Each order's tags and SKUs, one row each, kept by the triggers below. A table rather than a
-- GIN index on the document: its column statistics tell the planner how many orders a tag or a
-- SKU has (JSONB containment of a rare value is guessed at 1 %), so a rare or unknown SKU is
-- looked up by its index instead of walking every order newest first.
CREATE TABLE order_terms (
    kind      TEXT NOT NULL CHECK (kind IN ('tag', 'sku')),
    term      TEXT NOT NULL,
    order_id  UUID NOT NULL,
    PRIMARY KEY (kind, term, order_id)
);
CREATE INDEX order_terms_order_idx ON order_terms (order_id);

CREATE FUNCTION order_terms_sync() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM order_terms WHERE order_id = OLD.id;
    END IF;
    INSERT INTO order_terms (kind, term, order_id)
    SELECT 'tag', tag, NEW.id
    FROM jsonb_array_elements_text(coalesce(NEW.document -> 'details' -> 'tags', '[]')) AS tag
    UNION
    SELECT 'sku', sku, NEW.id
    FROM jsonb_array_elements_text(jsonb_path_query_array(NEW.document, '$.lines[*].snapshot.sku'))
         AS sku;
    RETURN NULL;
END
$$;
CREATE TRIGGER orders_terms_insert AFTER INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION order_terms_sync();
-- Every write of an order sets its document; only a changed one (a patch) is indexed again.
CREATE TRIGGER orders_terms_update AFTER UPDATE OF document ON orders
    FOR EACH ROW WHEN (OLD.document IS DISTINCT FROM NEW.document)
    EXECUTE FUNCTION order_terms_sync();

INSERT INTO order_terms (kind, term, order_id)
SELECT 'tag', tag, o.id
FROM orders o, jsonb_array_elements_text(coalesce(o.document -> 'details' -> 'tags', '[]')) AS tag
UNION
SELECT 'sku', sku, o.id
FROM orders o,
     jsonb_array_elements_text(jsonb_path_query_array(o.document, '$.lines[*].snapshot.sku')) AS sku;

-- `q`: a substring of the number, email and names, by trigrams. The text is a stored column,
-- not only an index expression, so the planner has its statistics: a common word ("lovelace")
-- walks the newest orders, a rare one (an email) reads the trigram index. pg_trgm is a trusted
-- extension (any user who may create in the database installs it); where it is already
-- installed, in whatever schema, its operator class is named from there. The parts are joined
-- by a control character (U+001F), which `q` never holds, so no match spans two of them.
ALTER TABLE orders ADD COLUMN search_text TEXT GENERATED ALWAYS AS (
    lower(order_number || E'\x1f' || coalesce(email_key, '')
          || E'\x1f' || coalesce(document #>> '{details,contact,name}', '')
          || E'\x1f' || coalesce(document #>> '{details,shipping_address,name}', '')
          || E'\x1f' || coalesce(document #>> '{details,billing_address,name}', ''))) STORED;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
DO $$
DECLARE
    trgm_schema TEXT := (SELECT n.nspname FROM pg_extension e
                         JOIN pg_namespace n ON n.oid = e.extnamespace
                         WHERE e.extname = 'pg_trgm');
BEGIN
    EXECUTE format('CREATE INDEX orders_search_text_idx ON orders
                    USING gin (search_text %I.gin_trgm_ops) WHERE deleted_at IS NULL',
                   trgm_schema);
END
$$;

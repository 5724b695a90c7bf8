-- The best single round trip for placing an order: the order, its 3 lines in its document, and its
-- event (a 2.5 KB payload, the first of its chain), in one statement (the form of PgStore::insert),
-- and nothing else. The bar ordo's whole create,
-- payment included, is measured against.
-- Its customers (…-a000-…) are not the seeded ones, so ordo never lists these rows, whose ids
-- and numbers are not ordo's.
-- The document's JSON has a space after each colon: pgbench's prepared mode reads ":name" as a
-- variable.
\set c random(1, :customers)
WITH changed AS (
INSERT INTO orders (id, order_number, customer_id, currency, subtotal, discount,
                    discount_kind, discount_value, tax_rate, tax, total, minor_units,
                    rounding_mode, tax_rounding, status, cancel_reason, version,
                    created_at, updated_at, payment_status, amount_authorized,
                    amount_captured, amount_refunded, payment_reference,
                    payment_pending, pending_status, pending_reason, shipping, email_key,
                    channel, document)
VALUES (gen_random_uuid(), 'ORD-PGB-' || nextval('order_number_seq'),
        CAST('00000000-0000-4000-a000-' || lpad(to_hex(CAST(:c AS bigint)), 12, '0') AS uuid), 'USD',
        82.48, 0, NULL, NULL, 0.0825, 6.80, 89.28, 2, 'half_up', 'per_order', 'pending',
        NULL, 1, now(), now(), 'unpaid', 0, 0, 0, NULL, 'authorize', NULL, NULL,
        0, 'ada@example.com', 'web',
        '{"lines": [{"product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 2, "unit_price": "19.99", "line_total": "39.98", "snapshot": {"sku": "TS-BLUE-L", "title": "T-shirt", "options": {"colour": "blue", "size": "L"}, "requires_shipping": true}},{"product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 1, "unit_price": "5.00", "line_total": "5.00", "snapshot": {"sku": "MUG-01", "title": "Mug", "requires_shipping": true}},{"product_id": "0193a1a0-0000-7000-8000-0000000000cc", "quantity": 3, "unit_price": "12.50", "line_total": "37.50", "snapshot": {"sku": "SOCK-3", "title": "Socks, three pairs", "options": {"size": "M"}, "requires_shipping": true}}], "details": {"contact": {"email": "ada@example.com", "phone": "+14155550100", "name": "Ada Lovelace"}, "shipping_address": {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"}, "billing_address": "same_as_shipping", "customer_note": null, "staff_note": null, "tags": [], "metadata": {}, "channel": "web"}}')
RETURNING id)
INSERT INTO order_events (id, order_id, customer_id, kind, version, actor_role, actor_subject, request_id,
    idempotency_key, at, payload, payload_digest, chain, prev_hash, hash)
SELECT gen_random_uuid(), changed.id, CAST('00000000-0000-4000-a000-' || lpad(to_hex(CAST(:c AS bigint)), 12, '0') AS uuid), 'order.placed', 1,
       'admin', 'bench', NULL, NULL, now(), repeat('x', 2500),
       sha256(CAST('payload' AS bytea)), 1, NULL,
       sha256(sha256(CAST('digest' AS bytea)))
FROM changed;

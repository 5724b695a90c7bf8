-- The best single round trip for placing an order: the order and its 3 items in one
-- statement (the form of PgStore::insert), and nothing else. The bar ordo's whole create,
-- payment included, is measured against.
-- Its customers (…-a000-…) are not the seeded ones, so ordo never lists these rows, whose ids
-- and numbers are not ordo's.
\set c random(1, :customers)
WITH new_order AS (
    INSERT INTO orders (id, order_number, customer_id, currency, subtotal, discount,
                        discount_kind, discount_value, tax_rate, tax, total, minor_units,
                        rounding_mode, tax_rounding, status, cancel_reason, version,
                        created_at, updated_at, payment_status, amount_authorized,
                        amount_captured, amount_refunded, payment_reference,
                        payment_pending, pending_status, pending_reason)
    VALUES (gen_random_uuid(), 'ORD-PGB-' || nextval('order_number_seq'),
            CAST('00000000-0000-4000-a000-' || lpad(to_hex(CAST(:c AS bigint)), 12, '0') AS uuid), 'USD',
            82.48, 0, NULL, NULL, 0.0825, 6.80, 89.28, 2, 'half_up', 'per_order', 'pending',
            NULL, 1, now(), now(), 'unpaid', 0, 0, 0, NULL, 'authorize', NULL, NULL)
    RETURNING id
)
INSERT INTO order_items (order_id, position, product_id, quantity, unit_price, line_total)
SELECT new_order.id, item.position, item.product_id, item.quantity, item.unit_price, item.line_total
FROM new_order,
     UNNEST(CAST('{0,1,2}' AS smallint[]),
            CAST('{0193a1a0-0000-7000-8000-0000000000aa,0193a1a0-0000-7000-8000-0000000000bb,0193a1a0-0000-7000-8000-0000000000cc}' AS uuid[]),
            CAST('{2,1,3}' AS integer[]), CAST('{19.99,5.00,12.50}' AS numeric[]),
            CAST('{39.98,5.00,37.50}' AS numeric[]))
         AS item (position, product_id, quantity, unit_price, line_total);

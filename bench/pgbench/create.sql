-- POST /v1/orders as ordo sends it today, statement for statement: insert the order with its
-- items, the simulated gateway's ledger write (returning the row kept for the key), then the
-- order's payment by compare-and-set with the call's audit row in the same statement. One
-- round trip each, as the server. (The
-- server draws order-number sequence values 64 at a time, so one create in 64 also sends a
-- nextval; here the number and the id come from the same two random 63-bit numbers, so they
-- never collide however long the run, as ordo makes its ids itself.)
-- Its customers (…-a000-…) are not the seeded ones, so ordo never lists these rows, whose ids
-- and numbers are not ordo's.
\set c random(1, :customers)
\set hi random(1, 9223372036854775807)
\set lo random(1, 9223372036854775807)
WITH new_order AS (
    INSERT INTO orders (id, order_number, customer_id, currency, subtotal, discount,
                        discount_kind, discount_value, tax_rate, tax, total, minor_units,
                        rounding_mode, tax_rounding, status, cancel_reason, version,
                        created_at, updated_at, payment_status, amount_authorized,
                        amount_captured, amount_refunded, payment_reference,
                        payment_pending, pending_status, pending_reason)
    VALUES (CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid), 'ORD-PGB-' || :hi || '-' || :lo,
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
INSERT INTO simulated_gateway_ledger
    (idempotency_key, operation, order_id, amount, outcome, reference, created_at)
VALUES ('authorize:' || :hi || '-' || :lo, 'authorize', CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid), 89.28, 'approved', 'sim_authorize_' || :hi || '-' || :lo, now())
ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
RETURNING idempotency_key, operation, order_id, amount, outcome, reference, created_at;
WITH attempt AS (
    INSERT INTO payment_attempts (id, order_id, operation, amount, outcome, reference, created_at)
    VALUES (gen_random_uuid(), CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid), 'authorize', 89.28, 'approved', 'sim_authorize_' || :hi || '-' || :lo, now())
)
UPDATE orders SET status = 'pending', cancel_reason = NULL, version = 2, updated_at = now(),
                  payment_status = 'authorized', amount_authorized = 89.28, amount_captured = 0,
                  amount_refunded = 0, payment_reference = 'sim_authorize_' || :hi || '-' || :lo,
                  payment_pending = NULL, pending_status = NULL, pending_reason = NULL
WHERE id = CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid) AND version = 1 AND deleted_at IS NULL;

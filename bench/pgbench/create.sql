-- POST /v1/orders as ordo sends it today, statement for statement: read the shop's rates (its
-- tax table and shipping methods, one row each), insert the order with its
-- lines in its document and its event (order.placed) chained in the same statement, the
-- simulated gateway's ledger write (returning the row kept for the key), then the order's
-- payment by compare-and-set with the call's audit row and its event (payment.authorized) in
-- the same statement. One round trip each, as the server. An event's payload is the order as
-- the API shows it (about 2.5 KB: the document and 700 bytes more here); its digest is
-- computed by ordo, a constant here. (The
-- server draws order-number sequence values 64 at a time, so one create in 64 also sends a
-- nextval; here the number and the id come from the same two random 63-bit numbers, so they
-- never collide however long the run, as ordo makes its ids itself.)
-- Its customers (…-a000-…) are not the seeded ones, so ordo never lists these rows, whose ids
-- and numbers are not ordo's.
-- The document's JSON has a space after each colon: pgbench's prepared mode reads ":name" as a
-- variable.
\set c random(1, :customers)
\set hi random(1, 9223372036854775807)
\set lo random(1, 9223372036854775807)
SELECT name, version, updated_at, CAST(document AS TEXT) AS document
FROM shop_rates WHERE name IN ('taxes', 'shipping');
WITH changed AS (
INSERT INTO orders (id, order_number, customer_id, currency, subtotal, discount,
                    discount_kind, discount_value, tax_rate, tax, total, minor_units,
                    rounding_mode, tax_rounding, status, cancel_reason, version,
                    created_at, updated_at, payment_status, amount_authorized,
                    amount_captured, amount_refunded, payment_reference,
                    payment_pending, pending_status, pending_reason, shipping, email_key,
                    channel, document)
VALUES (CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid), 'ORD-PGB-' || :hi || '-' || :lo,
        CAST('00000000-0000-4000-a000-' || lpad(to_hex(CAST(:c AS bigint)), 12, '0') AS uuid), 'USD',
        82.48, 0, NULL, NULL, 0.0825, 6.80, 89.28, 2, 'half_up', 'per_order', 'pending',
        NULL, 1, now(), now(), 'unpaid', 0, 0, 0, NULL, 'authorize', NULL, NULL,
        0, 'ada@example.com', 'web',
        '{"lines": [{"product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 2, "unit_price": "19.99", "line_total": "39.98", "snapshot": {"sku": "TS-BLUE-L", "title": "T-shirt", "options": {"colour": "blue", "size": "L"}, "requires_shipping": true}},{"product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 1, "unit_price": "5.00", "line_total": "5.00", "snapshot": {"sku": "MUG-01", "title": "Mug", "requires_shipping": true}},{"product_id": "0193a1a0-0000-7000-8000-0000000000cc", "quantity": 3, "unit_price": "12.50", "line_total": "37.50", "snapshot": {"sku": "SOCK-3", "title": "Socks, three pairs", "options": {"size": "M"}, "requires_shipping": true}}], "details": {"contact": {"email": "ada@example.com", "phone": "+14155550100", "name": "Ada Lovelace"}, "shipping_address": {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"}, "billing_address": "same_as_shipping", "customer_note": null, "staff_note": null, "tags": [], "metadata": {}, "channel": "web"}}')
RETURNING 1),
prev AS (
    SELECT chain, hash FROM order_events WHERE order_id = CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid)
    ORDER BY chain DESC LIMIT 1
)
INSERT INTO order_events (id, order_id, customer_id, kind, version, actor_role, actor_subject, request_id,
    idempotency_key, at, payload, payload_digest, chain, prev_hash, hash)
SELECT gen_random_uuid(), CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid), CAST('00000000-0000-4000-a000-' || lpad(to_hex(CAST(:c AS bigint)), 12, '0') AS uuid), 'order.placed', 1,
       'admin', 'bench', NULL, NULL, now(),
       (SELECT CAST(document AS TEXT) FROM orders WHERE id = CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid)) || repeat(' ', 700),
       sha256(CAST('payload' AS bytea)), COALESCE(prev.chain, 0) + 1, prev.hash,
       sha256(COALESCE(prev.hash, CAST('' AS bytea)) || sha256(CAST('digest' AS bytea)))
FROM changed LEFT JOIN prev ON true;
INSERT INTO simulated_gateway_ledger
    (idempotency_key, operation, order_id, amount, outcome, reference, created_at)
VALUES ('authorize:' || :hi || '-' || :lo, 'authorize', CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid), 89.28, 'approved', 'sim_authorize_' || :hi || '-' || :lo, now())
ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
RETURNING idempotency_key, operation, order_id, amount, outcome, reference, created_at;
WITH attempt AS (
    INSERT INTO payment_attempts (id, order_id, operation, amount, outcome, reference, created_at)
    VALUES (gen_random_uuid(), CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid), 'authorize', 89.28, 'approved', 'sim_authorize_' || :hi || '-' || :lo, now())
),
changed AS (UPDATE orders SET status = 'pending', cancel_reason = NULL, version = 2, updated_at = now(),
                  payment_status = 'authorized', amount_authorized = 89.28, amount_captured = 0,
                  amount_refunded = 0, payment_reference = 'sim_authorize_' || :hi || '-' || :lo,
                  payment_pending = NULL, pending_status = NULL, pending_reason = NULL,
                  email_key = 'ada@example.com', channel = 'web',
                  document = '{"lines": [{"product_id": "0193a1a0-0000-7000-8000-0000000000aa", "quantity": 2, "unit_price": "19.99", "line_total": "39.98", "snapshot": {"sku": "TS-BLUE-L", "title": "T-shirt", "options": {"colour": "blue", "size": "L"}, "requires_shipping": true}},{"product_id": "0193a1a0-0000-7000-8000-0000000000bb", "quantity": 1, "unit_price": "5.00", "line_total": "5.00", "snapshot": {"sku": "MUG-01", "title": "Mug", "requires_shipping": true}},{"product_id": "0193a1a0-0000-7000-8000-0000000000cc", "quantity": 3, "unit_price": "12.50", "line_total": "37.50", "snapshot": {"sku": "SOCK-3", "title": "Socks, three pairs", "options": {"size": "M"}, "requires_shipping": true}}], "details": {"contact": {"email": "ada@example.com", "phone": "+14155550100", "name": "Ada Lovelace"}, "shipping_address": {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"}, "billing_address": "same_as_shipping", "customer_note": null, "staff_note": null, "tags": [], "metadata": {}, "channel": "web"}}'
WHERE id = CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid) AND version = 1 AND deleted_at IS NULL
RETURNING 1),
prev AS (
    SELECT chain, hash FROM order_events WHERE order_id = CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid)
    ORDER BY chain DESC LIMIT 1
)
INSERT INTO order_events (id, order_id, customer_id, kind, version, actor_role, actor_subject, request_id,
    idempotency_key, at, payload, payload_digest, chain, prev_hash, hash)
SELECT gen_random_uuid(), CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid), CAST('00000000-0000-4000-a000-' || lpad(to_hex(CAST(:c AS bigint)), 12, '0') AS uuid), 'payment.authorized', 2,
       'admin', 'bench', NULL, NULL, now(),
       (SELECT CAST(document AS TEXT) FROM orders WHERE id = CAST(lpad(to_hex(CAST(:hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:lo AS bigint)), 16, '0') AS uuid)) || repeat(' ', 700),
       sha256(CAST('payload' AS bytea)), COALESCE(prev.chain, 0) + 1, prev.hash,
       sha256(COALESCE(prev.hash, CAST('' AS bytea)) || sha256(CAST('digest' AS bytea)))
FROM changed LEFT JOIN prev ON true;

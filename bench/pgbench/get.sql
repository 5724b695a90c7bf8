-- GET /v1/orders/{id}: the one statement PgStore::get sends (GET_ORDER in orders.rs), for a
-- random order seeded by `ordo seed` (order n has id 01900000-0000-7000-8000-{n:012x}).
\set n random(1, :orders)
SELECT o.id, o.order_number, o.customer_id, o.currency, o.subtotal, o.discount, o.discount_kind,
       o.discount_value, o.tax_rate, o.tax, o.total, o.minor_units, o.rounding_mode,
       o.tax_rounding, o.status, o.cancel_reason, o.version, o.created_at, o.updated_at,
       o.payment_status, o.amount_authorized, o.amount_captured, o.amount_refunded,
       o.payment_reference, o.payment_pending, o.pending_status, o.pending_reason, o.shipping,
       CAST(o.document AS TEXT) AS document
FROM orders o
WHERE o.id = CAST('01900000-0000-7000-8000-' || lpad(to_hex(CAST(:n AS bigint)), 12, '0') AS uuid) AND o.deleted_at IS NULL;

-- GET /v1/orders?customer_id=…: the first page of 20 as PgStore::list sends it
-- (store/list.rs, LIMIT 21 to learn whether there is a next page), for a random seeded customer.
\set c random(1, :customers)
SELECT o.id, o.order_number, o.customer_id, o.currency, o.subtotal, o.discount, o.discount_kind,
       o.discount_value, o.tax_rate, o.tax, o.total, o.minor_units, o.rounding_mode,
       o.tax_rounding, o.status, o.cancel_reason, o.version, o.created_at, o.updated_at,
       o.payment_status, o.amount_authorized, o.amount_captured, o.amount_refunded,
       o.payment_reference, o.payment_pending, o.pending_status, o.pending_reason, o.shipping,
       CAST(o.document AS TEXT) AS document
FROM orders o
WHERE o.deleted_at IS NULL
  AND (o.created_at, o.id) < (CAST('9999-12-31 23:59:59.999999+00' AS timestamptz), CAST('ffffffff-ffff-ffff-ffff-ffffffffffff' AS uuid))
  AND o.customer_id = CAST('00000000-0000-4000-8000-' || lpad(to_hex(CAST(:c AS bigint)), 12, '0') AS uuid)
ORDER BY o.created_at DESC, o.id DESC
LIMIT 21;

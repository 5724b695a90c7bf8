"""SQLite's own limit for `cargo xtask bench --sqlite`: the statements ordo's SQLite store sends,
run directly on SQLite by one thread, with ordo's settings (WAL, synchronous=FULL).

    python3 baseline.py DATABASE WORKLOAD SECONDS ORDERS CUSTOMERS

WORKLOAD is `create` (one transaction per create: the order with its document, the simulated
gateway's ledger row, the audited payment write), `get` (an order) or `list` (a customer's first page
of 20). Prints one JSON line: operations per second and
the 50th and 99th percentile latencies in milliseconds.

The statements are the store's, word for word (`crates/repository/src/store/bench_scripts.rs`
checks that they have not drifted). SQLite names `$n` parameters by their text, so values go
in a dict keyed by the number.
"""

import json
import random
import sqlite3
import sys
import time
import uuid

ORDER_COLUMNS = """id, order_number, customer_id, currency, subtotal, discount, discount_kind,
 discount_value, tax_rate, tax, total, minor_units, rounding_mode, tax_rounding, status,
 cancel_reason, version, created_at, updated_at, payment_status, amount_authorized,
 amount_captured, amount_refunded, payment_reference, payment_pending, pending_status,
 pending_reason, shipping, email_key, channel, document"""

INSERT_ORDER = f"""INSERT INTO orders ({ORDER_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)"""

REMEMBER = """
INSERT INTO simulated_gateway_ledger
    (idempotency_key, operation, order_id, amount, outcome, reference, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
RETURNING idempotency_key, operation, order_id, amount, outcome, reference, created_at"""

RECORD_ATTEMPT = """
INSERT INTO payment_attempts (id, order_id, operation, amount, outcome, reference, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)"""

UPDATE_ORDER = """
UPDATE orders SET status = $1, cancel_reason = $2, version = $3, updated_at = $4,
                  payment_status = $7, amount_authorized = $8, amount_captured = $9,
                  amount_refunded = $10, payment_reference = $11, payment_pending = $12,
                  pending_status = $13, pending_reason = $14, email_key = $15, channel = $16,
                  document = $17, fulfillment_status = $18
WHERE id = $5 AND version = $6 AND deleted_at IS NULL"""

SELECT_COLUMNS = """o.id, o.order_number, o.customer_id, o.currency, o.subtotal, o.discount, o.discount_kind,
       o.discount_value, o.tax_rate, o.tax, o.total, o.minor_units, o.rounding_mode,
       o.tax_rounding, o.status, o.cancel_reason, o.version, o.created_at, o.updated_at,
       o.payment_status, o.amount_authorized, o.amount_captured, o.amount_refunded,
       o.payment_reference, o.payment_pending, o.pending_status, o.pending_reason, o.shipping,
       CAST(o.document AS TEXT) AS document"""

GET_ORDER = f"""
SELECT {SELECT_COLUMNS}
FROM orders o WHERE o.id = $1 AND o.deleted_at IS NULL"""

LIST_ORDERS = f"""
SELECT {SELECT_COLUMNS}
FROM orders o
WHERE o.deleted_at IS NULL
  AND (o.created_at, o.id) < ($1, $2)
  AND o.customer_id = $3
ORDER BY o.created_at DESC, o.id DESC
LIMIT $4"""

# Three lines with their snapshots, a contact and a shipping address: an order as ordo stores it.
DOCUMENT = '''{"lines":[{"product_id":"0193a1a0-0000-7000-8000-0000000000aa","quantity":2,"unit_price":"19.99","line_total":"39.98","snapshot":{"sku":"TS-BLUE-L","title":"T-shirt","options":{"colour":"blue","size":"L"},"requires_shipping":true}},{"product_id":"0193a1a0-0000-7000-8000-0000000000bb","quantity":1,"unit_price":"5.00","line_total":"5.00","snapshot":{"sku":"MUG-01","title":"Mug","requires_shipping":true}},{"product_id":"0193a1a0-0000-7000-8000-0000000000cc","quantity":3,"unit_price":"12.50","line_total":"37.50","snapshot":{"sku":"SOCK-3","title":"Socks, three pairs","options":{"size":"M"},"requires_shipping":true}}],"details":{"contact":{"email":"ada@example.com","phone":"+14155550100","name":"Ada Lovelace"},"shipping_address":{"name":"Ada Lovelace","line1":"12 Analytical Row","city":"London","postal_code":"N1 9GU","country":"GB"},"billing_address":"same_as_shipping","customer_note":null,"staff_note":null,"tags":[],"metadata":{},"channel":"web"}}'''


def named(*values):
    return {str(n): value for n, value in enumerate(values, start=1)}


def customer(customers):
    return uuid.UUID(f"00000000-0000-4000-8000-{random.randint(1, customers):012x}").bytes


def create(db, customers, n):
    order_id = uuid.uuid4().bytes
    now = time.time_ns() // 1000
    reference = f"sim_authorize_{n}"
    db.execute("BEGIN IMMEDIATE")
    db.execute(INSERT_ORDER, named(
        order_id, f"ORD-BASE-{n}-{now}", customer(customers), "USD", "82.48", "0", None, None,
        "0.0825", "6.80", "89.28", 2, "half_up", "per_order", "pending", None, 1, now, now,
        "unpaid", "0", "0", "0", None, "authorize", None, None, "0", "ada@example.com", "web",
        DOCUMENT))
    db.execute(REMEMBER, named(f"authorize:{n}:{now}", "authorize", order_id, "89.28",
                               "approved", reference, now)).fetchall()
    db.execute(RECORD_ATTEMPT, named(uuid.uuid4().bytes, order_id, "authorize", "89.28",
                                     "approved", reference, now))
    db.execute(UPDATE_ORDER, named("pending", None, 2, now, order_id, 1, "authorized", "89.28",
                                   "0", "0", reference, None, None, None, "ada@example.com",
                                   "web", DOCUMENT, "unfulfilled"))
    db.execute("COMMIT")


def get(db, orders, _n):
    order_id = uuid.UUID(f"01900000-0000-7000-8000-{random.randint(1, orders):012x}").bytes
    db.execute(GET_ORDER, named(order_id)).fetchall()


def list_page(db, customers, _n):
    end_of_time = 253_402_300_799_999_999
    db.execute(LIST_ORDERS, named(end_of_time, b"\xff" * 16, customer(customers), 21)).fetchall()


def main():
    path, workload, seconds, orders, customers = sys.argv[1:6]
    seconds, orders, customers = float(seconds), int(orders), int(customers)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    run, size = {"create": (create, customers), "get": (get, orders),
                 "list": (list_page, customers)}[workload]
    latencies = []
    started = time.perf_counter()
    n = 0
    while time.perf_counter() - started < seconds:
        before = time.perf_counter()
        run(db, size, n)
        latencies.append(time.perf_counter() - before)
        n += 1
    elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda fraction: latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000
    print(json.dumps({"rps": n / elapsed, "p50_ms": pick(0.5), "p99_ms": pick(0.99)}))


if __name__ == "__main__":
    main()

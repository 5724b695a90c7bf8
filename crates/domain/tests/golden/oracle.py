#!/usr/bin/env python3
"""Independent oracle for pricing.json: the crate docs' rounding rule, rewritten with Python's
decimal module, so the golden figures do not come from the Rust code they check.

Run `python3 oracle.py` to print each case's figures next to the ones in pricing.json; it exits
non-zero if any differ. It only reads pricing.json."""
import json
import sys
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

MINOR_UNITS = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3, "BHD": 3, "GBP": 2, "CLF": 4}
MAX_AMOUNT = Decimal(10) ** 15


def rnd(x, units, mode):
    return x.quantize(Decimal(1).scaleb(-units), rounding=ROUND_HALF_UP if mode == "half_up" else ROUND_HALF_EVEN)


def price(case):
    order = case["order"]
    units = MINOR_UNITS[order["currency"]]
    policy = case.get("rounding", {"minor_units": units, "mode": "half_up", "tax": "per_order"})
    u, mode = policy["minor_units"], policy["mode"]
    lines = [Decimal(str(i["unit_price"])) * i["quantity"] for i in order["items"]]
    lines = [rnd(x, u, mode) for x in lines]
    subtotal = sum(lines, Decimal(0))
    if any(x > MAX_AMOUNT for x in lines) or subtotal > MAX_AMOUNT:
        return "overflow"
    d = order.get("discount")
    if d is None:
        discount = Decimal(0)
    elif d["type"] == "fixed":
        discount = Decimal(str(d["amount"]))
    else:
        discount = subtotal * Decimal(str(d["percent"])) / 100
    discount = rnd(min(max(discount, Decimal(0)), subtotal), u, mode)
    # Shipping: never discounted; taxed lines join the tax base (per order) or are taxed
    # alone (per line).
    shipping_lines = [(Decimal(str(s["amount"])), s.get("taxed", False)) for s in order.get("shipping", [])]
    shipping = sum((a for a, _ in shipping_lines), Decimal(0))
    taxed = [a for a, t in shipping_lines if t]
    if shipping > MAX_AMOUNT:
        return "overflow"
    rate = Decimal(str(order["tax_rate"])) if order.get("tax_rate") is not None else None
    if rate is None:
        tax = Decimal(0)
    elif policy["tax"] == "per_order":
        tax = rnd((subtotal - discount + sum(taxed, Decimal(0))) * rate, u, mode)
    else:
        scale = Decimal(1).scaleb(u)
        w = [int(x * scale) for x in lines]
        total_w, dm = int(subtotal * scale), int(discount * scale)
        shares = [dm * x // total_w if total_w else 0 for x in w]
        rem = sorted(range(len(w)), key=lambda k: (-(dm * w[k] % total_w if total_w else 0), -w[k]))
        for k in rem[: dm - sum(shares)]:
            shares[k] += 1
        tax = sum((rnd((Decimal(x - s) / scale) * rate, u, mode) for x, s in zip(w, shares)), Decimal(0))
        tax += sum((rnd(a * rate, u, mode) for a in taxed), Decimal(0))
    fmt = lambda x: str(rnd(x, u, mode))
    return {
        "line_totals": [fmt(x) for x in lines],
        "subtotal": fmt(subtotal),
        "discount": fmt(discount),
        "shipping": fmt(shipping),
        "tax": fmt(tax),
        "total": fmt(subtotal - discount + shipping + tax),
    }


def main():
    cases = json.loads((Path(__file__).parent / "pricing.json").read_text())["cases"]
    bad = 0
    for case in cases:
        if "expected_error" in case and case["expected_error"]["kind"] == "validation":
            continue
        got = price(case)
        want = case.get("expected") or case["expected_error"]["kind"]
        status = "ok" if got == want else "DIFFERS"
        bad += status != "ok"
        print(f"{status:8} {case['name']}: {got}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

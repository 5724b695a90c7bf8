#!/usr/bin/env python3
"""Independent oracle for pricing.json and rates.json: the crate docs' rounding rule, and the tax
and shipping rates rule (ordo issue 17), rewritten with Python's decimal and fractions modules, so
the golden figures do not come from the Rust code they check.

Run `python3 oracle.py` to print each case's figures next to the ones in pricing.json,
rates.json and refunds.json; it exits non-zero if any differ. It only reads those three files.
rates.json's validation cases are checked too: the exact set of fields settle reports (every
error, as the Rust test compares them). refunds.json's cases (orders in rates.json's form, then
refunds by line) are priced as rates.json's, then each line's share of the total and every
refund step are worked out from the by-line rule written above `refunds` below."""
import json
import sys
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction
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


# ---- rates.json: tax rates and shipping methods (/work/rates-spec.md, ordo issue 17) ----
# Exact rationals (fractions.Fraction), so the inclusive quotient base × r / (1 + r) is rounded
# once, from its exact value.


class Invalid(Exception):
    """The validation errors of a case: every field the rule refuses, in the order Rust reports them."""

    def __init__(self, fields):
        super().__init__(fields)
        self.fields = fields


class Refused(Exception):
    """A case whose tax table or shipping methods the shop would not accept (Rust's test panics)."""


def ascii_lower(text):
    """Only A-Z lowered, as Rust's to_ascii_lowercase / eq_ignore_ascii_case (no casefold: "ß" stays)."""
    return "".join(chr(ord(ch) + 32) if "A" <= ch <= "Z" else ch for ch in text)


def rnd_exact(x, units, mode):
    """x (a Fraction) to `units` decimals, as an integer count of minor units."""
    scaled = x * 10**units
    n, rest = divmod(abs(scaled.numerator), scaled.denominator)  # |scaled| = n + rest/denominator
    twice = 2 * rest
    if twice > scaled.denominator or (twice == scaled.denominator and (mode == "half_up" or n % 2)):
        n += 1
    return -n if scaled < 0 else n


def fmt_units(m, units):
    whole, part = divmod(abs(m), 10**units)
    return ("-" if m < 0 else "") + (f"{whole}.{part:0{units}d}" if units else str(whole))


def fmt_rate(r):
    return format(Decimal(r.numerator) / Decimal(r.denominator), "f").rstrip("0").rstrip(".") or "0"


def q(x):
    """An exact rational from a JSON amount or rate (a string, or a number read as written)."""
    return x if isinstance(x, Fraction) else Fraction(str(x))


def tax_table(taxes):
    """The table's rates; refuses two with the same country, class and region (trimmed, ASCII
    case-insensitive), as the shop does."""
    seen = set()
    for i, r in enumerate(taxes["rates"]):
        region = r.get("region")
        key = (r["country"], ascii_lower(region.strip()) if region is not None else None, r.get("tax_class") or "standard")
        if key in seen:
            raise Refused(f"taxes: rates[{i}] duplicates an earlier rate")
        seen.add(key)
    return taxes["rates"]


def price_with_rates(case):
    """The figures of a rates.json case; raises Invalid naming every field the rule refuses."""
    return priced_with_rates(case)[0]


def priced_with_rates(case):
    """price_with_rates' figures, and what they were worked out from (for refunds.json): each
    item line's quantity, total, discount share and rate, each shipping line's amount and rate,
    in minor units; the policy; whether prices include tax."""
    order, c = case["order"], case["order"]["currency"]
    policy = case.get("rounding", {"minor_units": MINOR_UNITS[c], "mode": "half_up", "tax": "per_order"})
    u, mode = policy["minor_units"], policy["mode"]
    rnd = lambda x: rnd_exact(q(x), u, mode)  # → minor units
    book = {p["sku"]: p for p in case.get("book", [])}
    errors = []  # the fields, in the order settle reports them
    # 1. Lines: (total in minor units, tax class, the field an error names, whether it ships).
    lines = []
    for i, item in enumerate(order["items"]):
        if "unit_price" in item:
            unit, cls, field = item["unit_price"], "standard", f"items[{i}].unit_price"
            # A custom line ships unless its snapshot says otherwise (no snapshot: it ships).
            ships = (item.get("snapshot") or {}).get("requires_shipping")
            ships = True if ships is None else ships
        else:
            product = book[item["snapshot"]["sku"]]
            unit, cls, field = product["prices"][c], product.get("tax_class") or "standard", f"items[{i}].sku"
            ships = product.get("requires_shipping", True)
        lines.append((rnd(q(unit) * item["quantity"]), cls, field, ships))
    ships_goods = any(ships for _, _, _, ships in lines)
    # 2. Subtotal and discount.
    subtotal = sum(t for t, _, _, _ in lines)
    d = order.get("discount")
    if d is None:
        discount = 0
    elif d["type"] == "fixed":
        discount = rnd(d["amount"])
    else:
        discount = rnd(Fraction(subtotal, 10**u) * q(d["percent"]) / 100)
    discount = min(max(discount, 0), subtotal)
    # 4. Addresses. The shipping address alone decides where a method ships; the tax destination
    # is the shipping address, else a billing address given as an address ("same_as_shipping" is none).
    details = order.get("details", {})
    ship_to = details.get("shipping_address")
    billing = details.get("billing_address")
    dest = ship_to or (billing if isinstance(billing, dict) else None)
    # 3. Shipping: (amount in minor units, taxed, the field a missing standard rate names).
    methods = case.get("shipping_methods", [])
    missing_address = False  # reported by the method, so the tax step does not repeat it
    shipping = [(rnd(s["amount"]), s.get("taxed", False), f"shipping[{i}].taxed")
                for i, s in enumerate(order.get("shipping", []))]
    if "shipping_method" in order:
        method = next((m for m in methods if m["code"] == order["shipping_method"]), None)
        countries = method.get("countries") if method else None
        if method is None:
            errors.append("shipping_method")  # unknown
        elif ship_to is None and (ships_goods or countries is not None):
            errors.append("shipping_address")  # goods to ship, or countries to check, and nowhere to
            missing_address = True
        elif ship_to is not None and countries is not None and ship_to["country"] not in countries:
            errors.append("shipping_method")  # not to this country
        elif c not in method["prices"]:
            errors.append("shipping_method")  # not in this currency
        else:
            amount = rnd(method["prices"][c])
            free = method.get("free_above", {}).get(c)
            if free is not None and subtotal - discount >= rnd(free):
                amount = 0
            shipping.append((amount, method.get("taxed", False), "shipping_method"))
    elif not shipping and methods and ships_goods:
        errors.append("shipping_method")  # the shop ships by method: one is required
    # 5. Each line's rate.
    taxes = case.get("taxes", {"prices_include_tax": False, "rates": []})
    table = tax_table(taxes)
    rate_of = lambda cls, field: None
    if order.get("tax_rate") is not None:
        rate_of = lambda cls, field: q(order["tax_rate"])
    elif table and dest is None:
        if not missing_address:
            errors.append("shipping_address")
    elif table:
        def rate_of(cls, field):
            region = dest.get("region")
            want = ascii_lower(region.strip()) if region is not None else None
            for looking in ([want, None] if want is not None else [None]):
                for r in table:
                    have = r.get("region")
                    have = ascii_lower(have.strip()) if have is not None else None
                    if r["country"] == dest["country"] and (r.get("tax_class") or "standard") == cls and have == looking:
                        return q(r["rate"])
            errors.append(field)
            return None
    rates = [rate_of(cls, field) for _, cls, field, _ in lines]
    ship_rates = [rate_of("standard", field) if taxed else None for _, taxed, field in shipping]
    if errors:
        raise Invalid(errors)
    # 6. Bases: the discount spread over the lines by largest remainder (ties: larger line, then
    # earlier line); shipping is never discounted.
    shares = [discount * t // subtotal if subtotal else 0 for t, _, _, _ in lines]
    by_remainder = sorted(range(len(lines)), key=lambda k: (-(discount * lines[k][0] % subtotal if subtotal else 0), -lines[k][0], k))
    for k in by_remainder[: discount - sum(shares)]:
        shares[k] += 1
    bases = [(t - s, r) for (t, _, _, _), s, r in zip(lines, shares, rates)]
    bases += [(a, r) for (a, _, _), r in zip(shipping, ship_rates)]
    # 7. Tax, by rate group.
    groups = {}
    for b, r in bases:
        if r is not None:
            groups.setdefault(r, []).append(Fraction(b, 10**u))
    factor = (lambda r: r / (1 + r)) if taxes["prices_include_tax"] else (lambda r: r)
    tax_lines, tax = [], 0
    for r in sorted(groups):
        if policy["tax"] == "per_order":
            t = rnd(sum(groups[r]) * factor(r))
        else:
            t = sum(rnd(b * factor(r)) for b in groups[r])
        tax += t
        tax_lines.append({"rate": fmt_rate(r), "base": fmt_units(rnd(sum(groups[r])), u), "tax": fmt_units(t, u)})
    ship_total = sum(a for a, _, _ in shipping)
    # 8. Total.
    total = subtotal - discount + ship_total + (0 if taxes["prices_include_tax"] else tax)
    f = lambda m: fmt_units(m, u)
    figures = {
        "line_totals": [f(t) for t, _, _, _ in lines],
        "subtotal": f(subtotal),
        "discount": f(discount),
        "shipping": f(ship_total),
        "tax": f(tax),
        "total": f(total),
        "tax_lines": tax_lines,
    }
    workings = {
        "policy": {"minor_units": u, "mode": mode, "tax": policy["tax"]},
        "included": taxes["prices_include_tax"],
        "items": [(item["quantity"], t, s, r) for item, (t, _, _, _), s, r in zip(order["items"], lines, shares, rates)],
        "shipping": [(a, r) for (a, _, _), r in zip(shipping, ship_rates)],
        "total": total,
    }
    return figures, workings


def check_rates(cases):
    """Prints each case's figures (or error fields) next to rates.json's; returns how many differ.
    A validation case must name exactly the set of fields settle reports (as the Rust test
    compares them: every field, no more, order aside)."""
    bad = 0
    for case in cases:
        want = case.get("expected") or case["expected_error"]
        try:
            got = price_with_rates(case)
            same = got == want
        except Invalid as error:
            got = {"kind": "validation", "fields": error.fields}
            same = want.get("kind") == "validation" and set(got["fields"]) == set(want["fields"])
        except Refused as error:
            got, same = f"refused: {error}", False
        status = "ok" if same else "DIFFERS"
        bad += status != "ok"
        print(f"{status:8} rates.json {case['name']}: {got}")
    return bad


# ---- refunds.json: refunds (and captures) by line, exact to the minor unit ----
# Each line's share of the total: net = its total less its discount share (shipping: its
# amount); tax = its own rounded tax (per_line) or its rate's tax spread over the rate's lines
# by base, largest remainder (per_order); gross = net + tax, or net when prices include tax.
# q units after r already refunded of a line of quantity Q: C(X, r + q) − C(X, r) for its net
# and its tax, C(X, k) = X·k/Q rounded once to a whole minor unit.


def spread(amount, weights):
    """amount (whole minor units) split over weights by largest remainder: each gets
    floor(amount·w/Σw), then one more unit each to the largest remainders, ties to the larger
    weight, then the earlier one. Σ weights 0: nothing to anyone."""
    total = sum(weights)
    if total == 0:
        return [0 for _ in weights]
    parts = [Fraction(amount * w, total) for w in weights]
    given = [p.numerator // p.denominator for p in parts]
    order = sorted(range(len(weights)), key=lambda k: (-(parts[k] - given[k]), -weights[k], k))
    for k in order[: amount - sum(given)]:
        given[k] += 1
    return given


def refund_shares(case):
    """(figures, policy, included, shares): shares maps ("item", i) / ("shipping", j) to
    (quantity, net, tax, rate) in minor units. Checks Σ gross = total and Σ tax per rate = the
    rate's tax line, raising AssertionError otherwise."""
    figures, w = priced_with_rates(case)
    u, mode = w["policy"]["minor_units"], w["policy"]["mode"]
    factor = (lambda r: r / (1 + r)) if w["included"] else (lambda r: r)
    members = [(("item", i), qty, total - off, r) for i, (qty, total, off, r) in enumerate(w["items"])]
    members += [(("shipping", j), 1, amount, r) for j, (amount, r) in enumerate(w["shipping"])]
    taxes = {}
    if w["policy"]["tax"] == "per_line":
        for part, _, net, r in members:
            taxes[part] = 0 if r is None else rnd_exact(Fraction(net, 10**u) * factor(r), u, mode)
    else:
        for part, _, _, r in members:
            if r is None:
                taxes[part] = 0
        for r in sorted({r for _, _, _, r in members if r is not None}):
            group = [(part, net) for part, _, net, rate in members if rate == r]
            whole = rnd_exact(Fraction(sum(net for _, net in group), 10**u) * factor(r), u, mode)
            for (part, _), t in zip(group, spread(whole, [net for _, net in group])):
                taxes[part] = t
    shares = {part: (qty, net, taxes[part], r) for part, qty, net, r in members}
    gross = sum(net + (0 if w["included"] else t) for _, net, t, _ in shares.values())
    assert gross == w["total"], f"{case['name']}: Σ gross {gross} ≠ total {w['total']}"
    for line in figures["tax_lines"]:
        got = sum(t for _, _, t, r in shares.values() if r is not None and fmt_rate(r) == line["rate"])
        assert fmt_units(got, u) == line["tax"], f"{case['name']}: Σ tax at {line['rate']} is {got}, not {line['tax']}"
    return figures, (u, mode), w["included"], shares


def cumulative(x, k, q, mode):
    """C(x, k): the first k of q units' part of x minor units, rounded once to a whole unit."""
    return rnd_exact(Fraction(x * k, q), 0, mode)


def refunds(case):
    """What refunds.json expects of a case, worked out from the rule."""
    figures, (u, mode), included, shares = refund_shares(case)
    f = lambda m: fmt_units(m, u)
    key = lambda part: (part["kind"], part["index"])
    wire = lambda part: {"kind": part[0], "index": part[1]}
    got = {
        "total": figures["total"],
        "shares": [
            {"part": wire(part), "quantity": qty, "net": f(net), "tax": f(t), "amount": f(net if included else net + t)}
            for part, (qty, net, t, _) in shares.items()
        ],
        "steps": [],
    }
    before = {}
    for step in case["steps"]:
        part, q = key(step["part"]), step["quantity"]
        qty, net, t, _ = shares[part]
        r = before.get(part, 0)
        if q < 1 or r + q > qty:
            raise AssertionError(f"{case['name']}: a step of {q} after {r} of {qty} units of {part}")
        n = cumulative(net, r + q, qty, mode) - cumulative(net, r, qty, mode)
        x = cumulative(t, r + q, qty, mode) - cumulative(t, r, qty, mode)
        before[part] = r + q
        got["steps"].append({"part": step["part"], "quantity": q, "net": f(n), "tax": f(x), "amount": f(n if included else n + x)})
    return got


def check_refunds(cases):
    """Prints each refunds.json case's figures next to the file's; returns how many differ."""
    bad = 0
    for case in cases:
        want = {
            "total": case["expected"]["total"],
            "shares": case["expected"]["shares"],
            "steps": [{"part": s["part"], "quantity": s["quantity"], **s["expected"]} for s in case["steps"]],
        }
        try:
            got = refunds(case)
            same = got == want
        except (AssertionError, Invalid, Refused, KeyError) as error:
            got, same = f"fails: {error!r}", False
        status = "ok" if same else "DIFFERS"
        bad += status != "ok"
        print(f"{status:8} refunds.json {case['name']}: {got}")
    return bad


def main():
    here = Path(__file__).parent
    cases = json.loads((here / "pricing.json").read_text())["cases"]
    bad = 0
    for case in cases:
        if "expected_error" in case and case["expected_error"]["kind"] == "validation":
            continue
        got = price(case)
        want = case.get("expected") or case["expected_error"]["kind"]
        status = "ok" if got == want else "DIFFERS"
        bad += status != "ok"
        print(f"{status:8} {case['name']}: {got}")
    rates_cases = json.loads((here / "rates.json").read_text())["cases"]
    bad += check_rates(rates_cases)
    refund_cases = json.loads((here / "refunds.json").read_text())["cases"]
    bad += check_refunds(refund_cases)
    checked = sum(1 for c in cases if c.get("expected_error", {}).get("kind") != "validation") + len(rates_cases)
    checked += len(refund_cases)
    print(f"{checked - bad} of {checked} cases ok, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

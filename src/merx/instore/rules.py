"""Pure in-store rules: the pickup verification code, name checks at the counter, what a
scanned or typed code is, what a customer lookup is looking for, and the return window."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata

CONDITIONS = ("as_new", "opened", "damaged")
REFUND_METHODS = ("original_payment", "cash", "none")
PAYMENT_MODES = ("counter", "link")


def pickup_code(secret: bytes, order_number: str) -> str:
    """The six-digit code a customer shows at the counter. Derived (HMAC under the shop's
    secret), not stored: every pickup order has one, whatever channel placed it, and a leaked
    database does not leak codes."""
    digest = hmac.new(secret, f"merx.pickup:{order_number}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


def code_matches(expected: str, given: str | None) -> bool:
    cleaned = re.sub(r"\s+", "", given or "")
    return bool(cleaned) and hmac.compare_digest(expected.encode(), cleaned.encode())


def _fold(text: str | None) -> str:
    """Lower case without accents or punctuation ("Łukasz Wójcik" ~ "lukasz wojcik")."""
    text = (text or "").replace("ł", "l").replace("Ł", "L")
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", letters.lower()).split())


def name_matches(first_name: str | None, last_name: str | None, given: str | None) -> bool:
    """The customer says their name: the last name, or first and last, must match the
    order's customer (case, accents and word order do not matter). A first name alone is
    not enough to hand goods over."""
    said = _fold(given).split()
    last = _fold(last_name).split()
    if not said or not last:
        return False
    first = _fold(first_name).split()
    if said == last:
        return True
    return sorted(said) == sorted(first + last)


def ean_valid(code: str) -> bool:
    """GTIN-8/12/13/14 with a correct check digit."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in code]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def code_kind(code: str) -> str:
    """'ean' for a valid GTIN, 'bad_ean' for digits that fail the check digit, else 'sku'."""
    code = code.strip()
    if code.isdigit() and len(code) in (8, 12, 13, 14):
        return "ean" if ean_valid(code) else "bad_ean"
    return "sku"


def lookup_kind(query: str) -> str:
    """What a counter lookup is: 'email', 'phone' (digits, at least 7), else 'text' (a
    name, or a loyalty card number with letters)."""
    q = query.strip()
    if "@" in q:
        return "email"
    if re.fullmatch(r"[+\d\s().-]+", q) and sum(c.isdigit() for c in q) >= 7:
        return "phone"
    return "text"


def within_return_window(placed_at: dt.datetime, now: dt.datetime, days: int) -> bool:
    if placed_at.tzinfo is None:
        placed_at = placed_at.replace(tzinfo=dt.timezone.utc)
    return now - placed_at <= dt.timedelta(days=days)


def delivery_days(kind: str, *, here: bool, warehouse_days: int, store_days: int) -> int:
    """When an item could be with the customer: 0 when it is on this store's shelf."""
    if here:
        return 0
    return warehouse_days if kind == "warehouse" else store_days

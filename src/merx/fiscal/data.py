"""The VAT rates a new shop starts with (`merx fiscal seed-rates`, the demo, tests): PL, RO, DE and,
outside the EU, GB. Rows are data: a rate change is a new row with its start date, and the
old row gets an end date (RO's rise of 1 August 2025, DE's temporary cut of 2020)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

D = dt.date
RATES: list[tuple[str, str, str, dt.date, dt.date | None, str]] = [
    # country, class, rate %, valid from, valid to (inclusive), note
    ("PL", "standard", "23", D(2011, 1, 1), None, "Ustawa o VAT art. 146a"),
    ("PL", "reduced", "8", D(2011, 1, 1), None, "food services, some foods, books on paper: 5"),
    ("PL", "zero", "0", D(2004, 5, 1), None, "exports, intra-EU B2B supplies"),
    ("RO", "standard", "19", D(2017, 1, 1), D(2025, 7, 31), "Codul fiscal art. 291"),
    ("RO", "standard", "21", D(2025, 8, 1), None, "Legea 141/2025"),
    ("RO", "reduced", "9", D(2017, 1, 1), D(2025, 7, 31), None),
    ("RO", "reduced", "11", D(2025, 8, 1), None, "Legea 141/2025"),
    ("RO", "zero", "0", D(2007, 1, 1), None, None),
    ("DE", "standard", "19", D(2007, 1, 1), D(2020, 6, 30), "UStG §12"),
    ("DE", "standard", "16", D(2020, 7, 1), D(2020, 12, 31), "temporary cut (Corona-Steuerhilfegesetz)"),
    ("DE", "standard", "19", D(2021, 1, 1), None, "UStG §12"),
    ("DE", "reduced", "7", D(2007, 1, 1), D(2020, 6, 30), None),
    ("DE", "reduced", "5", D(2020, 7, 1), D(2020, 12, 31), "temporary cut"),
    ("DE", "reduced", "7", D(2021, 1, 1), None, None),
    ("DE", "zero", "0", D(2007, 1, 1), None, None),
    ("GB", "standard", "20", D(2011, 1, 4), None, "non-EU: UK VAT"),
    ("GB", "reduced", "5", D(2011, 1, 4), None, None),
    ("GB", "zero", "0", D(1973, 4, 1), None, "books, children's clothes"),
]

# Consumer channels show prices with tax in them; B2B prices are net.
CHANNEL_MODES = {"web": True, "store": True, "marketplace": True, "b2b": False}


def rate_rows() -> list[dict]:
    return [{"country": c, "tax_class": k, "rate": Decimal(r), "valid_from": f, "valid_to": t, "note": n}
            for c, k, r, f, t, n in RATES]

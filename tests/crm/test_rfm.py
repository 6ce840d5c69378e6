"""RFM: the pure scoring function, the segment map, and the done-when equivalence on the real
Online Retail II data against an independent pandas computation."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest

from merx.analytics.public import CustomerPurchaseSummary as Summary
from merx.crm.rfm import SEGMENTS, compute_rfm, quintile_scores, segment_for, segment_map

UTC = dt.timezone.utc


def _s(cid: int, n: int, last: str, revenue: str, currency: str = "EUR") -> Summary:
    at = dt.datetime.fromisoformat(last).replace(tzinfo=UTC)
    return Summary(cid, n, at, at, Decimal(revenue), currency)


def test_quintiles_give_ties_the_lowest_rank_and_never_split_them():
    assert quintile_scores([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # Seven customers with one order: all get the score where their block starts.
    assert quintile_scores([1, 1, 1, 1, 1, 1, 1, 2, 5, 9]) == [1, 1, 1, 1, 1, 1, 1, 4, 5, 5]
    assert quintile_scores([7]) == [1]
    assert quintile_scores([3, 3, 3]) == [1, 1, 1]


def test_reference_date_recency_and_segments():
    rows = [_s(1, 9, "2024-03-30T10:00:00", "900"), _s(2, 1, "2024-03-31T23:00:00", "1"),
            _s(3, 6, "2023-01-01T00:00:00", "800"), _s(4, 1, "2023-02-01T00:00:00", "5"),
            _s(5, 3, "2024-02-01T00:00:00", "100")]
    ref, results = compute_rfm(rows)
    assert ref == dt.date(2024, 4, 1)  # the day after the latest order
    by_id = {r.customer_id: r for r in results}
    assert by_id[2].recency_days == 1 and by_id[1].recency_days == 2
    assert (by_id[1].r, by_id[1].f, by_id[1].m, by_id[1].segment) == (4, 5, 5, "Champions")
    assert (by_id[2].r, by_id[2].f, by_id[2].segment) == (5, 1, "New")
    assert (by_id[3].r, by_id[3].f, by_id[3].m, by_id[3].segment) == (1, 4, 4, "At risk")
    assert (by_id[4].r, by_id[4].f, by_id[4].m, by_id[4].segment) == (2, 1, 2, "Hibernating")
    # A stated reference date is used as given.
    ref, results = compute_rfm(rows, dt.date(2024, 6, 1))
    assert ref == dt.date(2024, 6, 1) and {r.customer_id: r.recency_days for r in results}[2] == 62


def test_currencies_are_scored_separately():
    rows = [_s(1, 1, "2024-01-01T00:00:00", "10", "EUR"), _s(2, 1, "2024-01-01T00:00:00", "1000", "PLN")]
    _, results = compute_rfm(rows)
    assert [(r.customer_id, r.m) for r in results] == [(1, 1), (2, 1)]


def test_the_map_names_all_eleven_segments():
    assert {cell["segment"] for cell in segment_map()} == set(SEGMENTS) and len(SEGMENTS) == 11
    assert segment_for(5, 5, 5) == "Champions" and segment_for(1, 1, 1) == "Lost"
    assert segment_for(1, 5, 5) == "Can't lose" and segment_for(3, 3, 3) == "Need attention"
    assert segment_for(3, 1, 2) == "About to sleep"  # FM = ceil(1.5) = 2


# Written out again here, independently of merx.crm.rfm, from the documented table.
INDEPENDENT_GRID = {
    5: ["New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"],
    4: ["Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Champions"],
    3: ["About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"],
    2: ["Hibernating", "Hibernating", "At risk", "At risk", "Can't lose"],
    1: ["Lost", "Lost", "At risk", "At risk", "Can't lose"],
}


# The documented Online Retail code table (GET /api/v1/analytics/definitions), written out again.
NON_PRODUCT = {"POST": "shipping", "DOT": "shipping", "C2": "shipping", "C3": "shipping", "AMAZONFEE": "fee",
               "BANK CHARGES": "fee", "CRUK": "fee", "D": "discount", "M": "adjustment", "m": "adjustment",
               "ADJUST": "adjustment", "ADJUST2": "adjustment", "B": "adjustment", "S": "adjustment",
               "PADS": "adjustment", "TEST001": "adjustment", "TEST002": "adjustment"}


def _pandas_rfm(path: Path):  # type: ignore[no-untyped-def]
    """RFM straight from the raw file with pandas, under the documented definitions: an order
    is a non-"C", non-"A" invoice with a priced product line, unless a "C" invoice of the same
    customer (at or after it, paired in time order) negates exactly its product lines;
    monetary is the customer's net sales (product lines less returns, plus discounts: no
    postage, fees or adjustments), each line rounded half-up to pence; quintiles from
    rank(method="min")."""
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(path, columns=["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID"])
    df = df[df["Customer ID"].notna()].copy()
    df["customer"] = df["Customer ID"].astype("int64")
    tenths = df["Quantity"].astype("int64") * (df["Price"] * 1000).round().astype("int64")
    df["pence"] = np.sign(tenths) * ((tenths.abs() + 5) // 10)
    df["at"] = pd.to_datetime(df["InvoiceDate"])
    klass = df["StockCode"].map(NON_PRODUCT)
    df["klass"] = klass.where(klass.notna(), np.where((df["Price"] == 0) & (df["Quantity"] < 0), "writeoff", "product"))
    not_a = ~df["Invoice"].str.startswith("A")
    product = df[(df["klass"] == "product") & not_a]
    sales = product[~product["Invoice"].str.startswith("C")]
    priced = sales[sales["pence"] > 0].groupby(["customer", "Invoice"])["at"].min().reset_index()

    def signature(frame: pd.DataFrame, sign: int) -> pd.Series:
        f = frame.assign(q=frame["Quantity"] * sign, p=frame["pence"] * sign).sort_values(["StockCode", "q", "p"])
        return (f["StockCode"] + ":" + f["q"].astype(str) + ":" + f["p"].astype(str)).groupby(f["Invoice"]).agg("|".join)

    priced = priced.join(signature(sales[sales["Invoice"].isin(priced["Invoice"])], 1).rename("sig"), on="Invoice")
    cancels = product[product["Invoice"].str.startswith("C")]
    c = cancels.groupby(["customer", "Invoice"])["at"].min().reset_index()
    c = c.join(signature(cancels, -1).rename("sig"), on="Invoice")
    priced = priced.sort_values(["at", "Invoice"])
    c = c.sort_values(["at", "Invoice"])
    priced["k"] = priced.groupby(["customer", "sig"]).cumcount()
    c["k"] = c.groupby(["customer", "sig"]).cumcount()
    paired = priced.merge(c, on=["customer", "sig", "k"], suffixes=("", "_c"))
    cancelled = set(paired[paired["at_c"] >= paired["at"]]["Invoice"])
    orders = priced[~priced["Invoice"].isin(cancelled)]
    per = orders.groupby("customer").agg(frequency=("Invoice", "count"), last=("at", "max"))
    net = df[df["klass"].isin(["product", "discount"]) & not_a]
    per["revenue_pence"] = net.groupby("customer")["pence"].sum().reindex(per.index, fill_value=0)
    reference = (per["last"].max().normalize() + pd.Timedelta(days=1)).date()
    per["recency"] = (pd.Timestamp(reference) - per["last"].dt.normalize()).dt.days
    n = len(per)

    def score(values: pd.Series) -> pd.Series:
        return ((values.rank(method="min").astype("int64") - 1) * 5 // n) + 1

    per["r"] = score(-per["recency"])
    per["f"] = score(per["frequency"])
    per["m"] = score(per["revenue_pence"])
    per["segment"] = [INDEPENDENT_GRID[r][(f + m + 1) // 2 - 1] for r, f, m in zip(per["r"], per["f"], per["m"])]
    return reference, per


@pytest.mark.slow
def test_rfm_on_online_retail_ii_equals_an_independent_pandas_computation(tmp_path):
    """Done-when: the whole path (import command's service -> analytics summary -> CRM RFM)
    on the real data set, customer by customer."""
    path = Path(os.environ.get("MERX_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) \
        / "online_retail_ii_2009_2010.parquet"
    if not path.exists():
        if os.environ.get("MERX_REQUIRE_SERVICES") == "1":
            pytest.fail(f"shared data set {path} is missing", pytrace=False)
        pytest.skip(f"shared data set {path} is missing")
    pytest.importorskip("pandas")
    from merx.core.settings import Settings
    from merx.core.uow import UnitOfWork
    from merx.crm import rfm
    from merx.crm.models import RfmScore
    from merx.customers import service as customers
    from merx.imports.online_retail import import_online_retail

    from merx.core import migrate
    from merx.core.db import Database

    # Its own database file: the analytics reader opens it with a second SQLite library (ADBC).
    db = Database(f"sqlite:///{tmp_path / 'online-retail.db'}")
    migrate.upgrade(db)
    db.settings = Settings(data_dir=tmp_path / "data")
    try:
        with UnitOfWork(db) as uow:
            import_online_retail(uow, path)
        with UnitOfWork(db) as uow:
            run = rfm.run_rfm(uow)
        assert run.source == "analytics"
        reference, expected = _pandas_rfm(path)
        assert run.reference_date == reference == dt.date(2010, 12, 10)
        with UnitOfWork(db) as uow:
            ids = customers.ids_by_external_refs(uow, [f"online-retail:{c}" for c in expected.index])
            scores = {s.customer_id: (s.recency_days, s.frequency, s.monetary, s.r, s.f, s.m, s.segment)
                      for s in uow.session.query(RfmScore)}
    finally:
        db.dispose()
    assert len(scores) == len(expected) == run.customers
    mismatches = []
    for customer, row in expected.iterrows():
        got = scores.get(ids[f"online-retail:{customer}"])
        want = (int(row.recency), int(row.frequency), Decimal(int(row.revenue_pence)).scaleb(-2), int(row.r), int(row.f),
                int(row.m), row.segment)
        have = got
        if have != want:
            mismatches.append((customer, want, have))
    assert mismatches == [], f"{len(mismatches)} customers differ, e.g. {mismatches[:3]}"
    assert sum(run.segments.values()) == len(expected)

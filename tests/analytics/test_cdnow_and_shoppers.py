"""Repeat purchases and retention on CDNOW; funnel conversion by visitor type and month on the
UCI Online Shoppers sessions. Each figure is compared with an independent pandas computation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from merx.analytics import service
from merx.analytics.facts import SalesLineIn
from merx.analytics.store import write_events_parquet
from merx.core.uow import UnitOfWork


def _cdnow(path) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    df = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    df["at"] = pd.to_datetime(df["date"], format="%Y%m%d")
    return df


@pytest.mark.backends("sqlite", "postgresql")
def test_cdnow_repeat_purchases_and_retention_match_pandas(db, client, make_key, data_file):
    df = _cdnow(data_file("cdnow_master.txt"))
    assert len(df) == 69_659
    lines = [SalesLineIn(source="cdnow", line_key=str(i), order_ref=f"{c}:{d}:{i}", customer_id=int(c),
                         quantity=int(n), unit_price=Decimal(str(v)), line_total=Decimal(str(v)), currency="USD",
                         occurred_at=dt.datetime.strptime(d, "%Y%m%d").replace(tzinfo=dt.timezone.utc))
             for i, (c, d, n, v) in enumerate(zip(df["customer_id"], df["date"], df["number_of_cds"], df["dollar_value"]))]
    with UnitOfWork(db) as uow:
        assert service.record_sales_lines(uow, lines) == 69_659
    with UnitOfWork(db) as uow:
        assert service.record_sales_lines(uow, lines[:1000]) == 0  # idempotent

    r = client.get("/api/v1/analytics/cohorts", headers=make_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["currency"] == "USD"

    df["customer"] = df["customer_id"].astype(int)
    # an order needs a priced line (GET /analytics/definitions): CDNOW's $0 rows are not purchases
    priced = df[df["dollar_value"] > 0]
    assert df["customer"].nunique() == 23_570 and priced["customer"].nunique() == 23_502
    per_customer = priced.groupby("customer").size()
    first = priced.groupby("customer")["at"].min()
    cohort = first.dt.to_period("M")
    assert report["customers"] == 23_502
    assert report["repeat_purchase_rate"] == pytest.approx((per_customer >= 2).mean(), abs=1e-6)
    visits = priced.join(cohort.rename("cohort"), on="customer")
    visits["k"] = (visits["at"].dt.year * 12 + visits["at"].dt.month) - (
        visits["cohort"].dt.start_time.dt.year * 12 + visits["cohort"].dt.start_time.dt.month)
    active = visits.groupby(["cohort", "k"])["customer"].nunique()
    sizes = cohort.value_counts()
    # CDNOW's customers all joined in 1997-01..03; one whose early rows were all $0 first paid in 1997-11
    assert [c["cohort"] for c in report["cohorts"]] == [str(p) for p in sorted(sizes.index)]
    assert [c["cohort"] for c in report["cohorts"]][:3] == ["1997-01", "1997-02", "1997-03"]
    for c in report["cohorts"]:
        p = pd.Period(c["cohort"], "M")
        assert c["customers"] == sizes[p]
        assert c["repeat_rate"] == pytest.approx((per_customer[cohort == p] >= 2).mean(), abs=1e-6)
        assert len(c["retention"]) == (1998 * 12 + 6) - (p.year * 12 + p.month) + 1  # through 1998-06
        for point in c["retention"]:
            assert point["retention"] == pytest.approx(active.get((p, point["month"]), 0) / sizes[p], abs=1e-6)
        revenue = visits[visits["cohort"] == p]["dollar_value"].map(lambda v: Decimal(str(v))).sum()
        assert Decimal(c["revenue"]) == revenue

    # the CRM's input: one summary per customer, orders = purchase rows here
    with UnitOfWork(db, readonly=True) as uow:
        summary = {s.customer_id: s for s in service.customer_purchase_summary(uow)}
    assert len(summary) == 23_502
    assert summary[1].orders_count == per_customer[1]
    assert summary[1].revenue == df[df["customer"] == 1]["dollar_value"].map(lambda v: Decimal(str(v))).sum()


MONTHS = {"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "June": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10,
          "Nov": 11, "Dec": 12}


def _shopper_events(df: pd.DataFrame, max_views: int = 5) -> list[dict]:
    """Each real session as an event stream: a page view, its product views (up to
    `max_views`), and for a session that bought: add to cart, checkout, purchase."""
    events = []
    for i, row in enumerate(df.itertuples(index=False)):
        start = dt.datetime(2017, MONTHS[row.Month], 1 + i % 28, 10, 0, 0) + dt.timedelta(seconds=i)
        person = {"anonymous_id": f"session-{i}", "segment": row.VisitorType, "channel": "web",
                  "source": f"traffic-{row.TrafficType}"}
        events.append({**person, "event_id": f"{i}-0", "type": "page_view", "occurred_at": start})
        for v in range(min(int(row.ProductRelated), max_views)):
            events.append({**person, "event_id": f"{i}-v{v}", "type": "product_view",
                           "occurred_at": start + dt.timedelta(seconds=10 * (v + 1))})
        if row.Revenue:
            for n, kind in enumerate(("add_to_cart", "checkout_started", "purchase")):
                events.append({**person, "event_id": f"{i}-p{n}", "type": kind,
                               "occurred_at": start + dt.timedelta(minutes=5 + n)})
    return events


def test_funnel_conversion_by_visitor_type_and_month_matches_pandas(client, make_key, settings, data_file):
    df = pd.read_csv(data_file("online_shoppers_intention.csv"), sep=";")
    assert len(df) == 12_330
    write_events_parquet(_shopper_events(df), settings.data_dir / "events")
    headers = make_key("staff")

    for min_views in (1, 3):
        r = client.get("/api/v1/analytics/funnel", params={"by": "segment", "min_product_views": min_views},
                       headers=headers)
        assert r.status_code == 200, r.text
        report = r.json()
        interested = df["ProductRelated"] >= min_views
        bought = interested & df["Revenue"]
        stages = {s["stage"]: s for s in report["stages"]}
        assert [s["stage"] for s in report["stages"]] == ["awareness", "interest", "decision", "purchase", "retention"]
        assert stages["awareness"]["count"] == 12_330
        assert stages["interest"]["count"] == int(interested.sum())
        assert stages["purchase"]["count"] == int(bought.sum())
        assert stages["retention"]["count"] == 0  # a session buys once
        assert stages["interest"]["drop_off"] == pytest.approx(1 - bought.sum() / interested.sum(), abs=1e-6)
        assert stages["interest"]["median_time_to_next"] == 300 - 10 * 1 if min_views == 1 else 300 - 10 * 3
        by_type = df.assign(bought=bought, interested=interested).groupby("VisitorType")
        groups = {g["key"]: {s["stage"]: s for s in g["stages"]} for g in report["breakdown"]}
        assert set(groups) == set(df["VisitorType"].unique())
        for visitor_type, g in by_type:
            got = groups[visitor_type]
            assert got["awareness"]["count"] == len(g)
            assert got["purchase"]["overall_conversion"] == pytest.approx(g["bought"].mean(), abs=1e-6)
            assert got["interest"]["conversion"] == pytest.approx(g["interested"].mean(), abs=1e-6)

    r = client.get("/api/v1/analytics/funnel", params={"by": "month"}, headers=headers)
    groups = {g["key"][:7]: {s["stage"]: s for s in g["stages"]} for g in r.json()["breakdown"]}
    bought = (df["ProductRelated"] >= 1) & df["Revenue"]
    for month, g in df.assign(bought=bought).groupby("Month"):
        got = groups[f"2017-{MONTHS[month]:02d}"]
        assert got["awareness"]["count"] == len(g)
        assert got["purchase"]["overall_conversion"] == pytest.approx(g["bought"].mean(), abs=1e-6)

    # a narrower window counts only the sessions that started in it
    r = client.get("/api/v1/analytics/funnel", params={"from": "2017-11-01", "to": "2017-12-01"}, headers=headers)
    assert r.json()["stages"][0]["count"] == int((df["Month"] == "Nov").sum())

"""Analytics on the real Online Retail II data, imported with `merx import online-retail`,
each figure compared with an independent pandas computation written here."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from merx.analytics import service
from merx.core.uow import UnitOfWork

COST_RATIO = 0.6  # the documented default assumed cost (Online Retail II has no costs)


@pytest.fixture(scope="module")
def lines(retail) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The raw file with exact line totals in pence (Decimal, half-up), computed per distinct
    (quantity, price) pair, and the sale/cancellation/adjustment kind from the invoice number."""
    df = retail["frame"].copy()
    pairs = df[["Quantity", "Price"]].drop_duplicates()
    pairs["minor"] = [int((Decimal(int(q)) * Decimal(repr(p)) * 100).quantize(Decimal(1), ROUND_HALF_UP))
                      for q, p in zip(pairs["Quantity"], pairs["Price"])]
    df = df.merge(pairs, on=["Quantity", "Price"], how="left")
    df["kind"] = np.where(df["Invoice"].str.startswith("C"), "cancellation",
                          np.where(df["Invoice"].str.startswith("A"), "adjustment", "sale"))
    df["at"] = pd.to_datetime(df["InvoiceDate"])
    return df


@pytest.fixture(scope="module")
def customer_ids(retail) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """Online Retail customer number -> Merx customer id, as the import created them."""
    from merx.customers import service as customers

    refs = [f"online-retail:{int(c)}" for c in retail["frame"]["Customer ID"].dropna().unique()]
    with UnitOfWork(retail["db"], readonly=True) as uow:
        found = customers.ids_by_external_refs(uow, refs)
    return {int(ref.split(":")[1]): cid for ref, cid in found.items()}


def test_import_loads_every_line_once_and_a_second_import_changes_nothing(retail, lines, customer_ids):
    import pyarrow.parquet as pq
    import sqlalchemy as sa

    from merx.analytics.models import SalesLine

    assert len(customer_ids) == 4383
    with UnitOfWork(retail["db"], readonly=True) as uow:
        count, total, customers = uow.session.execute(sa.select(
            sa.func.count(), sa.func.sum(SalesLine.line_total_minor),
            sa.func.count(sa.distinct(SalesLine.customer_id)))).one()
    assert count == 525_461
    assert total == int(lines["minor"].sum())
    assert customers == 4383

    refs = {f"online-retail:{k}": v for k, v in customer_ids.items()}
    with UnitOfWork(retail["db"]) as uow:
        again = service.import_online_retail_lines(uow, pq.read_table(retail["path"]), refs)
    assert again == {"lines": 525_461, "inserted": 0, "unchanged": 525_461, "lines_relinked": 0}
    with UnitOfWork(retail["db"], readonly=True) as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(SalesLine)) == 525_461


def test_customer_purchase_summary_matches_pandas(retail, lines, customer_ids):
    with UnitOfWork(retail["db"], readonly=True) as uow:
        summary = service.customer_purchase_summary(uow)
    known = lines[lines["Customer ID"].notna() & (lines["kind"] != "adjustment")]
    sales = known[known["kind"] == "sale"]
    expected_orders = sales.groupby("Customer ID")["Invoice"].nunique()
    expected_revenue = known.groupby("Customer ID")["minor"].sum()
    # an order's time is its first line's (a few invoices have lines a minute apart)
    order_at = sales.groupby(["Customer ID", "Invoice"])["at"].min().reset_index()
    first = order_at.groupby("Customer ID")["at"].min()
    last = order_at.groupby("Customer ID")["at"].max()
    merx_of = {v: k for k, v in customer_ids.items()}
    got = {merx_of[s.customer_id]: s for s in summary}
    assert set(got) == {int(c) for c in expected_orders.index}
    for cid, s in got.items():
        assert s.currency == "GBP"
        assert s.orders_count == expected_orders[cid]
        assert s.revenue == Decimal(int(expected_revenue[cid])).scaleb(-2), cid
        assert s.first_order_at.replace(tzinfo=None) == first[cid]
        assert s.last_order_at.replace(tzinfo=None) == last[cid]


def _month_index(at: pd.Series) -> pd.Series:
    return at.dt.year * 12 + at.dt.month


def test_cohorts_match_pandas(retail, retail_client, retail_key, lines):
    r = retail_client.get("/api/v1/analytics/cohorts", headers=retail_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()

    known = lines[lines["Customer ID"].notna() & (lines["kind"] != "adjustment")]
    sales = known[known["kind"] == "sale"]
    first = sales.groupby("Customer ID")["at"].min().rename("first_at")
    cohort = first.dt.to_period("M").rename("cohort")
    orders_per_customer = sales.groupby("Customer ID")["Invoice"].nunique()
    visits = sales[["Customer ID", "at"]].join(cohort, on="Customer ID")
    visits["k"] = _month_index(visits["at"]) - _month_index(visits["cohort"].dt.start_time)
    active = visits.groupby(["cohort", "k"])["Customer ID"].nunique()
    sizes = cohort.value_counts()

    assert report["customers"] == len(first)
    assert report["repeat_purchase_rate"] == pytest.approx((orders_per_customer >= 2).mean(), abs=1e-6)
    assert [c["cohort"] for c in report["cohorts"]] == [str(p) for p in sorted(sizes.index)]
    for c in report["cohorts"]:
        p = pd.Period(c["cohort"], "M")
        assert c["customers"] == sizes[p]
        for point in c["retention"]:
            expected = active.get((p, point["month"]), 0) / sizes[p]
            assert point["retention"] == pytest.approx(expected, abs=1e-6), (c["cohort"], point["month"])

    # revenue of each cohort: every (non-adjustment) line of its customers from their first order on
    money = known.join(first, on="Customer ID").join(cohort, on="Customer ID")
    money = money[money["at"] >= money["first_at"]]
    per_cohort = money.groupby("cohort")["minor"].sum()
    for c in report["cohorts"]:
        assert Decimal(c["revenue"]) == Decimal(int(per_cohort[pd.Period(c["cohort"], "M")])).scaleb(-2)

    # CLV: cohorts observed for 12 months (the data ends in 2010-12): mean revenue in months 0..11
    money["k"] = _month_index(money["at"]) - _month_index(money["cohort"].dt.start_time)
    eligible = [p for p in sizes.index if (pd.Period("2010-12", "M") - p).n + 1 >= 12]
    horizon = money[money["cohort"].isin(eligible) & (money["k"] < 12)]["minor"].sum()
    assert report["clv"]["horizon_months"] == 12
    assert report["clv"]["cohorts_used"] == len(eligible)
    assert float(report["clv"]["revenue"]) == pytest.approx(horizon / sizes[eligible].sum() / 100, abs=0.01)


@pytest.mark.parametrize("of,measure", [("products", "revenue"), ("customers", "revenue"), ("products", "profit"),
                                        ("customers", "profit")])
def test_pareto_matches_pandas(retail_client, retail_key, lines, customer_ids, of, measure):
    r = retail_client.get("/api/v1/analytics/pareto", params={"of": of, "measure": measure, "limit": 5},
                          headers=retail_key("admin"))
    assert r.status_code == 200, r.text
    report = r.json()
    known = lines[lines["kind"] != "adjustment"]
    key = "StockCode" if of == "products" else "Customer ID"
    known = known[known[key].notna()]
    values = known.groupby(key)["minor"].sum().astype(float)
    if measure == "profit":
        values = values * (1 - COST_RATIO)
    values = values.sort_values(ascending=False)
    top = math.ceil(0.2 * len(values))
    cumulative = values.cumsum() / values.sum()
    assert report["items"] == len(values)
    assert report["top_items"] == top
    assert report["top_share_of_measure"] == pytest.approx(values.iloc[:top].sum() / values.sum(), abs=1e-6)
    assert report["items_for_80"] == int((cumulative < 0.8).sum()) + 1
    assert float(report["rows"][0]["value"]) == pytest.approx(values.iloc[0] / 100, abs=0.01)
    if of == "customers":
        assert int(report["rows"][0]["item"]) == customer_ids[int(values.index[0])]
    else:
        assert report["rows"][0]["item"] == values.index[0]


def test_portfolio_matches_pandas(retail_client, retail_key, lines):
    r = retail_client.get("/api/v1/analytics/portfolio", headers=retail_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()
    known = lines[lines["kind"] != "adjustment"]
    p = known.groupby("StockCode").agg(units=("Quantity", "sum"), revenue=("minor", "sum"))
    p = p[(p["units"] > 0) & (p["revenue"] > 0)]
    p["margin"] = p["revenue"] * (1 - COST_RATIO) / p["units"]  # per unit, in pence
    mt, vt = p["margin"].quantile(0.5), p["units"].quantile(0.5)
    high_m, high_v = p["margin"] >= mt, p["units"] >= vt
    p["class"] = np.select([high_m & high_v, high_m, high_v], ["gold", "sunrise", "sunset"], "rest")

    assert report["margin_basis"] == "unit"
    assert report["thresholds"]["units"] == pytest.approx(vt)
    assert float(report["thresholds"]["margin"]) == pytest.approx(mt / 100, abs=0.005)
    got = {x["sku"]: x["class"] for x in report["products"]}
    assert set(got) == set(p.index)
    mismatched = [sku for sku in p.index if got[sku] != p.loc[sku, "class"]]
    # only a product sitting on the margin threshold itself may differ by float summation order
    assert all(abs(p.loc[sku, "margin"] - mt) < 1e-6 for sku in mismatched), mismatched
    counts = p["class"].value_counts()
    three = counts[["gold", "sunrise", "sunset"]].sum()
    for m in report["mix"]:
        assert m["share"] == pytest.approx(counts[m["class"]] / three, abs=1e-3)
        assert m["target"] == {"gold": 0.4, "sunrise": 0.3, "sunset": 0.3}[m["class"]]

    # drop candidates: the 3 lowest profit contributions of each category
    cats = {x["sku"]: x["category"] for x in report["products"]}
    p["category"] = [cats[s] for s in p.index]
    p["profit"] = p["revenue"] * (1 - COST_RATIO)
    expected = set()
    for _, group in p.groupby("category"):
        if len(group) > 3:
            expected |= set(group.reset_index().sort_values(["profit", "StockCode"]).head(3)["StockCode"])
    assert {d["sku"] for d in report["drop_candidates"]} == expected
    assert report["cost_basis"].startswith("lines without a recorded cost use an assumed cost of 0.6")


def _weekly_revenue(lines: pd.DataFrame) -> pd.Series:
    known = lines[lines["kind"] != "adjustment"]
    week = known["at"].dt.to_period("W-SUN").dt.start_time  # weeks from Monday
    weekly = known.groupby(week)["minor"].sum() / 100
    full = pd.date_range(weekly.index.min(), weekly.index.max(), freq="7D")
    weekly = weekly.reindex(full, fill_value=0.0)
    first_day, last_day = known["at"].min().normalize(), known["at"].max().normalize()
    # only weeks the data covers completely (Monday to Sunday)
    return weekly[(weekly.index >= first_day) & (weekly.index + pd.Timedelta(days=6) <= last_day)]


def test_weekly_revenue_forecast_and_backtest(retail_client, retail_key, lines):
    r = retail_client.get("/api/v1/analytics/forecast",
                          params={"freq": "week", "horizon": 4, "folds": 8}, headers=retail_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()
    weekly = _weekly_revenue(lines)
    assert [h["period"] for h in report["history"]] == [d.date().isoformat() for d in weekly.index]
    assert [h["value"] for h in report["history"]] == pytest.approx(list(weekly.values), abs=0.01)

    # the seasonal-naive backtest, recomputed: 52 complete weeks < one 52-week season, so the
    # baseline is the last value and MASE scales by the in-sample lag-1 MAE
    y = weekly.values
    bt = report["backtest"]
    errors, apes, smapes, mases = [], [], [], []
    for origin in bt["origins"]:
        train, test = y[:origin], y[origin:origin + 4]
        forecast = np.full(len(test), train[-1])
        err = np.abs(test - forecast)
        apes += list(err / np.abs(test))
        smapes += list(2 * err / (np.abs(test) + np.abs(forecast)))
        mases.append(err.mean() / np.mean(np.abs(np.diff(train))))
        errors.append(err)
    assert bt["origins"] == list(range(len(y) - 4 - 7, len(y) - 4 + 1))
    assert bt["seasonal_naive"]["mape"] == pytest.approx(np.mean(apes) * 100, rel=1e-6)
    assert bt["seasonal_naive"]["smape"] == pytest.approx(np.mean(smapes) * 100, rel=1e-6)
    assert bt["seasonal_naive"]["mase"] == pytest.approx(np.mean(mases), rel=1e-6)
    # The model's figures are reported beside the baseline; which one wins is data, not a bug:
    # with one year of weekly history ETS cannot learn the yearly (Q4) season.
    assert bt["winner_on_mase"] == ("ets" if bt["ets"]["mase"] < bt["seasonal_naive"]["mase"] else "seasonal_naive")
    assert "note" in bt
    assert len(report["forecast"]) == 4
    print(f"\nweekly revenue backtest (h=4, {bt['folds']} origins): seasonal naive MASE "
          f"{bt['seasonal_naive']['mase']:.3f} vs ETS {bt['ets']['mase']:.3f} ({bt['ets']['models_chosen']})")


def test_sales_by_month_and_country_match_pandas(retail_client, retail_key, lines):
    r = retail_client.get("/api/v1/analytics/sales", params={"by": "month"}, headers=retail_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()
    known = lines[lines["kind"] != "adjustment"]
    monthly = known.groupby(known["at"].dt.to_period("M"))["minor"].sum()
    assert [row["key"][:7] for row in report["rows"]] == [str(p) for p in monthly.index]
    for row, (_, minor) in zip(report["rows"], monthly.items()):
        assert Decimal(row["revenue"]) == Decimal(int(minor)).scaleb(-2)
    growth = monthly.pct_change()
    assert report["rows"][1]["growth"] == pytest.approx(growth.iloc[1], abs=1e-6)
    orders = known[known["kind"] == "sale"]["Invoice"].nunique()
    assert report["total"]["orders"] == orders
    assert Decimal(report["total"]["aov"]) == (Decimal(int(known["minor"].sum())) / orders / 100).quantize(Decimal("0.01"))

    r = retail_client.get("/api/v1/analytics/sales", params={"by": "country", "from": "2010-06-01", "to": "2010-09-01"},
                          headers=retail_key("staff"))
    by_country = r.json()["rows"]
    window = known[(known["at"] >= "2010-06-01") & (known["at"] < "2010-09-01")]
    start, end = pd.Timestamp("2010-06-01"), pd.Timestamp("2010-09-01")
    before = known[(known["at"] >= start - (end - start)) & (known["at"] < start)]  # the previous 92 days
    uk = next(x for x in by_country if x["key"] == "United Kingdom")
    uk_now = window[window["Country"] == "United Kingdom"]["minor"].sum()
    uk_before = before[before["Country"] == "United Kingdom"]["minor"].sum()
    assert Decimal(uk["revenue"]) == Decimal(int(uk_now)).scaleb(-2)
    assert uk["growth"] == pytest.approx((uk_now - uk_before) / uk_before, abs=1e-6)


def test_exports_and_charts(retail_client, retail_key):
    headers = retail_key("staff")
    r = retail_client.get("/api/v1/analytics/sales", params={"by": "month", "format": "csv"}, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    header, first = r.text.splitlines()[:2]
    assert header.startswith("key,revenue,units,orders") and first.startswith("2009-12-01,")
    r = retail_client.get("/api/v1/analytics/cohorts", params={"format": "xlsx"}, headers=headers)
    assert r.status_code == 200
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(r.content)).active
    assert sheet.cell(1, 1).value == "cohort" and sheet.cell(2, 1).value == "2009-12"
    r = retail_client.get("/api/v1/analytics/sales", params={"by": "month", "format": "png"}, headers=headers)
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    r = retail_client.get("/api/v1/analytics/forecast", params={"format": "svg", "backtest": "false"}, headers=headers)
    assert r.status_code == 200 and b"<svg" in r.content[:500]


def test_cli_prints_the_reports(retail):
    import json
    import os

    from typer.testing import CliRunner

    from merx.cli import app as cli_app
    from merx.core.settings import reset_settings_cache

    env = {"MERX_DATABASE_URL": retail["db"].url, "MERX_DATA_DIR": str(retail["data_dir"])}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_settings_cache()
    try:
        runner = CliRunner()
        table = runner.invoke(cli_app, ["analytics", "pareto", "--of", "customers", "--limit", "5"])
        assert table.exit_code == 0, table.output
        assert "Pareto of customers by revenue" in table.output
        out = runner.invoke(cli_app, ["analytics", "forecast", "--json"])
        assert out.exit_code == 0, out.output
        report = json.loads(out.output[out.output.index("{"):])
        assert report["backtest"]["folds"] == 8 and len(report["forecast"]) == 4
        bad = runner.invoke(cli_app, ["analytics", "sales", "--by", "colour"])
        assert bad.exit_code == 2 and "by: must be one of" in bad.output
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        reset_settings_cache()

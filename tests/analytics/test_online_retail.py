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


# The documented code table (src/merx/analytics/line_classes.py, GET /analytics/definitions),
# written out again here so the test checks the figures against the definition, not the code.
CODE_CLASSES = {"POST": "shipping", "DOT": "shipping", "C2": "shipping", "C3": "shipping", "AMAZONFEE": "fee",
                "BANK CHARGES": "fee", "CRUK": "fee", "D": "discount", "M": "adjustment", "m": "adjustment",
                "ADJUST": "adjustment", "ADJUST2": "adjustment", "B": "adjustment", "S": "adjustment",
                "PADS": "adjustment", "TEST001": "adjustment", "TEST002": "adjustment"}


@pytest.fixture(scope="module")
def lines(retail) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The raw file with exact line totals in pence (Decimal, half-up), computed per distinct
    (quantity, price) pair, the document kind from the invoice number and the line class."""
    df = retail["frame"].copy()
    pairs = df[["Quantity", "Price"]].drop_duplicates()
    pairs["minor"] = [int((Decimal(int(q)) * Decimal(repr(p)) * 100).quantize(Decimal(1), ROUND_HALF_UP))
                      for q, p in zip(pairs["Quantity"], pairs["Price"])]
    df = df.merge(pairs, on=["Quantity", "Price"], how="left")
    df["kind"] = np.where(df["Invoice"].str.startswith("C"), "cancellation",
                          np.where(df["Invoice"].str.startswith("A"), "adjustment", "sale"))
    klass = df["StockCode"].map(CODE_CLASSES)
    writeoff = (df["Price"] == 0) & ((df["Quantity"] < 0) | df["Customer ID"].isna())
    df["klass"] = klass.fillna(pd.Series(np.where(writeoff, "writeoff", "product"), index=df.index))
    df["at"] = pd.to_datetime(df["InvoiceDate"])
    return df


def reference_orders(df: pd.DataFrame) -> pd.DataFrame:
    """Counted orders, per the documented definition: invoices with a priced product line,
    less those cancelled in full by a C invoice of the same customer negating exactly their
    product lines (k-th such C invoice pairs with the k-th such order, not before it)."""
    product = df[(df["klass"] == "product") & (df["kind"] != "adjustment")]
    sales = product[product["kind"] == "sale"]
    priced = sales[sales["minor"] > 0].groupby("Invoice").agg(customer=("Customer ID", "first"),
                                                              placed_at=("at", "min"))

    def signatures(frame: pd.DataFrame, sign: int) -> pd.Series:
        keyed = frame.assign(q=frame["Quantity"] * sign, m=frame["minor"] * sign)
        keyed = keyed.sort_values(["StockCode", "q", "m"], kind="stable")
        text = keyed["StockCode"] + ":" + keyed["q"].astype(str) + ":" + keyed["m"].astype(str)
        return text.groupby(keyed["Invoice"]).agg("|".join)

    with_customer = priced[priced["customer"].notna()]
    s = with_customer.join(signatures(sales[sales["Invoice"].isin(with_customer.index)], 1).rename("sig"))
    cancels = product[(product["kind"] == "cancellation") & product["Customer ID"].notna()]
    c = cancels.groupby("Invoice").agg(customer=("Customer ID", "first"), at=("at", "min"))
    c = c.join(signatures(cancels, -1).rename("sig"))
    s = s.reset_index().sort_values(["placed_at", "Invoice"])
    c = c.reset_index().sort_values(["at", "Invoice"])
    s["k"] = s.groupby(["customer", "sig"]).cumcount()
    c["k"] = c.groupby(["customer", "sig"]).cumcount()
    pairs = s.merge(c, on=["customer", "sig", "k"], suffixes=("", "_c"))
    cancelled = set(pairs[pairs["at"] >= pairs["placed_at"]]["Invoice"])
    return priced[~priced.index.isin(cancelled)]


@pytest.fixture(scope="module")
def orders(lines) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return reference_orders(lines)


def money(frame: pd.DataFrame) -> dict[str, int]:
    """gross, discounts, returns, net, shipping, fees, adjustments in pence, per the definitions."""
    not_a = frame["kind"] != "adjustment"
    product = frame["klass"] == "product"
    out = {
        "gross": frame[product & (frame["kind"] == "sale")]["minor"].sum(),
        "discounts": frame[(frame["klass"] == "discount") & not_a]["minor"].sum(),
        "returns": frame[product & (frame["kind"] == "cancellation")]["minor"].sum(),
        "shipping": frame[frame["klass"] == "shipping"]["minor"].sum(),
        "fees": frame[frame["klass"] == "fee"]["minor"].sum(),
        "adjustments": frame[(frame["klass"] == "adjustment") | ~not_a]["minor"].sum(),
    }
    out["net"] = out["gross"] + out["discounts"] + out["returns"]
    return {k: int(v) for k, v in out.items()}


def net_lines(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["klass"].isin(["product", "discount"]) & (frame["kind"] != "adjustment")]


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
        classes = dict(uow.session.execute(sa.select(SalesLine.line_class, sa.func.count())
                                           .group_by(SalesLine.line_class)).all())
    assert count == 525_461
    assert total == int(lines["minor"].sum())
    assert customers == 4383
    # every line's class decided at import, as the documented code table says
    assert classes == lines["klass"].value_counts().to_dict()
    assert classes["writeoff"] > 3000 and classes["shipping"] > 1500 and classes["fee"] == 74
    assert "layout found: Online Retail II" in retail["import_output"]

    refs = {f"online-retail:{k}": v for k, v in customer_ids.items()}
    with UnitOfWork(retail["db"]) as uow:
        again = service.import_online_retail_lines(uow, pq.read_table(retail["path"]), refs)
    assert again == {"lines": 525_461, "inserted": 0, "unchanged": 525_461, "lines_relinked": 0}
    with UnitOfWork(retail["db"], readonly=True) as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(SalesLine)) == 525_461


def test_customer_purchase_summary_matches_pandas(retail, lines, orders, customer_ids):
    """RFM inputs per customer: frequency (orders), first/last order (recency) and monetary."""
    with UnitOfWork(retail["db"], readonly=True) as uow:
        summary = service.customer_purchase_summary(uow)
    known = orders[orders["customer"].notna()]
    expected_orders = known.groupby("customer").size()
    first = known.groupby("customer")["placed_at"].min()
    last = known.groupby("customer")["placed_at"].max()
    net = net_lines(lines)
    expected_revenue = net[net["Customer ID"].notna()].groupby("Customer ID")["minor"].sum()
    merx_of = {v: k for k, v in customer_ids.items()}
    got = {merx_of[s.customer_id]: s for s in summary}
    assert set(got) == {int(c) for c in expected_orders.index}
    # customers whose only purchases were cancelled in full, or who only returned goods, are not buyers
    everyone = set(lines["Customer ID"].dropna().astype(int))
    assert len(everyone - set(got)) > 0
    for cid, s in got.items():
        assert s.currency == "GBP"
        assert s.orders_count == expected_orders[cid], cid
        assert s.revenue == Decimal(int(expected_revenue.get(cid, 0))).scaleb(-2), cid
        assert s.first_order_at.replace(tzinfo=None) == first[cid]
        assert s.last_order_at.replace(tzinfo=None) == last[cid]


def test_buyers_and_rfm_through_the_crm(retail_client, retail_key, orders, lines, customer_ids):
    """The CRM's RFM reads the same buyers: every buyer has frequency >= 1 and nobody whose
    purchases were all cancelled in full shows up with monetary 0."""
    r = retail_client.get("/api/v1/crm/pareto", headers=retail_key("admin"))
    assert r.status_code == 200, r.text
    crm = r.json()
    a = retail_client.get("/api/v1/analytics/pareto", params={"of": "customers", "limit": 1},
                          headers=retail_key("admin")).json()
    buyers = orders["customer"].dropna().nunique()
    # both Pareto endpoints answer from the same population with the same shares
    assert crm["revenue"]["customers"] == a["items"] == buyers
    assert crm["revenue"]["share"] == pytest.approx(a["top_share_of_measure"], abs=1e-4)
    assert crm["profit"]["customers"] == buyers


# The documented R x FM grid (crm/rfm.py, GET /crm/rfm/method), written out again here.
RFM_GRID = {
    5: ("New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Champions"),
    3: ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose"),
    1: ("Lost", "Lost", "At risk", "At risk", "Can't lose"),
}


def _quintile(values: pd.Series) -> pd.Series:
    """Quintile by rank, ties sharing the lowest rank, rank 1 the worst value."""
    rank = values.rank(method="min")
    return ((rank - 1) * 5 // len(values) + 1).astype(int)


def test_rfm_scores_and_segments_match_pandas(retail_client, retail_key, lines, orders, customer_ids):
    """Every buyer's R, F, M scores and named segment, recomputed from the raw file with
    pandas per the documented method, equal what the CRM stores and serves."""
    admin = retail_key("admin")
    run = retail_client.post("/api/v1/crm/rfm/run", json={"save_segments": False}, headers=admin)
    assert run.status_code == 200, run.text
    known = orders[orders["customer"].notna()]
    frequency = known.groupby("customer").size()
    last_day = known.groupby("customer")["placed_at"].max().dt.normalize()
    net = net_lines(lines)
    monetary = net[net["Customer ID"].notna()].groupby("Customer ID")["minor"].sum().reindex(frequency.index,
                                                                                            fill_value=0)
    reference = last_day.max() + pd.Timedelta(days=1)
    recency = (reference - last_day).dt.days
    expected = pd.DataFrame({"r": _quintile(-recency), "f": _quintile(frequency), "m": _quintile(monetary),
                             "recency": recency, "frequency": frequency, "monetary": monetary})
    expected["segment"] = [RFM_GRID[r][math.ceil((f + m) / 2) - 1]
                           for r, f, m in zip(expected["r"], expected["f"], expected["m"])]
    assert run.json()["reference_date"] == reference.date().isoformat()
    assert run.json()["customers"] == len(expected)
    assert run.json()["segments"] == expected["segment"].value_counts().to_dict()

    got, cursor = {}, None
    merx_of = {v: k for k, v in customer_ids.items()}
    while True:
        page = retail_client.get("/api/v1/crm/rfm", params={"limit": 5000, **({"cursor": cursor} if cursor else {})},
                                 headers=admin).json()
        got.update({merx_of[s["customer_id"]]: s for s in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert set(got) == {int(c) for c in expected.index}
    wrong = []
    for cid, row in expected.iterrows():
        s = got[int(cid)]
        if ((s["r"], s["f"], s["m"], s["segment"], s["recency_days"], s["frequency"])
                != (row["r"], row["f"], row["m"], row["segment"], row["recency"], row["frequency"])
                or Decimal(s["monetary"]["amount"]) != Decimal(int(row["monetary"])).scaleb(-2)):
            wrong.append((cid, s, row.to_dict()))
    assert not wrong, wrong[:5]
    # the scores spread over every quintile and the buyers over most named segments
    assert set(expected["r"]) == set(expected["m"]) == {1, 2, 3, 4, 5}
    assert expected["segment"].nunique() >= 9


def _month_index(at: pd.Series) -> pd.Series:
    return at.dt.year * 12 + at.dt.month


def test_cohorts_match_pandas(retail, retail_client, retail_key, lines, orders):
    r = retail_client.get("/api/v1/analytics/cohorts", headers=retail_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()

    known = orders[orders["customer"].notna()].rename(columns={"customer": "Customer ID", "placed_at": "at"})
    first = known.groupby("Customer ID")["at"].min().rename("first_at")
    cohort = first.dt.to_period("M").rename("cohort")
    orders_per_customer = known.groupby("Customer ID").size()
    visits = known[["Customer ID", "at"]].join(cohort, on="Customer ID")
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

    # the data starts 2009-12-01 07:45 and ends 2010-12-09: both months are only partly covered
    assert report["partial_months"] == ["2009-12", "2010-12"]
    assert report["cohorts"][0]["partial"] and report["cohorts"][-1]["partial"]
    assert report["cohorts"][0]["retention"][-1]["partial"] and not report["cohorts"][0]["retention"][1]["partial"]

    # revenue of each cohort: net sales lines of its customers from their first order on
    net = net_lines(lines)
    money_ = net[net["Customer ID"].notna()].join(first, on="Customer ID", how="inner").join(cohort, on="Customer ID")
    money_ = money_[money_["at"] >= money_["first_at"]]
    per_cohort = money_.groupby("cohort")["minor"].sum()
    for c in report["cohorts"]:
        assert Decimal(c["revenue"]) == Decimal(int(per_cohort[pd.Period(c["cohort"], "M")])).scaleb(-2)


@pytest.mark.parametrize("of,measure", [("products", "revenue"), ("customers", "revenue"), ("products", "profit"),
                                        ("customers", "profit")])
def test_pareto_matches_pandas(retail_client, retail_key, lines, orders, customer_ids, of, measure):
    r = retail_client.get("/api/v1/analytics/pareto", params={"of": of, "measure": measure, "limit": 5},
                          headers=retail_key("admin"))
    assert r.status_code == 200, r.text
    report = r.json()
    if of == "products":
        product = lines[(lines["klass"] == "product") & (lines["kind"] != "adjustment")]
        values = product.groupby("StockCode")["minor"].sum().astype(float)
        if measure == "profit":
            values = values * (1 - COST_RATIO)
        assert not set(values.index) & set(CODE_CLASSES)  # postage, fees... never ranked as products
    else:
        net = net_lines(lines)
        net = net[net["Customer ID"].isin(set(orders["customer"].dropna()))]
        if measure == "profit":  # goods carry the assumed cost; a discount takes its full amount off
            net = net.assign(minor=np.where(net["klass"] == "product", net["minor"] * (1 - COST_RATIO), net["minor"]))
        values = net.groupby("Customer ID")["minor"].sum().astype(float)
    values = values.sort_values(ascending=False)
    top = math.ceil(0.2 * len(values))
    cumulative = values.cumsum() / values.sum()
    assert report["items"] == len(values)
    assert report["top_items"] == top
    assert report["top_share_of_measure"] == pytest.approx(values.iloc[:top].sum() / values.sum(), abs=1e-6)
    assert report["items_for_80"] == int((cumulative < 0.8).sum()) + 1
    assert float(report["rows"][0]["value"]) == pytest.approx(values.iloc[0] / 100, abs=0.01)
    # the curve spans every item, with the 80% point on it
    assert report["curve"][-1]["rank"] == len(values)
    assert next(c for c in report["curve"] if c.get("at_80"))["rank"] == report["items_for_80"]
    if of == "customers":
        assert int(report["rows"][0]["item"]) == customer_ids[int(values.index[0])]
    else:
        assert report["rows"][0]["item"] == values.index[0]


def test_portfolio_matches_pandas(retail_client, retail_key, lines):
    r = retail_client.get("/api/v1/analytics/portfolio", headers=retail_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()
    known = lines[(lines["kind"] != "adjustment") & (lines["klass"] == "product")]
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
    # names come from the catalog (the import's chosen name), never from warehouse notes on lines
    names = {x["sku"]: x["name"] for x in report["products"]}
    assert all(n for n in names.values())
    assert not {"mailout", "wet damaged", "thrown away"} & {n.lower() for n in names.values()}


def _weekly_revenue(lines: pd.DataFrame) -> pd.Series:
    known = net_lines(lines)
    week = known["at"].dt.to_period("W-SUN").dt.start_time  # weeks from Monday
    weekly = known.groupby(week)["minor"].sum() / 100
    full = pd.date_range(weekly.index.min(), weekly.index.max(), freq="7D")
    weekly = weekly.reindex(full, fill_value=0.0)
    first, last = known["at"].min(), known["at"].max()
    # only weeks the data covers completely (from its first line to its last)
    return weekly[(weekly.index >= first) & (weekly.index + pd.Timedelta(days=7) <= last)]


def test_weekly_revenue_forecast_and_backtest(retail_client, retail_key, lines):
    r = retail_client.get("/api/v1/analytics/forecast",
                          params={"freq": "week", "horizon": 4, "folds": 8}, headers=retail_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()
    weekly = _weekly_revenue(lines)
    assert [h["period"] for h in report["history"]] == [d.date().isoformat() for d in weekly.index]
    assert [h["value"] for h in report["history"]] == pytest.approx(list(weekly.values), abs=0.01)
    assert report["partial_periods"] == ["2009-11-30", "2010-12-06"]

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
    assert bt["winner_on_mase"] == ("ets" if bt["ets"]["mase"] < bt["seasonal_naive"]["mase"] else "seasonal_naive")
    assert len(report["forecast"]) == 4
    assert all(f["ets"] >= 0 and f["seasonal_naive"] >= 0 for f in report["forecast"])
    print(f"\nweekly revenue backtest (h=4, {bt['folds']} origins): seasonal naive MASE "
          f"{bt['seasonal_naive']['mase']:.3f} vs ETS {bt['ets']['mase']:.3f} ({bt['ets']['models_chosen']})")


def test_daily_forecast_leaves_out_the_partial_last_day(retail_client, retail_key):
    r = retail_client.get("/api/v1/analytics/forecast", params={"freq": "day", "horizon": 14, "folds": 4},
                          headers=retail_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()
    # the data starts 2009-12-01 07:45 and ends 2010-12-09 20:01: both days are only partly covered
    assert report["partial_periods"] == ["2009-12-01", "2010-12-09"]
    assert report["history"][-1]["period"] == "2010-12-08"
    assert all(f["ets"] >= 0 for f in report["forecast"])
    bt = report["backtest"]
    print(f"\ndaily revenue backtest (h=14, {bt['folds']} origins): seasonal naive MASE "
          f"{bt['seasonal_naive']['mase']:.3f} vs ETS {bt['ets']['mase']:.3f} ({bt['ets']['models_chosen']})")


def _expected_rows(lines: pd.DataFrame, orders: pd.DataFrame, key: pd.Series) -> dict[str, dict[str, int]]:
    out = {}
    counted = lines["Invoice"].isin(set(orders.index)) & (lines["klass"] == "product") & (lines["minor"] > 0) \
        & (lines["kind"] == "sale")
    for k, frame in lines.groupby(key):
        out[str(k)] = money(frame) | {"orders": int(frame[counted.loc[frame.index]]["Invoice"].nunique())}
    return out


def test_sales_by_month_and_country_match_pandas(retail_client, retail_key, lines, orders):
    r = retail_client.get("/api/v1/analytics/sales", params={"by": "month"}, headers=retail_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["headline"] == "net"
    expected = _expected_rows(lines, orders, lines["at"].dt.to_period("M").astype(str))
    assert [row["key"][:7] for row in report["rows"]] == sorted(expected)
    for row in report["rows"]:
        want = expected[row["key"][:7]]
        for column in ("gross", "discounts", "returns", "net", "shipping", "fees", "adjustments"):
            assert Decimal(row[column]) == Decimal(want[column]).scaleb(-2), (row["key"], column)
        assert row["orders"] == want["orders"], row["key"]
    # the first and last months are only partly covered by the data
    assert [row["partial"] for row in report["rows"]] == [True] + [False] * (len(report["rows"]) - 2) + [True]
    total = money(lines)
    assert report["total"]["orders"] == len(orders)
    assert Decimal(report["total"]["net"]) == Decimal(total["net"]).scaleb(-2)
    assert Decimal(report["total"]["aov"]) == (Decimal(total["net"]) / len(orders) / 100).quantize(Decimal("0.01"))

    r = retail_client.get("/api/v1/analytics/sales", params={"by": "country", "from": "2010-06-01", "to": "2010-09-01"},
                          headers=retail_key("staff"))
    by_country = r.json()["rows"]
    window = lines[(lines["at"] >= "2010-06-01") & (lines["at"] < "2010-09-01")]
    expected = _expected_rows(window, reference_orders(window), window["Country"])
    assert {x["key"] for x in by_country} == set(expected)  # every country, none dropped
    for x in by_country:
        for column in ("gross", "returns", "net", "shipping", "fees"):
            assert Decimal(x[column]) == Decimal(expected[x["key"]][column]).scaleb(-2), (x["key"], column)
        assert x["orders"] == expected[x["key"]]["orders"], x["key"]


def test_sales_by_product_keeps_fees_and_adjustments_in_their_own_rows(retail_client, retail_key, lines):
    r = retail_client.get("/api/v1/analytics/sales", params={"by": "product"}, headers=retail_key("staff"))
    assert r.status_code == 200, r.text
    rows = {x["key"]: x for x in r.json()["rows"]}
    want = money(lines)
    assert Decimal(rows["(shipping)"]["shipping"]) == Decimal(want["shipping"]).scaleb(-2)
    assert Decimal(rows["(fee)"]["fees"]) == Decimal(want["fees"]).scaleb(-2)
    assert Decimal(rows["(discount)"]["discounts"]) == Decimal(want["discounts"]).scaleb(-2)
    assert Decimal(rows["(adjustment)"]["adjustments"]) == Decimal(want["adjustments"]).scaleb(-2)
    assert rows["(writeoff)"]["writeoff_lines"] == int((lines["klass"] == "writeoff").sum())
    assert not set(rows) & set(CODE_CLASSES)  # no postage or fee code among the products
    # product rows are named from the catalog
    assert rows["85123A"]["name"] == "WHITE HANGING HEART T-LIGHT HOLDER"


def test_returns_can_be_attributed_to_the_original_sale(retail_client, retail_key, lines):
    r = retail_client.get("/api/v1/analytics/sales", params={"by": "month", "returns": "original_sale"},
                          headers=retail_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()
    # Online Retail's C invoices name no original invoice: they stay in the return's month, and the report says so
    assert report["returns_attribution"] == "original_sale"
    assert Decimal(report["returns_unlinked"]) == Decimal(money(lines)["returns"]).scaleb(-2)
    bad = retail_client.get("/api/v1/analytics/sales", params={"returns": "whenever"}, headers=retail_key("staff"))
    assert bad.status_code == 422


def test_definitions_are_published(retail_client, retail_key):
    r = retail_client.get("/api/v1/analytics/definitions", headers=retail_key("sales_rep"))
    assert r.status_code == 200
    body = r.json()
    assert body["line_classes"]["online_retail_codes"] == CODE_CLASSES
    assert "cancelled in full" in body["order"] and "buyer" in body
    assert retail_client.get("/api/v1/analytics/definitions").status_code == 401


def test_exports_and_charts(retail_client, retail_key):
    headers = retail_key("staff")
    r = retail_client.get("/api/v1/analytics/sales", params={"by": "month", "format": "csv"}, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    header, first = r.text.splitlines()[:2]
    assert header.startswith("key,gross,discounts,returns,net,shipping,fees,adjustments") \
        and first.startswith("2009-12-01,")
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

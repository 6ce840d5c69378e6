"""Issue 21, honest charts: the chart data the console's analytics pages hand to the browser
(web/views/analytics_data.py, in each canvas's data-chart) keeps the rules the notes state:
value axes start at zero, a long tail is one stated "Other (n)" bar that adds up, a period
without sales is a gap in the line (not a bridge), and periods the data covers only in part
are shaded and said so. The figures are recomputed here from the lines the test records."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from decimal import Decimal

from tests.web.conftest import form_sign_in as sign_in

COUNTRIES = ["PL", "DE", "RO", "CZ", "SK", "HU", "AT", "FR", "IT", "ES", "PT", "NL", "BE", "DK", "SE", "FI", "LT",
             "LV", "EE", "IE"]
START = dt.datetime(2010, 3, 1, 10, tzinfo=dt.timezone.utc)  # a Monday
DAYS = [2, 9, 16, 30, 37]  # Wed of weeks 0, 1, 2, 4 and 5: the week of 22 March has no sale
SHOWN = 14  # bars shown by name before "Other" (OTHER_AFTER)


def _net(i: int) -> Decimal:
    return Decimal(10 * (i + 1))


def _record(db) -> None:  # type: ignore[no-untyped-def]
    from merx.analytics import service as analytics
    from merx.analytics.facts import SalesLineIn
    from merx.core.uow import UnitOfWork

    lines = [SalesLineIn(source="chart-test", line_key=f"C{i}:1", order_ref=f"C{i}", quantity=1, unit_price=_net(i),
                         currency="EUR", occurred_at=START + dt.timedelta(days=DAYS[i % len(DAYS)]), sku="MUG-1",
                         customer_ref=f"chart-test:{i}", country=country)
             for i, country in enumerate(COUNTRIES)]
    with UnitOfWork(db) as uow:
        analytics.record_sales_lines(uow, lines)


def _charts(page: str) -> dict[str, dict]:
    found = re.findall(r'<canvas role="img" aria-label="([^"]*)" data-chart=\'([^\']*)\'', page)
    assert found, "no chart on the page"
    return {html.unescape(label): json.loads(html.unescape(spec)) for label, spec in found}


def test_sales_charts_start_at_zero_bucket_the_tail_show_gaps_and_shade_partial_weeks(client, shop, db):
    _record(db)
    sign_in(client, shop.users["admin"])
    r = client.get("/console/analytics/sales", params={"from": "2010-03-01", "to": "2010-04-11"})
    assert r.status_code == 200, r.text
    charts = _charts(r.text)

    # every bar and line chart of money starts its value axis at zero
    for title, spec in charts.items():
        if spec["type"] in ("bar", "line"):
            assert spec["options"]["scales"]["y"]["beginAtZero"] is True, title

    # weekly trend: every week from the first to the last sale is a label; the empty one is a gap
    trend = charts["Net sales by week"]
    weeks = [(START + dt.timedelta(days=7 * k)).date().isoformat() for k in range(6)]
    assert trend["data"]["labels"] == weeks
    line, shaded = trend["data"]["datasets"]
    expected = [float(sum((_net(i) for i in range(len(COUNTRIES)) if DAYS[i % len(DAYS)] // 7 == k), Decimal(0)))
                for k in range(6)]
    assert line["data"] == [None if v == 0 else v for v in expected]
    assert line["data"][3] is None and line["spanGaps"] is False
    # the data starts on a Wednesday and ends on one: the first and the last week are shaded, no other
    assert [v is not None for v in shaded["data"]] == [True, False, False, False, False, True]
    assert shaded["data"][0] == line["data"][0] and shaded["data"][5] == line["data"][5]
    assert "2 period(s) only partly covered by the data are shaded" in html.unescape(r.text)

    # by country: the 14 largest by name, then one "Other (6)" bar holding exactly the rest
    by_country = charts[f"Net sales by country (top {SHOWN}, then other)"]
    labels, values = by_country["data"]["labels"], by_country["data"]["datasets"][0]["data"]
    nets = sorted((float(_net(i)) for i in range(len(COUNTRIES))), reverse=True)
    assert len(labels) == SHOWN + 1 and labels[-1] == f"Other ({len(COUNTRIES) - SHOWN})"
    assert sorted(values[:-1], reverse=True) == nets[:SHOWN]
    assert values[-1] == sum(nets[SHOWN:])
    assert sum(values) == sum(nets)  # nothing dropped, nothing counted twice
    assert set(labels[:-1]) == set(COUNTRIES[len(COUNTRIES) - SHOWN:])


def test_a_short_list_has_no_other_bar(client, shop, db):
    _record(db)
    sign_in(client, shop.users["admin"])
    # one week: five countries sold, all named
    r = client.get("/console/analytics/sales", params={"from": "2010-03-01", "to": "2010-03-07"})
    charts = _charts(r.text)
    by_country = charts["Net sales by country"]
    assert not any(str(label).startswith("Other") for label in by_country["data"]["labels"])
    assert sorted(by_country["data"]["datasets"][0]["data"]) == sorted(
        float(_net(i)) for i in range(len(COUNTRIES)) if DAYS[i % len(DAYS)] == 2)

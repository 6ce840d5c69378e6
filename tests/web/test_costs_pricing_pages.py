"""The costs & margins and competitor prices pages over the real ASGI stack: coverage per
category, the products sold without a cost, a CSV upload, the price position with its
chart, running a rule and approving a proposal (the price list gets the price); CSV/XLSX
exports; a sales rep is kept out."""

from __future__ import annotations

import io
import re
from typing import Any

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _seed(db: Any) -> None:
    from merx.catalog import public as catalog
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders
    from merx.pricing import public as pricing

    with UnitOfWork(db) as uow:
        catalog.import_costs(uow, catalog.CostImport(rows=[
            catalog.CostRowIn(sku="LAMP-DESK", amount="30.00", currency="EUR", effective_from="2020-01-01"),
            catalog.CostRowIn(sku="KETTLE-1", amount="21.00", currency="EUR", effective_from="2020-01-01")]))
    with UnitOfWork(db) as uow:
        orders.place_order(uow, orders.OrderCreate.model_validate({
            "channel": "web", "customer": {"email": "b@shop.test"},
            "lines": [{"sku": "LAMP-DESK", "quantity": 1}, {"sku": "MUG-1", "quantity": 3}]}))
    with UnitOfWork(db) as uow:
        pricing.create_price_list(uow, pricing.PriceListCreate(code="competitive", name="Competitive", currency="EUR"))
    for code in ("lampworld", "homebase"):
        with UnitOfWork(db) as uow:
            pricing.create_competitor(uow, pricing.CompetitorCreate(code=code, name=code.title()))
    with UnitOfWork(db) as uow:
        pricing.import_competitor_prices(uow, pricing.CompetitorPriceImport(rows=[
            {"competitor": "lampworld", "sku": "LAMP-DESK", "amount": "45.00", "currency": "EUR"},
            {"competitor": "homebase", "sku": "LAMP-DESK", "amount": "47.50", "currency": "EUR"},
            {"competitor": "homebase", "sku": "KETTLE-1", "amount": "39.90", "currency": "EUR"}]))
    with UnitOfWork(db) as uow:
        pricing.create_rule(uow, pricing.PricingRuleCreate(code="match", name="Match the lowest", kind="match_lowest",
                                                           price_list="competitive", undercut="0.01",
                                                           floor_margin_percent="20", rounding="0.99"))


def test_costs_page_shows_coverage_gaps_and_takes_an_upload(client, shop, db):
    _seed(db)
    sign_in(client, shop.users["staff"])
    page = client.get("/console/costs")
    assert page.status_code == 200, page.text
    assert 'href="/console/costs"' in page.text and "data-chart=" in page.text
    coverage = page.text.split('id="cost-coverage"')[1].split("</table>")[0]
    # the seller's pendant lamp is the seller's business: 2 of the shop's lighting variants, 1 costed
    assert re.search(r"<td>lighting</td><td class=\"num\">2</td><td class=\"num\">1</td>", coverage), coverage
    gaps = page.text.split('id="cost-gaps"')[1].split("</table>")[0]
    assert "MUG-1" in gaps and "LAMP-DESK" not in gaps  # the mug was sold without a cost; the lamp had one
    assert "1 product lines in 1 orders have no recorded cost" in page.text

    csv_text = "sku,amount,currency\nMUG-1,4.10,EUR\nNOPE,1.00,EUR\n"
    r = client.post("/console/costs/import", data={"csrf_token": csrf_of(page.text)},
                    files={"file": ("costs.csv", csv_text.encode(), "text/csv")}, follow_redirects=True)
    assert r.status_code == 200
    assert "1 costs recorded, 1 rows refused (row 3 sku: NOPE is not a known SKU)" in r.text
    coverage = r.text.split('id="cost-coverage"')[1].split("</table>")[0]
    assert re.search(r"<td>kitchen</td><td class=\"num\">2</td><td class=\"num\">2</td>", coverage), coverage

    export = client.get("/console/costs.xlsx")
    assert export.status_code == 200
    import openpyxl

    rows = list(openpyxl.load_workbook(io.BytesIO(export.content)).active.values)
    assert rows[0][:2] == ("kind", "sku") and any(r[1] == "MUG-1" for r in rows[1:])


def test_pricing_page_runs_a_rule_and_approves_a_proposal(client, shop, db):
    _seed(db)
    sign_in(client, shop.users["admin"])
    page = client.get("/console/pricing")
    assert page.status_code == 200, page.text
    position = page.text.split('id="price-position"')[1].split("</table>")[0]
    assert "LAMP-DESK" in position and "lampworld" in position and "3 / 3" in position  # dearest of three
    assert "data-chart=" in page.text
    r = client.post("/console/pricing/rules/match/run", data={"csrf_token": csrf_of(page.text)},
                    follow_redirects=True)
    assert r.status_code == 200
    assert "Rule match: 2 prices proposed" in r.text
    proposals = r.text.split('id="price-proposals"')[1].split("</table>")[0]
    assert "44.99" in proposals and "37.50" in proposals  # 45.00 - 0.01 rounded to .99; floor 30 / 0.8
    ids = re.findall(r'/console/pricing/proposals/(\d+)/approve', proposals)
    assert len(ids) == 2
    r = client.post(f"/console/pricing/proposals/{ids[0]}/approve", data={"csrf_token": csrf_of(r.text)},
                    follow_redirects=True)
    assert "approved: the price list has the new price" in r.text
    from merx.core.uow import UnitOfWork
    from merx.pricing import public as pricing

    with UnitOfWork(db, readonly=True) as uow:
        lists, _ = pricing.price_lists_page(uow, limit=10, cursor=None)
    assert [pl["entries"] for pl in lists if pl["code"] == "competitive"] == [1]
    assert client.get("/console/pricing/position.csv").text.startswith("sku,name,category,our_price")

    sign_in(client, shop.users["sales_rep"])
    assert client.get("/console/pricing").status_code == 403
    assert client.get("/console/costs").status_code == 403

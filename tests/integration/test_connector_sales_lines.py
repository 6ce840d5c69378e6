"""Issue 21: an ERP's or marketplace's order rows through an inbound connector (target
`sales_lines`) become sales lines whose class comes from the connector's `line_classes`
mapping, so a marketplace fee or a carriage line never counts as a product sold. A mapping
naming an unknown class is refused with 422 naming its path."""

from __future__ import annotations

from decimal import Decimal

import pytest
from catalog_fixtures import catalogue_skus

MAPPING = {
    "fields": {
        "order_ref": {"source": "Order", "required": True},
        "line": {"source": "Pos", "type": "integer", "required": True},
        "sku": {"source": "Code", "required": True, "transform": ["strip", "upper"]},
        "quantity": {"source": "Qty", "type": "integer", "required": True},
        "unit_price": {"source": "Price", "type": "decimal", "required": True},
        "currency": {"source": "Curr", "required": True},
        "occurred_at": {"source": "Date", "type": "date", "required": True},
        "customer_ref": {"source": "Buyer"},
    },
    "csv": {"delimiter": ";"},
    "line_classes": {"codes": {"MKTFEE": "fee"},
                     "patterns": [{"match": "SHIP-*", "class": "shipping"}, {"match": "ADJ*", "class": "adjustment"}]},
}

FILE = ("Order;Pos;Code;Qty;Price;Curr;Date;Buyer\n"
        "M-1;1;A-1;2;10.00;EUR;2026-03-02;b-7\n"
        "M-1;2;A-2;1;5.00;EUR;2026-03-02;b-7\n"
        "M-1;3;MKTFEE;1;-1.50;EUR;2026-03-02;b-7\n"     # the marketplace's commission
        "M-1;4;SHIP-DHL;1;4.99;EUR;2026-03-02;b-7\n"    # carriage charged to the buyer
        "M-2;1;A-1;1;10.00;EUR;2026-03-03;b-8\n"
        "M-2;2;ADJ-ROUND;1;-0.01;EUR;2026-03-03;b-8\n")


def _connector(client, admin, mapping, code="mkt-orders", target="sales_lines"):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/connectors", headers=admin, json={"code": code, "name": "Marketplace orders",
                                                                  "target": target, "format": "csv",
                                                                  "mapping": mapping})


def _import(client, admin, force=False):  # type: ignore[no-untyped-def]
    r = client.post(f"/api/v1/connectors/mkt-orders/imports{'?force=true' if force else ''}", headers=admin,
                    files={"file": ("orders.csv", FILE.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.backends("sqlite", "postgresql")
def test_a_fee_line_from_a_connector_stays_out_of_product_figures(client, admin, db):
    catalogue_skus(db, ["A-1", "A-2"])
    assert _connector(client, admin, MAPPING).status_code == 201
    job = _import(client, admin)
    assert (job["rows_created"], job["rows_failed"]) == (6, 0), job

    r = client.get("/api/v1/analytics/sales", params={"by": "product", "currency": "EUR"}, headers=admin)
    assert r.status_code == 200, r.text
    report = r.json()
    products = {row["key"]: row for row in report["rows"] if Decimal(row["net"]) != 0}
    assert set(products) == {"A-1", "A-2"}  # no MKTFEE, SHIP-DHL or ADJ-ROUND "product"
    assert Decimal(products["A-1"]["net"]) == Decimal("30.00") and products["A-1"]["units"] == 3
    total = report["total"]
    assert Decimal(total["net"]) == Decimal("35.00")
    assert Decimal(total["fees"]) == Decimal("-1.50")
    assert Decimal(total["shipping"]) == Decimal("4.99")
    assert Decimal(total["adjustments"]) == Decimal("-0.01")
    assert total["units"] == 4 and total["orders"] == 2

    r = client.get("/api/v1/analytics/pareto", params={"of": "products", "currency": "EUR"}, headers=admin)
    assert r.status_code == 200, r.text
    assert {row["item"] for row in r.json()["rows"]} == {"A-1", "A-2"}

    # the same rows again change nothing
    again = _import(client, admin, force=True)
    assert (again["rows_created"], again["rows_unchanged"]) == (0, 6), again

    # without the fee code the commission is a product again: a changed mapping re-classes the
    # lines on the next import of the same file
    without_fee = {**MAPPING, "line_classes": {"patterns": MAPPING["line_classes"]["patterns"]}}
    r = client.patch("/api/v1/connectors/mkt-orders", headers=admin, json={"mapping": without_fee})
    assert r.status_code == 200, r.text
    job = _import(client, admin, force=True)
    assert job["rows_updated"] == 6 and job["rows_failed"] == 0, job
    total = client.get("/api/v1/analytics/sales", params={"by": "product", "currency": "EUR"},
                       headers=admin).json()["total"]
    assert Decimal(total["fees"]) == 0 and Decimal(total["net"]) == Decimal("33.50")


@pytest.mark.parametrize("line_classes, field", [
    ({"codes": {"MKTFEE": "fees"}}, "mapping.line_classes.codes.MKTFEE"),
    ({"codes": {"X": "writeoff"}}, "mapping.line_classes.codes.X"),
    ({"patterns": [{"match": "SHIP-*", "class": "postage"}]}, "mapping.line_classes.patterns[0].class"),
    ({"patterns": {"SHIP-*": "shipping"}}, "mapping.line_classes.patterns"),
    ({"classes": {}}, "mapping.line_classes.classes"),
])
def test_an_unknown_line_class_is_refused_naming_the_field(client, admin, line_classes, field):
    r = _connector(client, admin, {**MAPPING, "line_classes": line_classes})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.json()


def test_only_order_rows_carry_line_classes(client, admin):
    mapping = {"fields": {"sku": {"source": "Article", "required": True}, "name": {"source": "Name"}},
               "line_classes": {"codes": {"MKTFEE": "fee"}}}
    r = _connector(client, admin, mapping, code="pim", target="products")
    assert r.status_code == 422, r.text
    assert "mapping.line_classes" in [e["field"] for e in r.json()["errors"]]

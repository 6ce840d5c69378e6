"""Tax and shipping computed at checkout, shown by the preview first, recorded on the order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

PL = {"line1": "ul. Marszałkowska 1", "city": "Warszawa", "postal_code": "00-950", "country": "PL"}
DE = {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"}


def _ship(address):  # type: ignore[no-untyped-def]
    return {"type": "ship", "address": address}


@pytest.mark.backends("sqlite", "postgresql")
def test_inclusive_web_order_to_poland_with_preview_matching_the_order(taxed):
    body = {"lines": [("BOOK", 1), ("LAMP", 1)], "fulfilment": _ship(PL)}
    lines = [{"sku": s, "quantity": q} for s, q in body["lines"]]
    preview = taxed.client.post("/api/v1/orders/preview", json={
        "channel": "web", "customer": {"email": "a@example.com"}, "lines": lines, "fulfilment": _ship(PL)})
    assert preview.status_code == 200, preview.text
    p = preview.json()
    # 4.5 kg -> first bracket 5.00; prices include tax: lamp 123.00 + shipping 5.00 at 23%, book 108.00 at 8%
    assert p["totals"]["shipping"] == "5.00" and p["totals"]["total"] == "236.00"
    expected_std = (Decimal("128.00") * 23 / 123).quantize(Decimal("0.01"))
    expected_red = (Decimal("108.00") * 8 / 108).quantize(Decimal("0.01"))
    rates = {t["rate"]: t for t in p["tax_lines"]}
    assert Decimal(rates["23"]["tax"]) == expected_std and Decimal(rates["8"]["tax"]) == expected_red
    assert p["totals"]["tax"] == str(expected_std + expected_red)
    r = taxed.order(body["lines"], fulfilment=_ship(PL), payment={"provider": "testcard"})
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["totals"]["total"] == "236.00" and o["totals"]["tax"] == p["totals"]["tax"]
    assert o["tax_lines"] == p["tax_lines"]
    assert taxed.get_order(o["id"])["tax_lines"] == p["tax_lines"]
    listed = taxed.client.get("/api/v1/orders", headers=taxed.admin).json()["items"]
    assert [x["tax_lines"] for x in listed if x["id"] == o["id"]] == [p["tax_lines"]]


def test_free_shipping_over_the_threshold_and_pickup_is_free(taxed):
    r = taxed.order([("LAMP", 3)], fulfilment=_ship(PL))
    assert r.status_code == 201 and r.json()["totals"]["shipping"] == "0.00"  # 369.00 >= 300.00
    r = taxed.order([("BOOK", 1)], fulfilment={"type": "pickup", "location": "SHOP1"})
    assert r.status_code == 201 and r.json()["totals"]["shipping"] == "0.00"
    assert r.json()["totals"]["tax"] == "8.00"  # pickup: taxed where the shop is (PL), reduced rate


def test_b2b_prices_are_net_and_an_eu_vat_id_is_reverse_charged(taxed):
    staff = taxed.admin
    body = {"channel": "b2b", "customer": {"email": "buyer@firma.de"}, "lines": [{"sku": "LAMP", "quantity": 1}],
            "fulfilment": _ship(DE)}
    net = taxed.client.post("/api/v1/orders", json=body, headers=staff)
    assert net.status_code == 201, net.text
    # DE 19% on top of 123.00 + 12.30 shipping
    assert net.json()["totals"]["tax"] == "25.71" and net.json()["totals"]["total"] == "161.01"
    rc = taxed.client.post("/api/v1/orders", json={**body, "customer": {"email": "buyer@firma.de",
                                                                        "vat_id": "DE123456789"}}, headers=staff)
    assert rc.status_code == 201, rc.text
    o = rc.json()
    assert o["totals"]["tax"] == "0.00" and o["totals"]["total"] == "135.30"
    assert all(t["reverse_charge"] for t in o["tax_lines"])
    bad = taxed.client.post("/api/v1/orders", json={**body, "customer": {"email": "b@firma.de", "vat_id": "DE12"}},
                            headers=staff)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "customer.vat_id"


def test_outside_every_zone_and_tax_rate_gap_are_refused_and_write_nothing(taxed):
    us = {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"}
    r = taxed.order([("BOOK", 1)], fulfilment=_ship(us))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "no_shipping_zone"
    fr = {"line1": "1 rue de Rivoli", "city": "Paris", "postal_code": "75001", "country": "FR"}
    r = taxed.order([("BOOK", 1)], fulfilment=_ship(fr))  # the EU zone ships to FR but no FR rate exists
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    err = r.json()["errors"][0]
    assert err["code"] == "tax_rate_gap" and "FR" in err["message"]
    assert taxed.count("orders") == 0 and taxed.reserved("BOOK") == 0


def test_rates_follow_their_effective_dates(taxed, db):
    from merx.core.uow import UnitOfWork
    from merx.fiscal import public as fiscal

    with UnitOfWork(db) as uow:
        before = fiscal.quote_tax(uow, country="RO", on=dt.date(2025, 7, 31), channel="web", currency="EUR",
                                  amounts=[("standard", 11900)])
        after = fiscal.quote_tax(uow, country="RO", on=dt.date(2025, 8, 1), channel="web", currency="EUR",
                                 amounts=[("standard", 12100)])
    assert (before.lines[0].rate, before.lines[0].tax) == (19, 1900)
    assert (after.lines[0].rate, after.lines[0].tax) == (21, 2100)
    overlap = taxed.client.post("/api/v1/taxes/rates", headers=taxed.admin, json={
        "country": "PL", "tax_class": "standard", "rate": "25", "valid_from": "2030-01-01"})
    assert overlap.status_code == 409

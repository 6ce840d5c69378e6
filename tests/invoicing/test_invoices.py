"""Invoices on payment, credit notes on refunds, PDFs, the tax report, immutability, and
gapless numbering under concurrency."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

PL = {"name": "Anna Nowak", "line1": "ul. Marszałkowska 1", "city": "Warszawa", "postal_code": "00-950",
      "country": "PL"}


def _paid_order(shop, email: str = "anna@example.com"):  # type: ignore[no-untyped-def]
    r = shop.order([("BOOK", 1), ("LAMP", 1)], email=email, fulfilment={"type": "ship", "address": PL},
                   payment={"provider": "testcard"})
    assert r.status_code == 201 and r.json()["status"] == "paid", r.text
    return r.json()


@pytest.mark.backends("sqlite", "postgresql")
def test_paid_order_gets_an_invoice_and_a_partial_refund_a_credit_note_both_in_the_tax_report(taxed, make_key):
    shop = taxed
    order = _paid_order(shop)
    docs = shop.client.get("/api/v1/invoices", params={"order_id": order["id"]}, headers=shop.admin).json()["items"]
    assert len(docs) == 1
    inv = docs[0]
    year = dt.date.today().year
    assert inv["kind"] == "invoice" and inv["number"] == f"INV/{year}/000001"
    assert inv["gross"] == order["totals"]["total"] == "236.00" and inv["tax"] == order["totals"]["tax"]
    assert {(t["rate"], t["tax"]) for t in inv["tax_lines"]} == {(t["rate"], t["tax"]) for t in order["tax_lines"]}
    assert inv["buyer"]["name"] == "Anna Nowak"
    pdf = shop.client.get(inv["pdf_url"], headers=shop.admin)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 1000

    # the buyer sees their invoice; another customer does not
    owner = make_key("customer", customer_id=order["customer_id"])
    assert shop.client.get(f"/api/v1/invoices/{inv['id']}", headers=owner).status_code == 200
    other = make_key("customer", customer_id=order["customer_id"] + 1000)
    assert shop.client.get(f"/api/v1/invoices/{inv['id']}", headers=other).status_code == 404
    assert shop.client.get(f"/api/v1/invoices/{inv['id']}/pdf", headers=other).status_code == 404

    # staff refund the book line's price partly: 54.00 of 108.00
    pid = shop.payment_of(order["id"])["id"]
    r = shop.client.post(f"/api/v1/payments/{pid}/refund", json={"amount": "54.00", "reason": "damaged cover"},
                         headers={**shop.admin, "Idempotency-Key": "refund-1"})
    assert r.status_code == 200, r.text
    notes = shop.client.get("/api/v1/invoices", params={"order_id": order["id"], "kind": "credit_note"},
                            headers=shop.admin).json()["items"]
    assert len(notes) == 1
    cn = notes[0]
    assert cn["number"] == f"CN/{year}/000001" and cn["corrects"] == inv["number"] and cn["gross"] == "54.00"
    # the credit note's tax is split over the invoice's rates by their gross amounts
    gross = {t["rate"]: Decimal(t["net"]) + Decimal(t["tax"]) for t in inv["tax_lines"]}
    assert sum(Decimal(t["net"]) + Decimal(t["tax"]) for t in cn["tax_lines"]) == Decimal("54.00")
    for t in cn["tax_lines"]:
        share = (Decimal("54.00") * gross[t["rate"]] / Decimal("236.00"))
        assert abs(Decimal(t["net"]) + Decimal(t["tax"]) - share) <= Decimal("0.01")

    report = shop.client.get("/api/v1/tax-report", params={"from": f"{year}-01-01", "to": f"{year}-12-31"},
                             headers=shop.admin)
    assert report.status_code == 200, report.text
    rows = {r["rate"]: r for r in report.json()["rows"]}
    for t in inv["tax_lines"]:
        credited = next(c for c in cn["tax_lines"] if c["rate"] == t["rate"])
        row = rows[t["rate"]]
        assert row["invoiced_tax"] == t["tax"] and row["credited_tax"] == credited["tax"]
        assert Decimal(row["tax"]) == Decimal(t["tax"]) - Decimal(credited["tax"])
    csv_report = shop.client.get("/api/v1/tax-report", params={"from": f"{year}-01-01", "to": f"{year}-12-31",
                                                               "format": "csv"}, headers=shop.admin)
    assert csv_report.status_code == 200 and csv_report.text.startswith("country,tax_class,rate")
    customer = shop.client.get("/api/v1/tax-report", params={"from": f"{year}-01-01", "to": f"{year}-12-31"},
                               headers=owner)
    assert customer.status_code == 403


def test_issued_documents_cannot_change(taxed, db):
    from merx.core.uow import UnitOfWork
    from merx.invoicing.models import Document, ImmutableDocument

    _paid_order(taxed)
    with UnitOfWork(db) as uow:
        doc = uow.session.scalar(sa.select(Document))
        doc.gross_minor = 1
        with pytest.raises(ImmutableDocument):
            uow.session.flush()
        uow.rollback()
    with UnitOfWork(db) as uow:
        uow.session.delete(uow.session.scalar(sa.select(Document)))
        with pytest.raises(ImmutableDocument):
            uow.session.flush()


@pytest.mark.backends("postgresql")
def test_numbers_are_gapless_under_concurrency_even_with_rolled_back_issues(db):
    """8 threads issue documents at once; every third transaction rolls back after taking its
    number. The committed numbers are exactly 1..N: no gap, no duplicate."""
    from merx.core.uow import UnitOfWork
    from merx.invoicing import service

    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for i in range(6):
                with UnitOfWork(db) as uow:
                    def run() -> None:
                        service._insert(uow, kind="invoice", order={"id": t * 100 + i, "number": f"T{t}-{i}"},
                                        source=f"test:{t}:{i}", currency="EUR", gross=100, tax=0, lines=[], buyer={},
                                        taxes=[], corrects=None, reason=None)
                        if i % 3 == 2:
                            uow.rollback()
                            return
                        uow.commit()
                    uow.run_in_transaction(run)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    with db.engine.connect() as conn:
        seqs = [r[0] for r in conn.execute(sa.text("SELECT seq FROM invoicing_documents ORDER BY seq"))]
    assert seqs == list(range(1, 8 * 4 + 1))


def test_cancelling_a_paid_card_order_refunds_in_the_ledger_and_issues_a_credit_note(taxed):
    shop = taxed
    order = _paid_order(shop)
    r = shop.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=shop.admin)
    assert r.status_code == 200 and r.json()["payment"]["status"] == "refunded", r.text
    p = shop.payment_of(order["id"])
    assert (p["status"], p["refunded"]) == ("refunded", "236.00")
    # nothing is left to refund through the payments API
    again = shop.client.post(f"/api/v1/payments/{p['id']}/refund", json={"amount": "0.01"},
                             headers={**shop.admin, "Idempotency-Key": "late"})
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "above_captured"
    notes = shop.client.get("/api/v1/invoices", params={"order_id": order["id"], "kind": "credit_note"},
                            headers=shop.admin).json()["items"]
    assert [n["gross"] for n in notes] == ["236.00"]
    assert notes[0]["tax"] == order["totals"]["tax"]


def test_issue_on_shipment_invoices_when_the_order_ships_not_when_paid(taxed, monkeypatch):
    from merx.invoicing.settings import get_invoicing_settings

    monkeypatch.setenv("MERX_INVOICE_ISSUE_ON", "shipment")
    get_invoicing_settings.cache_clear()
    try:
        shop = taxed
        order = _paid_order(shop)
        docs = lambda: shop.client.get("/api/v1/invoices", params={"order_id": order["id"]},  # noqa: E731
                                       headers=shop.admin).json()["items"]
        assert docs() == []
        r = shop.client.post(f"/api/v1/orders/{order['id']}/fulfil", headers=shop.admin,
                             json={"carrier": "InPost", "tracking_number": "X1"})
        assert r.status_code == 200, r.text
        assert [d["kind"] for d in docs()] == ["invoice"]
    finally:
        get_invoicing_settings.cache_clear()


@pytest.mark.backends("sqlite", "postgresql")
def test_a_credit_note_to_an_account_not_on_one_order(taxed, db, make_key):
    """invoicing.public.issue_account_credit_note (a dealer's rebate): numbered in the credit note
    series, its tax split over the customer's invoices of the period, a PDF, issued once per source."""
    from merx.core.auth import Principal, Role
    from merx.core.errors import Forbidden
    from merx.core.uow import UnitOfWork
    from merx.invoicing import public as invoicing

    shop = taxed
    order = _paid_order(shop, "dealer@example.com")
    _paid_order(shop, "someone.else@example.com")  # another customer's invoice: not in the basis
    inv = shop.client.get("/api/v1/invoices", params={"order_id": order["id"]}, headers=shop.admin).json()["items"][0]
    year = dt.date.today().year
    staff = Principal(user_id=None, role=Role.staff, name="staff")

    def issue(principal=staff, source="rebate:1"):
        with UnitOfWork(db, principal) as uow:
            note = invoicing.issue_account_credit_note(
                uow, customer_id=order["customer_id"], currency="EUR", amount_minor=1180, reference="REB-2026-00001",
                source=source, reason="Volume rebate", basis_from=dt.date(year, 1, 1), basis_to=dt.date(year + 1, 1, 1),
                buyer={"name": "Dealer North"})
            uow.commit()
            return note

    note = issue()
    assert note.kind == "credit_note" and note.number == f"CN/{year}/000001" and note.order_id is None
    assert note.reference == "REB-2026-00001" and note.gross == "11.80" and note.customer_id == order["customer_id"]
    # the tax follows the rates of the customer's invoice, in proportion to their gross amounts
    gross = {t["rate"]: Decimal(t["net"]) + Decimal(t["tax"]) for t in inv["tax_lines"]}
    assert {t.rate for t in note.tax_lines} == set(gross)
    assert sum(Decimal(t.net) + Decimal(t.tax) for t in note.tax_lines) == Decimal("11.80")
    for t in note.tax_lines:
        share = Decimal("11.80") * gross[t.rate] / sum(gross.values())
        assert abs(Decimal(t.net) + Decimal(t.tax) - share) <= Decimal("0.01")
        rate = Decimal(t.rate)
        assert abs(Decimal(t.tax) - (Decimal(t.net) + Decimal(t.tax)) * rate / (100 + rate)) <= Decimal("0.01")
    # the same source again: the same note, not a second one
    assert issue().number == note.number
    assert len(shop.client.get("/api/v1/invoices", params={"kind": "credit_note"}, headers=shop.admin).json()["items"]) == 1
    with pytest.raises(Forbidden):
        issue(Principal(user_id=None, role=Role.sales_rep, name="rep"), source="rebate:2")
    # the buyer reads it and its PDF
    owner = make_key("customer", customer_id=order["customer_id"])
    got = shop.client.get(f"/api/v1/invoices/{note.id}", headers=owner)
    assert got.status_code == 200 and got.json()["order_id"] is None
    pdf = shop.client.get(note.pdf_url, headers=owner)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    page = shop.client.get("/api/v1/invoices", headers=shop.admin)
    assert page.status_code == 200

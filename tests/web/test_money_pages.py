"""Storefront checkout with tax and shipping shown before ordering, the test card's 3-D Secure
page, the invoice on the order page; the console's payments, taxes and invoices pages with a
refund that issues a credit note and a bank statement upload. Real HTTP through the ASGI app."""

from __future__ import annotations

import re

import pytest
from money_fixtures import seed_taxes_and_shipping
from payment_shop import PROVIDERS

from tests.web.conftest import csrf_of, form_sign_in as sign_in

ADDRESS = {"first_name": "Ann", "last_name": "Kowalska", "line1": "ul. Długa 5", "city": "Warszawa",
           "postal_code": "00-238", "country": "PL"}


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"payment_providers": PROVIDERS})


def _cart(client, sku: str = "LAMP-DESK", qty: int = 2) -> str:  # type: ignore[no-untyped-def]
    client.get("/")
    token = client.cookies.get("merx_csrf")
    client.post("/cart/add", data={"csrf_token": token, "sku": sku, "quantity": str(qty)})
    return token


def test_shopper_sees_tax_and_shipping_then_pays_through_3ds_and_gets_the_invoice(client, shop, db):
    seed_taxes_and_shipping(db)
    token = _cart(client)
    page = client.get("/checkout")
    assert page.status_code == 200
    # 2 x 49.00 shipped in PL: 12.30 courier; VAT 23% included in 98.00 + 12.30
    assert re.search(r'id="sum-shipping">[^<]*12\.30', page.text), page.text[-3000:]
    assert re.search(r'id="sum-total">[^<]*110\.30', page.text)
    assert "VAT 23% included" in page.text and "20.63" in page.text
    # a German address: the DE zone and 19%
    review = client.post("/checkout/review", data={"csrf_token": token, "email": "ann@example.com", **ADDRESS,
                                                   "country": "DE", "fulfilment": "ship", "payment": "testcard"})
    assert review.status_code == 200 and re.search(r'id="sum-shipping">[^<]*15\.00', review.text)
    assert "VAT 19% included" in review.text
    # outside every zone: said before ordering
    far = client.post("/checkout/review", data={"csrf_token": token, "email": "ann@example.com", **ADDRESS,
                                                "country": "US", "fulfilment": "ship", "payment": "testcard"})
    assert far.status_code == 422 and "we do not ship to US" in far.text

    r = client.post("/checkout", data={"csrf_token": token, "email": "ann@example.com", **ADDRESS,
                                       "fulfilment": "ship", "payment": "testcard", "card": "4000 0027 6000 3184"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:1000]
    challenge = r.headers["location"]
    assert challenge.startswith("/pay/testcard/challenge?reference=") and "return_to=/order/" in challenge
    bank = client.get(challenge)
    assert bank.status_code == 200 and "110.30 EUR" in bank.text
    ref = re.search(r'name="reference" value="([^"]+)"', bank.text).group(1)
    back = re.search(r'name="return_to" value="([^"]+)"', bank.text).group(1)
    done = client.post("/pay/testcard/challenge", data={"reference": ref, "return_to": back, "outcome": "approve"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == back
    status = client.get(back)
    assert 'id="order-status">Paid' in status.text or ">paid<" in status.text.lower(), status.text[:2000]
    assert "VAT 23%" in status.text
    link = re.search(r'href="(/order/[^"]+/documents/\d+\.pdf)">Invoice (INV/\d{4}/\d{6})', status.text)
    assert link, status.text[-1500:]
    pdf = client.get(link.group(1))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # another order's link cannot open this document
    assert client.get(link.group(1).replace("/documents/", "/documents/9").replace(".pdf", "0.pdf")).status_code == 404


def test_staff_refund_a_line_partly_from_the_console_and_see_credit_note_and_tax_report(client, shop, db):
    seed_taxes_and_shipping(db)
    token = _cart(client, "LAMP-FLOOR", 1)
    r = client.post("/checkout", data={"csrf_token": token, "email": "bo@example.com", **ADDRESS,
                                       "fulfilment": "ship", "payment": "testcard", "card": "4242 4242 4242 4242"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/order/")
    client.cookies.clear()
    assert sign_in(client, shop.users["admin"]).status_code == 303
    page = client.get("/console/payments")
    assert page.status_code == 200 and "testcard" in page.text
    form = re.search(r'<form method="post" action="(/console/payments/(\d+)/refund)".*?name="op_key" value="([^"]+)"',
                     page.text, re.S)
    assert form, page.text[-3000:]
    csrf = csrf_of(page.text)
    for _ in range(2):  # a double submit of the same form refunds once
        done = client.post(form.group(1), data={"csrf_token": csrf, "op_key": form.group(3), "amount": "29.00",
                                                "reason": "scratched"}, follow_redirects=False)
        assert done.status_code == 303
    invoices = client.get("/console/invoices")
    assert invoices.status_code == 200
    assert re.search(r"INV/\d{4}/000001", invoices.text) and re.search(r"CN/\d{4}/000001", invoices.text)
    report = re.search(r'<table id="tax-report">.*?</table>', invoices.text, re.S).group(0)
    # 129.00 + 12.30 shipping at 23% included = 26.42 tax; 29.00 refunded = 5.42 tax credited
    assert "26.42" in report and "5.42" in report and "21.00" in report
    pdf = re.search(r'href="(/console/invoices/\d+\.pdf)"', invoices.text).group(1)
    assert client.get(pdf).content.startswith(b"%PDF")
    taxes = client.get("/console/taxes")
    assert taxes.status_code == 200 and "Courier" in taxes.text and "23%" in taxes.text


def test_bank_transfer_paid_by_a_statement_uploaded_in_the_console(client, shop, db):
    token = _cart(client, "MUG-1", 3)
    r = client.post("/checkout", data={"csrf_token": token, "email": "cy@example.com", **ADDRESS,
                                       "fulfilment": "ship", "payment": "bank_transfer"}, follow_redirects=False)
    status = client.get(r.headers["location"])
    number = re.search(r"reference <strong>(MX\d+)</strong>", status.text).group(1)
    client.cookies.clear()
    sign_in(client, shop.users["staff"])
    page = client.get("/console/payments")
    csv_text = f"entry_ref,booking_date,amount,currency,reference\nB-1,2026-12-03,29.70,EUR,{number}\n" \
               f"B-2,2026-12-03,5.00,EUR,{number}\n"
    up = client.post("/console/payments/statements", data={"csrf_token": csrf_of(page.text)},
                     files={"file": ("bank.csv", csv_text.encode(), "text/csv")}, follow_redirects=False)
    assert up.status_code == 303
    after = client.get("/console/payments")
    assert "1 paid an order, 1 queued" in after.text or "1 paid an order" in client.get("/console/payments").text
    queue = re.search(r'<table id="reconciliation-queue">.*?</table>', after.text, re.S).group(0)
    assert "B-2" in queue and "not awaiting a transfer" in queue

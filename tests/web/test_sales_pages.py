"""The sales console pages over the real ASGI stack (a rep sees their own pipeline, accounts,
leads, quotes and contracts with risk reasons; another's account is a 404 page), the kanban's
move endpoint (CSRF, refused moves explained), the buyer's quote page, and in Chromium the
kanban's drag and drop."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _sales_data(db: Any, rep_email: str, staff_email: str) -> dict[str, Any]:
    from merx.core import accounts as users
    from merx.core.auth import Principal, Role
    from merx.core.uow import UnitOfWork
    from merx.sales import public as sales
    from merx.sales.schemas import AccountCreate, ContactIn, ContractCreate, DealCreate, QuoteCreate

    with UnitOfWork(db) as uow:
        rep = Principal(user_id=users.user_id_by_email(uow, rep_email), role=Role.sales_rep, name="rep")
        staff = Principal(user_id=users.user_id_by_email(uow, staff_email), role=Role.staff, name="staff")
    with UnitOfWork(db, rep) as uow:
        acc = sales.create_account(uow, AccountCreate(name="Lumen Lighting Shop", payment_terms="net30",
                                                      contacts=[ContactIn(name="Lea Lumen", email="lea@lumen.example")]))
    with UnitOfWork(db, rep) as uow:
        deal = sales.create_deal(uow, DealCreate(title="Autumn lamps", account_id=acc.id,
                                                 amount={"currency": "EUR", "amount": "1200.00"}))
    with UnitOfWork(db, rep) as uow:
        quote = sales.create_quote(uow, QuoteCreate(account_id=acc.id, lines=[
            {"sku": "LAMP-DESK", "quantity": 4, "discount_percent": "20"}]))
    with UnitOfWork(db, rep) as uow:
        contract = sales.create_contract(uow, ContractCreate(
            title="Lamp supply", account_id=acc.id,
            clauses=[{"kind": "payment_terms", "days": 60}, {"kind": "delivery_terms", "days": 5},
                     {"kind": "liability", "cap": None}]))
    for status in ("review", "signed"):
        with UnitOfWork(db, rep) as uow:
            sales.change_status(uow, contract.id, sales.ContractStatusIn(status=status))
    with UnitOfWork(db, staff) as uow:
        other = sales.create_account(uow, AccountCreate(name="Staff Only Account"))
    with UnitOfWork(db, rep) as uow:
        sales.intake(uow, sales.LeadIn(source="trade_fair", company="Fjord Interiors", email="hi@fjord.example"))
    return {"account": acc.id, "deal": deal.id, "quote": quote.id, "contract": contract.id, "other": other.id}


def test_a_rep_works_the_sales_pages(client, shop, db):
    made = _sales_data(db, shop.users["sales_rep"], shop.users["staff"])
    sign_in(client, shop.users["sales_rep"])
    page = client.get("/console/sales")
    assert page.status_code == 200 and 'href="/console/sales"' in page.text
    assert "Autumn lamps" in page.text and 'data-stage="needs_analysis"' in page.text
    assert "Lumen Lighting Shop" in client.get("/console/sales/accounts").text
    acc = client.get(f"/console/sales/accounts/{made['account']}")
    assert acc.status_code == 200 and "Lea Lumen" in acc.text and "Lamp supply" in acc.text
    assert client.get(f"/console/sales/accounts/{made['other']}").status_code == 404
    assert "Fjord Interiors" in client.get("/console/sales/leads").text
    quotes = client.get("/console/sales/quotes").text
    assert "pending approval" in quotes and "LAMP-DESK −20" in quotes and "/approve" not in quotes  # a rep does not approve
    contracts = client.get("/console/sales/contracts").text
    assert "liability unlimited" in contracts.replace("_", " ") and "no penalty clause" in contracts.replace("_", " ")
    contact = client.get(f"/api/v1/accounts/{made['account']}").json()["contacts"][0]["customer_id"]
    c360 = client.get(f"/console/customers/{contact}").text
    assert "B2B account" in c360 and "Autumn lamps" in c360
    pdf = client.get(f"/console/sales/quotes/{made['quote']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert b"DejaVuSans" in pdf.content  # a Unicode font: names such as "Gdańsk" print

    token = csrf_of(page.text)
    url = f"/console/sales/deals/{made['deal']}/move"
    refused = client.post(url, data={"csrf_token": token, "stage": "signed"}, headers={"Accept": "application/json"})
    assert refused.status_code == 409 and "reached only from negotiation" in refused.json()["message"]
    moved = client.post(url, data={"csrf_token": token, "stage": "quote"}, headers={"Accept": "application/json"})
    assert moved.status_code == 200 and moved.json()["stage"] == "quote"
    assert client.post(url, data={"stage": "negotiation"}, headers={"Accept": "application/json"}).status_code == 403


def test_the_manager_approves_and_sends_and_the_buyer_sees_the_quote_page(client, shop, db):
    made = _sales_data(db, shop.users["sales_rep"], shop.users["staff"])
    sign_in(client, shop.users["staff"])
    page = client.get("/console/sales/quotes")
    token = csrf_of(page.text)
    r = client.post(f"/console/sales/quotes/{made['quote']}/approve", data={"csrf_token": token})
    assert r.status_code in (200, 303)
    r = client.post(f"/console/sales/quotes/{made['quote']}/send", data={"csrf_token": token}, follow_redirects=False)
    flash = r.cookies.get("merx_flash") or r.headers.get("set-cookie", "")
    link = re.search(r"/quote/([A-Za-z0-9_\-]+)", flash.replace("%2F", "/"))
    assert link, flash
    buyer = client.get(f"/quote/{link.group(1)}")
    assert buyer.status_code == 200 and "Accept and order" in buyer.text and "LAMP-DESK" in buyer.text
    assert "email" not in buyer.text.lower()


def test_dragging_a_deal_to_another_stage_moves_it(page, served_shop, db, login):
    made = _sales_data(db, served_shop.users["sales_rep"], served_shop.users["staff"])
    login(page, served_shop.users["sales_rep"])
    page.goto("/console/sales")
    card = f"#deal-{made['deal']}"
    page.drag_and_drop(card, ".column[data-stage='needs_analysis']")
    page.wait_for_selector(f".column[data-stage='needs_analysis'] {card}:not(.moving)")
    # a stage it cannot reach: the card goes back and the reason is shown
    page.drag_and_drop(card, ".column[data-stage='signed']")
    page.wait_for_selector("#kanban-message:not([hidden])")
    assert "reached only from negotiation" in page.inner_text("#kanban-message")
    page.wait_for_selector(f".column[data-stage='needs_analysis'] {card}")
    page.reload()
    assert page.locator(f".column[data-stage='needs_analysis'] {card}").count() == 1
    # the refused move's 409 is the only thing the browser reports
    assert [e for e in page.errors if "409 (Conflict)" not in e] == []

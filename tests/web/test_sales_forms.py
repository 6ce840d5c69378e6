"""The sales console's everyday forms over the real ASGI stack: a rep creates an account with its
first contact, adds a deal, logs a call, schedules and completes a task, quotes from a deal,
converts a lead and moves a contract on; a refused form comes back as the same page with the
message next to the field (422, not a 500); another rep's records stay out of reach; the account
page lists the contacts' open support tickets. In Chromium: create a deal and complete a task."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _principal(db: Any, email: str, role: str) -> Any:
    from merx.core import accounts as users
    from merx.core.auth import Principal, Role
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        return Principal(user_id=users.user_id_by_email(uow, email), role=Role(role), name=role)


def _field_error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def _new_account(client: Any, **extra: str) -> Any:
    token = csrf_of(client.get("/console/sales/accounts/new").text)
    return client.post("/console/sales/accounts/new", data={"csrf_token": token, **extra}, follow_redirects=False)


def test_a_rep_creates_an_account_and_works_it_from_the_console(client, shop, db):
    sign_in(client, shop.users["sales_rep"])
    assert "/console/sales/accounts/new" in client.get("/console/sales/accounts").text

    refused = _new_account(client, name="  ", contact_name="Ola Nowak", contact_email="ola@nowak.example")
    assert refused.status_code == 422
    assert _field_error(refused.text, "name")  # next to the company name, and what was typed is kept
    assert 'value="ola@nowak.example"' in refused.text

    made = _new_account(client, name="Nowak Hardware", territory="PL-North", payment_terms="net14",
                        contact_name="Ola Nowak", contact_email="ola@nowak.example")
    assert made.status_code == 303
    url = made.headers["location"]
    account_id = int(url.rsplit("/", 1)[1])
    api = client.get(f"/api/v1/accounts/{account_id}").json()
    assert api["payment_terms"] == "net14" and api["territory"] == "PL-North"
    assert api["contacts"][0]["email"] == "ola@nowak.example"
    page = client.get(url).text
    token = csrf_of(page)

    # a deal: a bad amount is named next to the amount, then it is created
    bad = client.post(f"{url}/deals", data={"csrf_token": token, "title": "Shelving", "amount": "12.345",
                                            "currency": "EUR"})
    assert bad.status_code == 422 and _field_error(bad.text, "deal.amount") and 'value="Shelving"' in bad.text
    ok = client.post(f"{url}/deals", data={"csrf_token": token, "title": "Shelving", "amount": "4800.00",
                                           "currency": "EUR", "stage": "needs_analysis",
                                           "expected_close": "2027-02-15"}, follow_redirects=False)
    assert ok.status_code == 303
    deal = client.get("/api/v1/deals", params={"account_id": account_id}).json()["items"][0]
    assert deal["title"] == "Shelving" and deal["amount"]["amount"] == "4800.00"
    assert deal["expected_close"] == "2027-02-15"

    # a call is logged done; a task without a due date is refused at due_at, then scheduled
    assert client.post(f"{url}/activities", data={"csrf_token": token, "kind": "call", "subject": "Intro call",
                                                  "deal_id": str(deal["id"])}).status_code in (200, 303)
    no_due = client.post(f"{url}/activities", data={"csrf_token": token, "kind": "task", "subject": "Send samples"})
    assert no_due.status_code == 422 and "due date" in _field_error(no_due.text, "activity.due_at")
    client.post(f"{url}/activities", data={"csrf_token": token, "kind": "task", "subject": "Send samples",
                                           "due_at": "2027-01-10T09:30"})
    tasks = client.get("/api/v1/activities", params={"account_id": account_id, "open_tasks": "true"}).json()["items"]
    assert [(t["subject"], t["due_at"][:16]) for t in tasks] == [("Send samples", "2027-01-10T09:30")]
    done = client.post(f"{url}/activities/{tasks[0]['id']}/complete", data={"csrf_token": token},
                       follow_redirects=False)
    assert done.status_code == 303
    still_open = client.get("/api/v1/activities", params={"account_id": account_id, "open_tasks": "true"}).json()
    assert still_open["items"] == []
    again = client.post(f"{url}/activities/{tasks[0]['id']}/complete", data={"csrf_token": token})
    assert again.status_code == 422 and "already done" in again.text

    # a quote from the deal: an unknown SKU is refused next to the lines; a good one is created
    unknown = client.post(f"{url}/quotes", data={"csrf_token": token, "deal_id": str(deal["id"]),
                                                 "sku0": "NO-SUCH-SKU", "quantity0": "2"})
    assert unknown.status_code == 422 and "NO-SUCH-SKU" in unknown.text
    client.post(f"{url}/quotes", data={"csrf_token": token, "deal_id": str(deal["id"]), "sku0": "LAMP-DESK",
                                       "quantity0": "3", "discount0": "5", "sku1": "", "quantity1": "1"})
    quote = client.get("/api/v1/quotes", params={"account_id": account_id}).json()["items"][0]
    assert quote["deal_id"] == deal["id"]
    assert [(ln["sku"], ln["quantity"]) for ln in quote["lines"]] == [("LAMP-DESK", 3)]

    # without CSRF nothing happens
    assert client.post(f"{url}/deals", data={"title": "x", "amount": "1"}).status_code == 403


def test_a_contract_moves_on_from_the_account_page_and_signing_names_missing_clauses(client, shop, db):
    from merx.core.uow import UnitOfWork
    from merx.sales import public as sales
    from merx.sales.schemas import ContractCreate

    rep = _principal(db, shop.users["sales_rep"], "sales_rep")
    with UnitOfWork(db, rep) as uow:
        acc = sales.create_account(uow, sales.AccountCreate(name="Baltic Bikes"))
    with UnitOfWork(db, rep) as uow:
        bare = sales.create_contract(uow, ContractCreate(title="Bare contract", account_id=acc.id))
    sign_in(client, shop.users["sales_rep"])
    url = f"/console/sales/accounts/{acc.id}"
    page = client.get(url).text
    assert f"/contracts/{bare.id}/status" in page and '<option value="review">' in page
    token = csrf_of(page)
    assert client.post(f"{url}/contracts/{bare.id}/status", data={"csrf_token": token, "status": "review"},
                       follow_redirects=False).status_code == 303
    refused = client.post(f"{url}/contracts/{bare.id}/status", data={"csrf_token": token, "status": "signed"})
    assert refused.status_code == 422
    assert "clause is required" in _field_error(refused.text, f"contract{bare.id}.clauses")
    skipped = client.post(f"{url}/contracts/{bare.id}/status", data={"csrf_token": token, "status": "active"})
    assert skipped.status_code == 422
    assert "active is not allowed" in _field_error(skipped.text, f"contract{bare.id}.status")
    assert client.get(f"/api/v1/contracts/{bare.id}").json()["status"] == "review"


def test_a_lead_becomes_an_account_and_a_deal_from_the_leads_page(client, shop, db):
    from merx.core.uow import UnitOfWork
    from merx.sales import public as sales

    rep = _principal(db, shop.users["sales_rep"], "sales_rep")
    with UnitOfWork(db, rep) as uow:
        lead = sales.intake(uow, sales.LeadIn(source="trade_fair", company="Fjord Interiors",
                                              contact_name="Freya Fjord", email="freya@fjord.example")).lead
    with UnitOfWork(db, rep) as uow:
        nameless = sales.intake(uow, sales.LeadIn(source="web_form", contact_name="Anon",
                                                  email="anon@mail.example")).lead
    sign_in(client, shop.users["sales_rep"])
    page = client.get("/console/sales/leads").text
    token = csrf_of(page)
    refused = client.post(f"/console/sales/leads/{nameless.id}/convert", data={"csrf_token": token})
    assert refused.status_code == 422 and "no company" in _field_error(refused.text, f"lead{nameless.id}.account_id")
    done = client.post(f"/console/sales/leads/{lead.id}/convert", data={
        "csrf_token": token, "title": "Fjord showroom", "amount": "2500"}, follow_redirects=False)
    assert done.status_code == 303
    account_page = client.get(done.headers["location"]).text
    assert "Fjord Interiors" in account_page and "Fjord showroom" in account_page and "Freya Fjord" in account_page
    assert client.get(f"/api/v1/leads/{lead.id}").json()["status"] == "converted"
    # converted: no second convert form, and a second post is a conflict shown on the page
    assert f"/console/sales/leads/{lead.id}/convert" not in client.get("/console/sales/leads").text
    assert client.post(f"/console/sales/leads/{lead.id}/convert", data={"csrf_token": token}).status_code == 422


def test_a_rep_cannot_use_the_forms_on_another_reps_records(client, shop, db):
    from merx.core.uow import UnitOfWork
    from merx.sales import public as sales

    staff = _principal(db, shop.users["staff"], "staff")
    with UnitOfWork(db, staff) as uow:
        other = sales.create_account(uow, sales.AccountCreate(name="Staff Only Account"))
    with UnitOfWork(db, staff) as uow:
        task = sales.log_activity(uow, sales.ActivityIn(kind="task", subject="Staff task", account_id=other.id,
                                                        due_at="2027-01-01T10:00:00+00:00"))
    with UnitOfWork(db) as uow:
        from merx.core import accounts as users
        from merx.core.auth import Role

        other_rep = users.create_user(uow, name="Other Rep", role=Role.sales_rep, email="rep2@shop.test").id
        uow.commit()
    with UnitOfWork(db, staff) as uow:  # a territory rule gives the lead to the other rep
        from merx.sales.leads import add_rule
        from merx.sales.schemas import AssignmentRuleIn

        add_rule(uow, AssignmentRuleIn(kind="territory", value="HQ", user_id=other_rep))
    with UnitOfWork(db, staff) as uow:
        lead = sales.intake(uow, sales.LeadIn(company="Staff Lead Co", territory="HQ")).lead
    assert lead.owner_user_id == other_rep
    sign_in(client, shop.users["sales_rep"])
    token = csrf_of(client.get("/console/sales/accounts").text)
    url = f"/console/sales/accounts/{other.id}"
    assert client.post(f"{url}/deals", data={"csrf_token": token, "title": "Sneaky", "amount": "10"}).status_code == 404
    assert client.post(f"{url}/activities/{task.id}/complete", data={"csrf_token": token}).status_code == 404
    assert client.post(f"{url}/activities", data={"csrf_token": token, "kind": "note",
                                                  "subject": "x"}).status_code == 404
    assert client.post(f"/console/sales/leads/{lead.id}/convert", data={"csrf_token": token}).status_code == 404
    sign_in(client, shop.users["staff"])  # nothing was done to the staff member's records
    assert client.get("/api/v1/deals", params={"account_id": other.id}).json()["items"] == []
    open_tasks = client.get("/api/v1/activities", params={"open_tasks": "true"}).json()["items"]
    assert [t["id"] for t in open_tasks] == [task.id]
    assert client.get(f"/api/v1/leads/{lead.id}").json()["status"] == "new"


def test_the_account_page_lists_the_contacts_open_support_tickets(client, shop, db):
    from merx.core.uow import UnitOfWork
    from merx.sales import public as sales
    from merx.support import public as support

    rep = _principal(db, shop.users["sales_rep"], "sales_rep")
    with UnitOfWork(db, rep) as uow:
        acc = sales.create_account(uow, sales.AccountCreate(name="Lumen Lighting Shop", contacts=[
            {"name": "Lea Lumen", "email": "lea@lumen.example"}]))
    customer_id = acc.contacts[0].customer_id
    agent = _principal(db, shop.users["support_agent"], "support_agent")
    with UnitOfWork(db, agent) as uow:
        support.create_ticket(uow, support.TicketCreate(kind="complaint", subject="Lamp arrived broken",
                                                        customer_id=customer_id, channel="phone",
                                                        body="The shade was cracked."))
    sign_in(client, shop.users["sales_rep"])
    page = client.get(f"/console/sales/accounts/{acc.id}").text
    section = page[page.index('id="tickets"'):page.index('id="activities"')]
    assert "Lamp arrived broken" in section
    assert "/console/support/tickets/" not in section  # a rep cannot open the support console: no dead link
    sign_in(client, shop.users["staff"])
    page = client.get(f"/console/sales/accounts/{acc.id}").text
    assert "/console/support/tickets/" in page[page.index('id="tickets"'):page.index('id="activities"')]


def test_the_customer_360_shows_open_deals_and_the_next_follow_up(client, shop, db):
    import datetime as dt

    from merx.core.uow import UnitOfWork
    from merx.sales import public as sales

    rep = _principal(db, shop.users["sales_rep"], "sales_rep")
    with UnitOfWork(db, rep) as uow:
        acc = sales.create_account(uow, sales.AccountCreate(name="Lumen Lighting Shop", contacts=[
            {"name": "Lea Lumen", "email": "lea@lumen.example"}]))
    eur = {"currency": "EUR", "amount": "900.00"}
    deals = {}
    for title in ("Autumn lamps", "Winter lamps"):
        with UnitOfWork(db, rep) as uow:
            deals[title] = sales.create_deal(uow, sales.DealCreate(title=title, account_id=acc.id, amount=eur))
    with UnitOfWork(db, rep) as uow:
        sales.move_deal(uow, deals["Winter lamps"].id, sales.DealMove(stage="lost", lost_reason="budget"))
    now = dt.datetime.now(dt.timezone.utc)
    tasks = {}
    for subject, days in (("Send the catalogue", 7), ("Call Lea about samples", 2), ("Already done", 1)):
        with UnitOfWork(db, rep) as uow:
            tasks[subject] = sales.log_activity(uow, sales.ActivityIn(
                kind="task", subject=subject, account_id=acc.id, due_at=now + dt.timedelta(days=days))).id
    with UnitOfWork(db, rep) as uow:
        sales.complete_task(uow, tasks["Already done"])

    sign_in(client, shop.users["sales_rep"])
    url = f"/console/customers/{acc.contacts[0].customer_id}"
    page = client.get(url).text
    b2b = page[page.index("B2B account"):page.index('id="open-tickets"')]
    assert "Autumn lamps (visit" in b2b and "Winter lamps" not in b2b  # a lost deal is not open
    assert "Next follow-up: Call Lea about samples" in b2b  # the earliest open task; the done one is gone
    with UnitOfWork(db, rep) as uow:
        sales.complete_task(uow, tasks["Call Lea about samples"])
    assert "Next follow-up: Send the catalogue" in client.get(url).text
    # a rep who does not own the account sees the person, not the account's pipeline
    sign_in(client, shop.users["support_agent"])
    assert "B2B account" not in client.get(url).text


def test_create_a_deal_and_complete_a_task_in_the_browser(page, served_shop, db, login):
    from merx.core.uow import UnitOfWork
    from merx.sales import public as sales

    rep = _principal(db, served_shop.users["sales_rep"], "sales_rep")
    with UnitOfWork(db, rep) as uow:
        acc = sales.create_account(uow, sales.AccountCreate(name="Gdańsk Garden Centre"))
    with UnitOfWork(db, rep) as uow:
        task = sales.log_activity(uow, sales.ActivityIn(kind="task", subject="Call about spring order",
                                                        account_id=acc.id, due_at="2027-03-01T08:00:00+00:00"))
    login(page, served_shop.users["sales_rep"])
    page.goto(f"/console/sales/accounts/{acc.id}")
    form = page.locator("#new-deal")
    form.locator("input[name=title]").fill("Spring planters")
    form.locator("input[name=amount]").fill("12.345")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert page.locator("[data-field='deal.amount']").is_visible()
    assert page.locator("#new-deal input[name=title]").input_value() == "Spring planters"
    page.locator("#new-deal input[name=amount]").fill("3200")
    with page.expect_navigation():
        page.locator("#new-deal button[type=submit]").click()
    assert "Spring planters" in page.locator("#deals table").inner_text()

    row = page.locator(f"#activity-{task.id}")
    with page.expect_navigation():
        row.locator("button", has_text="Mark done").click()
    assert page.locator(f"#activity-{task.id} button").count() == 0
    assert page.locator("[data-field]").count() == 0
    # the refused deal's 422 page is the only thing the browser reports
    assert [e for e in page.errors if "422 (Unprocessable" not in e] == []


def test_a_rep_revises_a_quote_from_the_account_page(client, shop, db):
    """#20 Build 4: the quote's lines come prefilled; saving makes the next revision of the same
    number and supersedes the old one; a refused revision keeps the old one open."""
    sign_in(client, shop.users["sales_rep"])
    made = _new_account(client, name="Kowal Lights", contact_name="Jan Kowal", contact_email="jan@kowal.example")
    url = made.headers["location"]
    account_id = int(url.rsplit("/", 1)[1])
    token = csrf_of(client.get(url).text)
    client.post(f"{url}/quotes", data={"csrf_token": token, "sku0": "LAMP-DESK", "quantity0": "3"})
    first = client.get("/api/v1/quotes", params={"account_id": account_id}).json()["items"][0]
    page = client.get(url).text
    form = re.search(rf'<details id="revise-{first["id"]}".*?</details>', page, re.S).group(0)
    assert 'name="sku0"' in form and 'value="LAMP-DESK"' in form and 'value="3"' in form

    refused = client.post(f"{url}/quotes/{first['id']}/revise", data={
        "csrf_token": token, "rows": "2", "sku0": "NO-SUCH-SKU", "quantity0": "1"})
    assert refused.status_code == 422 and "NO-SUCH-SKU" in refused.text
    assert client.get(f"/api/v1/quotes/{first['id']}").json()["status"] == first["status"]

    done = client.post(f"{url}/quotes/{first['id']}/revise", data={
        "csrf_token": token, "rows": "2", "sku0": "LAMP-DESK", "quantity0": "5", "sku1": "LAMP-FLOOR",
        "quantity1": "1", "discount1": "2"}, follow_redirects=True)
    assert f"Quote {first['number']} revised: rev 2" in done.text
    quotes = {q["revision"]: q for q in client.get("/api/v1/quotes", params={"account_id": account_id}).json()["items"]}
    assert quotes[1]["status"] == "superseded" and quotes[2]["number"] == first["number"]
    assert [(ln["sku"], ln["quantity"], ln["discount_percent"]) for ln in quotes[2]["lines"]] == [
        ("LAMP-DESK", 5, "0"), ("LAMP-FLOOR", 1, "2")]
    assert f'id="revise-{first["id"]}"' not in done.text  # a superseded revision is not offered again

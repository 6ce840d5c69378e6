"""Customer forms in the console over the real ASGI stack (issue #20): staff edit a customer's
details (a taken email or a bad country comes back beside the field, 422); download the GDPR
export; erase only after typing ERASE; adjust loyalty points with a reason (refused without one,
recorded in the ledger and the audit log); edit a segment's rule with a preview of the count.
Each crosses a role line: a sales rep cannot open another rep's customer, a support agent
cannot erase or adjust points, a sales rep cannot open segments."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _field_error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def _customers(db: Any) -> dict[str, int]:
    from merx.customers import service as customers
    from merx.customers.schemas import CustomerCreate
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        ids = {
            "ola": customers.create_customer(uow, CustomerCreate(email="ola@example.com", first_name="Ola",
                                                                 last_name="Nowak", country="PL"), commit=False).id,
            "jan": customers.create_customer(uow, CustomerCreate(email="jan@example.com", first_name="Jan",
                                                                 country="DE"), commit=False).id,
        }
        uow.commit()
    return ids


def _program(db: Any) -> None:
    from merx.core.uow import UnitOfWork
    from merx.crm import public as crm

    with UnitOfWork(db) as uow:
        crm.create_program(uow, code="club", name="Club", currency="EUR", points_per_unit=Decimal(1),
                           point_value=Decimal("0.01"))
        uow.commit()


@pytest.mark.backends("sqlite", "postgresql")
def test_staff_edit_a_customer_and_refusals_sit_beside_the_field(client, shop, db):
    ids = _customers(db)
    sign_in(client, shop.users["staff"])
    page = client.get(f"/console/customers/{ids['ola']}")
    assert f"/console/customers/{ids['ola']}/edit" in page.text
    form = client.get(f"/console/customers/{ids['ola']}/edit").text
    assert 'value="ola@example.com"' in form
    token = csrf_of(form)
    base = {"csrf_token": token, "first_name": "Ola", "last_name": "Nowak", "email": "ola@example.com",
            "phone": "", "company": "", "country": "PL", "locale": ""}

    taken = client.post(f"/console/customers/{ids['ola']}/edit", data={**base, "email": "jan@example.com"})
    assert taken.status_code == 422
    assert "jan@example.com" in _field_error(taken.text, "email")
    assert 'value="jan@example.com"' in taken.text  # what was typed is kept
    bad_country = client.post(f"/console/customers/{ids['ola']}/edit", data={**base, "country": "P1"})
    assert bad_country.status_code == 422 and _field_error(bad_country.text, "country")
    assert client.get(f"/api/v1/customers/{ids['ola']}").json()["email"] == "ola@example.com"  # nothing half-written

    saved = client.post(f"/console/customers/{ids['ola']}/edit", follow_redirects=False,
                        data={**base, "last_name": "Nowak-Kowalska", "company": "Nowak Sp. z o.o.", "country": "de"})
    assert saved.status_code == 303
    record = client.get(f"/api/v1/customers/{ids['ola']}").json()
    assert (record["last_name"], record["company"], record["country"]) == ("Nowak-Kowalska", "Nowak Sp. z o.o.", "DE")

    # without the CSRF token nothing is written
    assert client.post(f"/console/customers/{ids['ola']}/edit", data={**base, "csrf_token": "x",
                                                                       "last_name": "Forged"}).status_code == 403
    assert client.get(f"/api/v1/customers/{ids['ola']}").json()["last_name"] == "Nowak-Kowalska"


def test_a_sales_rep_edits_only_its_own_customers_and_cannot_export_or_erase(client, shop, db):
    ids = _customers(db)
    sign_in(client, shop.users["sales_rep"])
    assert client.get(f"/console/customers/{ids['ola']}/edit").status_code == 404  # not its account
    token = csrf_of(client.get("/console/customers").text)
    assert client.post(f"/console/customers/{ids['ola']}/edit",
                       data={"csrf_token": token, "first_name": "X"}).status_code == 404
    assert client.get(f"/console/customers/{ids['ola']}/export.json").status_code == 403
    assert client.post(f"/console/customers/{ids['ola']}/erase",
                       data={"csrf_token": token, "confirm": "ERASE"}).status_code == 403


def test_gdpr_export_downloads_and_erase_needs_the_typed_word(client, shop, db):
    ids = _customers(db)
    sign_in(client, shop.users["support_agent"])
    export = client.get(f"/console/customers/{ids['ola']}/export.json")
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    assert export.json()["customer"]["email"] == "ola@example.com"
    edit = client.get(f"/console/customers/{ids['ola']}/edit").text
    assert "export.json" in edit and "erase-customer" not in edit  # support may export, not erase
    assert client.post(f"/console/customers/{ids['ola']}/erase",
                       data={"csrf_token": csrf_of(edit), "confirm": "ERASE"}).status_code == 403

    client.cookies.clear()
    sign_in(client, shop.users["admin"])
    token = csrf_of(client.get(f"/console/customers/{ids['ola']}/edit").text)
    unconfirmed = client.post(f"/console/customers/{ids['ola']}/erase", data={"csrf_token": token, "confirm": "erase"})
    assert unconfirmed.status_code == 422 and "ERASE" in _field_error(unconfirmed.text, "confirm")
    assert client.get(f"/api/v1/customers/{ids['ola']}").status_code == 200  # still there

    erased = client.post(f"/console/customers/{ids['ola']}/erase", data={"csrf_token": token, "confirm": "ERASE"},
                         follow_redirects=False)
    assert erased.status_code == 303 and erased.headers["location"] == "/console/customers"
    assert client.get(f"/api/v1/customers/{ids['ola']}").status_code == 404
    assert "ola@example.com" not in client.get("/console/customers", params={"q": "ola"}).text
    audit = client.get("/api/v1/audit-log", params={"entity_type": "customer_data", "entity_id": str(ids["ola"])})
    assert audit.json()["items"], "the erasure is in the audit log"


def test_loyalty_points_are_adjusted_with_a_reason_and_audited(client, shop, db):
    ids = _customers(db)
    sign_in(client, shop.users["staff"])
    url = f"/console/customers/{ids['jan']}/loyalty"
    none_yet = client.get(url).text
    assert "no-programme" in none_yet  # no programme: said so, not a form that would fail
    refused = client.post(f"{url}/adjust", data={"csrf_token": csrf_of(none_yet), "points": "5", "reason": "x"})
    assert refused.status_code == 422 and _field_error(refused.text, "program")
    _program(db)
    page = client.get(url)
    assert page.status_code == 200 and "adjust-points" in page.text
    token = csrf_of(page.text)

    no_reason = client.post(f"{url}/adjust", data={"csrf_token": token, "points": "50", "reason": ""})
    assert no_reason.status_code == 422 and _field_error(no_reason.text, "reason")
    assert 'value="50"' in no_reason.text
    zero = client.post(f"{url}/adjust", data={"csrf_token": token, "points": "0", "reason": "test"})
    assert zero.status_code == 422 and _field_error(zero.text, "points")
    overdraw = client.post(f"{url}/adjust", data={"csrf_token": token, "points": "-10", "reason": "fix"})
    assert overdraw.status_code == 422 and "balance" in _field_error(overdraw.text, "points")

    ok = client.post(f"{url}/adjust", data={"csrf_token": token, "points": "120", "reason": "Late delivery goodwill"},
                     follow_redirects=False)
    assert ok.status_code == 303
    client.post(f"{url}/adjust", data={"csrf_token": token, "points": "-20", "reason": "Double credit"})
    api = client.get(f"/api/v1/customers/{ids['jan']}/loyalty").json()
    assert api["accounts"][0]["balance"] == 100
    assert [(e["points"], e["reason"]) for e in api["ledger"]] == [(120, "Late delivery goodwill"), (-20, "Double credit")]
    shown = client.get(url).text
    assert "Late delivery goodwill" in shown and 'data-balance="club">100<' in shown

    client.cookies.clear()
    sign_in(client, shop.users["admin"])
    audit = client.get("/api/v1/audit-log", params={"entity_type": "loyalty_account"}).json()["items"]
    assert audit, "adjustments are audited"

    client.cookies.clear()
    sign_in(client, shop.users["support_agent"])
    seen = client.get(url)
    assert seen.status_code == 200 and "adjust-points" not in seen.text  # support sees, does not adjust
    assert client.post(f"{url}/adjust", data={"csrf_token": csrf_of(seen.text), "points": "5",
                                              "reason": "x"}).status_code == 403


def test_a_segment_rule_is_previewed_edited_and_deleted(client, shop, db):
    _customers(db)
    sign_in(client, shop.users["staff"])
    token = csrf_of(client.get("/console/segments").text)
    client.post("/console/segments", data={"csrf_token": token, "name": "Poles", "expression": "country = 'PL'"})
    seg = client.get("/api/v1/segments").json()["items"][0]
    url = f"/console/segments/{seg['id']}"
    assert url in client.get("/console/segments").text
    assert url in client.get("/console/segments", params={"q": "pole"}).text  # the list searches names
    assert url not in client.get("/console/segments", params={"q": "germans"}).text
    page = client.get(url)
    assert page.status_code == 200 and "country = &#39;PL&#39;" in page.text

    preview = client.post(f"{url}/preview", data={"csrf_token": token, "name": "Poles",
                                                  "expression": "country in ('PL', 'DE')"})
    assert preview.status_code == 200
    assert re.search(r'id="segment-preview"[^>]*><strong>2</strong>', preview.text)
    assert client.get(f"/api/v1/segments/{seg['id']}").json()["expression"] == "country = 'PL'"  # preview saves nothing

    broken = client.post(url, data={"csrf_token": token, "name": "Poles", "expression": "country ==="})
    assert broken.status_code == 422 and _field_error(broken.text, "expression")
    unnamed = client.post(url, data={"csrf_token": token, "name": " ", "expression": "country = 'DE'"})
    assert unnamed.status_code == 422 and _field_error(unnamed.text, "name")

    saved = client.post(url, data={"csrf_token": token, "name": "DACH and PL", "expression": "country in ('PL', 'DE')",
                                   "description": "two markets"}, follow_redirects=False)
    assert saved.status_code == 303
    api = client.get(f"/api/v1/segments/{seg['id']}").json()
    assert (api["name"], api["expression"], api["member_count"]) == ("DACH and PL", "country in ('PL', 'DE')", 2)

    client.cookies.clear()
    sign_in(client, shop.users["sales_rep"])
    assert client.get(url).status_code == 403
    client.cookies.clear()
    sign_in(client, shop.users["staff"])
    token = csrf_of(client.get(url).text)
    assert client.post(f"{url}/delete", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get(f"/api/v1/segments/{seg['id']}").status_code == 404


def test_staff_and_reps_create_customers_and_a_duplicate_is_refused_beside_the_email(client, shop, db):
    _customers(db)
    sign_in(client, shop.users["sales_rep"])
    page = client.get("/console/customers")
    assert "/console/new-customer" in page.text
    token = csrf_of(page.text)
    empty = client.post("/console/new-customer", data={"csrf_token": token, "country": "PL"})
    assert empty.status_code == 422 and _field_error(empty.text, "_form")
    dup = client.post("/console/new-customer", data={"csrf_token": token, "first_name": "Ola", "email": "ola@example.com"})
    assert dup.status_code == 422 and "ola@example.com" in _field_error(dup.text, "email")
    made = client.post("/console/new-customer", follow_redirects=False, data={
        "csrf_token": token, "first_name": "Ewa", "last_name": "Lis", "email": "ewa@example.com", "country": "pl"})
    assert made.status_code == 303
    record = client.get(made.headers["location"].replace("/console/", "/api/v1/")).json()
    assert (record["first_name"], record["country"]) == ("Ewa", "PL")
    assert record["sales_rep_user_id"] is not None  # the rep's own account: it can open it
    assert client.get(made.headers["location"]).status_code == 200
    client.cookies.clear()
    sign_in(client, shop.users["customer"])
    assert client.get("/console/new-customer", follow_redirects=False).status_code == 403

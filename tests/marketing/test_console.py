"""Console marketing pages over real HTTP, filled by the marketing demo seed (so they show
what a user of the demo sees), and who may open them."""

from __future__ import annotations

import random
import re

import pytest

PASSWORD = "correct horse battery"


def _sign_in(client, db, role: str) -> None:  # type: ignore[no-untyped-def]
    from merx.core import accounts
    from merx.core.auth import Role
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        accounts.create_user(uow, name=f"{role} user", role=Role(role), email=f"{role}@shop.test", password=PASSWORD)
        uow.commit()
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/console/login", data={"email": f"{role}@shop.test", "password": PASSWORD, "csrf_token": token,
                                            "next": "/console"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]


class _Progress:
    def add_task(self, *a, **k):  # type: ignore[no-untyped-def]
        return 0

    def advance(self, *a, **k):  # type: ignore[no-untyped-def]
        pass


@pytest.fixture
def demo_shop(db):  # type: ignore[no-untyped-def]
    from marketing_shop import make_customers, seed_products
    from merx.marketing import demo

    from merx.core.uow import UnitOfWork
    from merx.inventory import public as inventory

    seed_products(db)
    with UnitOfWork(db) as uow:  # the demo's warehouse, so its orders, replenishment and picks have products
        inventory.create_location(uow, {"code": "WH-POZ", "name": "Poznań warehouse", "kind": "warehouse"})
    for sku in ("KETTLE-1", "MUG-1"):
        with UnitOfWork(db) as uow:
            inventory.adjust(uow, sku=sku, location="WH-POZ", delta=50)
    make_customers(db, 40, consent_every=0)
    return demo.seed(db, random.Random(7), _Progress())


def test_marketing_pages_show_the_demo(client, db, demo_shop):
    assert demo_shop["campaigns"] == 2 and demo_shop["qr codes"] == 3
    _sign_in(client, db, "marketer")
    page = client.get("/console/marketing")
    assert page.status_code == 200
    assert "Autumn collection" in page.text and "Winter sale (A/B subject)" in page.text
    assert 'data-chart=' in page.text and "Station flyer" in page.text and "Autumn photo contest" in page.text
    assert 'href="/console/marketing"' in page.text  # the nav entry for a marketer
    journeys = client.get("/console/marketing/journeys")
    assert journeys.status_code == 200 and "Abandoned cart" in journeys.text and "purchased" in journeys.text
    log = client.get("/console/marketing/messages", params={"status": "sent"})
    assert log.status_code == 200 and "New this week" in log.text
    first = re.search(r'href="/console/marketing/messages/(\d+)"', log.text).group(1)
    message = client.get(f"/console/marketing/messages/{first}")
    assert message.status_code == 200 and "Recipient's time zone: Europe/Warsaw (country)" in message.text
    # the newer parts: browse abandonment, the in-app campaign (some read), the template functions
    assert "Browse abandonment" in journeys.text and "browse_abandonment" in journeys.text
    assert "Free delivery weekend (in-app)" in page.text
    inapp_id = re.search(r'href="/console/marketing/messages\?campaign=(\d+)">Free delivery weekend', page.text).group(1)
    inapp = client.get("/console/marketing/messages", params={"campaign": inapp_id, "status": "sent"})
    assert inapp.status_code == 200 and "inapp" in inapp.text and "· read" in inapp.text
    assert "recommendations(category=" in client.get("/console/marketing/templates").text
    assert "Replenishment reminder" in journeys.text and "30 days after buying category <code>kitchen</code>" in journeys.text
    picks = client.get("/console/marketing/templates", params={"key": "newsletter_picks", "locale": "en"})
    assert picks.status_code == 200 and "recommendations(category=&#39;kitchen&#39;" in picks.text
    templates = client.get("/console/marketing/templates", params={"key": "ready_for_pickup", "locale": "pl"})
    assert templates.status_code == 200 and "czeka na odbiór" in templates.text
    qr = client.get("/console/marketing/qr-codes")
    assert qr.status_code == 200 and "data:image/svg+xml;base64," in qr.text and "Parcel insert" in qr.text


def test_marketing_api_and_pages_are_for_marketers_only(client, db, make_key):
    from marketing_shop import make_customers

    [customer_id] = make_customers(db, 1)
    for role in ("sales_rep", "support_agent", "customer"):
        key = make_key(role, customer_id=customer_id if role == "customer" else None)
        for path in ("/api/v1/campaigns", "/api/v1/messages", "/api/v1/journeys", "/api/v1/templates",
                     "/api/v1/qr-codes", "/api/v1/giveaways", f"/api/v1/recipients/{customer_id}"):
            r = client.get(path, headers=key)
            assert r.status_code == 403, (role, path, r.status_code)
    assert client.get("/api/v1/campaigns").status_code == 401
    assert client.get("/api/v1/campaigns", headers=make_key("marketer")).status_code == 200
    _sign_in(client, db, "sales_rep")
    assert client.get("/console/marketing", follow_redirects=False).status_code in (303, 403)


def test_bad_input_gets_problem_json_naming_the_field(client, admin):
    r = client.post("/api/v1/campaigns", headers=admin, json={"name": "x", "segment_id": 999, "template": "newsletter"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "segment_id" in r.text
    r = client.post("/api/v1/campaigns", headers=admin, json={"name": "x", "segment_id": 1, "template": "nope!"})
    assert r.status_code == 422 and "template" in r.text
    r = client.post("/api/v1/qr-codes", headers=admin, json={"label": "x", "source": "flyer",
                                                            "target_url": "javascript:alert(1)"})
    assert r.status_code == 422 and "target_url" in r.text
    r = client.get("/api/v1/messages", headers=admin, params={"status": "bogus"})
    assert r.status_code == 422 and "status" in r.text
    r = client.get("/api/v1/messages", headers=admin, params={"cursor": "not-a-cursor"})
    assert r.status_code == 422 and "cursor" in r.text
    assert client.get("/q/nosuchcode", follow_redirects=False).status_code == 404
    assert client.post("/m/u/forged-token").status_code == 404

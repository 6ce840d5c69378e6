"""Recommendations in templates through search's public pipeline: a category's best-ranked
products and products related to one, in a preview with a real profile and in a campaign's
mail at the local SMTP server; bad calls and sandbox escapes fail the render, not the batch."""

from __future__ import annotations

import pytest

from marketing_shop import make_customers, seed_products, static_segment


@pytest.fixture
def all_day(monkeypatch):  # type: ignore[no-untyped-def]
    from merx.marketing.settings import get_marketing_settings

    monkeypatch.setenv("MERX_MARKETING_SEND_WINDOWS", "00:00-00:00")
    monkeypatch.setenv("MERX_MARKETING_QUIET_HOURS", "")
    get_marketing_settings.cache_clear()
    yield
    get_marketing_settings.cache_clear()


def _more_products(db) -> None:  # type: ignore[no-untyped-def]
    from merx.catalog import service as catalog
    from merx.catalog.schemas import CategoryCreate, ProductCreate
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        catalog.create_category(uow, CategoryCreate(code="garden", name="Garden"))
    with UnitOfWork(db) as uow:
        for sku, name, category, price in (("MUG-2", "Ceramic Mug Large", "kitchen", "12.90"),
                                           ("RAKE-1", "Garden Rake", "garden", "19.00")):
            catalog.create_product(uow, ProductCreate(sku=sku, name=name, category=category,
                                                      price={"amount": price, "currency": "EUR"}))


TEXT = ("Hello {{ customer.first_name }}\n\nKitchen favourites:\n"
        "{% for p in recommendations(category='kitchen', limit=3) %}* {{ p.name }} ({{ p.price }} {{ p.currency }}) "
        "{{ link(p.url) }}\n{% endfor %}\nLike the mug:\n"
        "{% for p in recommendations(like='MUG-1', limit=2) %}* {{ p.name }}\n{% endfor %}")


@pytest.mark.backends("sqlite", "postgresql")
def test_templates_insert_products_recommended_by_search(client, db, settings, admin, smtp_server, all_day):
    from merx.core.db import utcnow
    from merx.marketing import jobs, sending
    from merx.search import public as search

    seed_products(db)
    _more_products(db)
    search.rebuild_index(db, settings.data_dir)
    [cid] = make_customers(db, 1, prefix="reco")

    r = client.put("/api/v1/templates/reco_news/en", headers=admin,
                   json={"subject": "Picked for you, {{ customer.first_name }}", "body_text": TEXT})
    assert r.status_code == 200, r.text
    r = client.post("/api/v1/templates/reco_news/preview", headers=admin, json={"customer_id": cid})
    assert r.status_code == 200, r.text
    body = r.json()["body_text"]
    kitchen, _, like = body.partition("Like the mug:")
    assert {"Steel Kettle", "Ceramic Mug", "Ceramic Mug Large"} <= {ln[2:].split(" (")[0] for ln in kitchen.splitlines()
                                                                    if ln.startswith("* ")}
    assert "Garden Rake" not in kitchen and "35.90 EUR" in kitchen and "/product/" in kitchen
    assert "* Ceramic Mug Large" in like and "* Ceramic Mug\n" not in like  # related to the mug, not the mug itself

    # bad calls and sandbox escapes: the render fails with the reason, nothing reaches Python
    for bad in ("{{ recommendations(limit=99) }}", "{{ recommendations(category=5) }}",
                "{{ recommendations.__init__.__globals__ }}", "{{ recommendations.uow.session }}"):
        client.put("/api/v1/templates/reco_bad/en", headers=admin, json={"subject": "x", "body_text": bad})
        r = client.post("/api/v1/templates/reco_bad/preview", headers=admin, json={"customer_id": cid})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "template", (bad, r.text)

    # a campaign's mail carries them (the batch asks search once per distinct call)
    segment = static_segment(db, "reco", [cid])
    r = client.post("/api/v1/campaigns", headers=admin, json={"name": "Picks", "segment_id": segment,
                                                             "template": "reco_news"})
    assert r.status_code == 201, r.text
    client.post(f"/api/v1/campaigns/{r.json()['id']}/start", headers=admin)
    jobs.prepare_campaigns(db, utcnow())
    assert sending.dispatch_until_idle(db, settings=settings).sent == 1
    [msg] = smtp_server.wait_for(1)
    text = msg.get_body(("plain",)).get_content()
    assert msg["Subject"] == "Picked for you, Name0"
    assert "* Steel Kettle (35.90 EUR)" in text and "/m/c/" in text  # product links are tracked

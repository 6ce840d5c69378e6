"""Products over HTTP: create/read/update/archive, roles, validation, idempotency,
pagination, translations, completeness, events and audit, and the read models other
contexts use (lookup_skus, iter_product_documents)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

EUR = {"amount": "19.99", "currency": "EUR"}


def product_body(sku="MUG-1", **extra):
    body = {"sku": sku, "name": "Clay mug", "description": "A clay mug", "price": EUR}
    body.update(extra)
    return body


def count(db, table):
    with db.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def events(db, event_type=None):
    from merx.core.models import OutboxEvent

    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(OutboxEvent.type, OutboxEvent.payload).order_by(OutboxEvent.seq)).all()
    return [(t, p) for t, p in rows if event_type is None or t == event_type]


@pytest.mark.backends("sqlite", "postgresql")
def test_create_read_update_archive(client, admin, db, catalog_ref):
    body = product_body(category="kitchen", brand="acme", attributes={"color": "red", "material": "clay",
                                                                      "weight": "0.35"},
                        prices=[{"amount": "89.00", "currency": "PLN"}])
    r = client.post("/api/v1/products", json=body, headers=admin)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["sku"] == "MUG-1" and p["status"] == "active" and p["version"] == 1
    assert p["price"] == EUR
    assert {m["currency"]: m["amount"] for m in p["prices"]} == {"EUR": "19.99", "PLN": "89.00"}
    assert [v["sku"] for v in p["variants"]] == ["MUG-1"]  # one default variant with the product's SKU
    assert p["attributes"] == {"color": "red", "material": "clay", "weight": "0.35"}
    assert r.headers["etag"] == '"1"'
    with db.engine.connect() as conn:  # stored as integer minor units
        assert conn.execute(sa.text("SELECT amount_minor FROM catalog_variant_prices WHERE currency='EUR'")).scalar() == 1999

    pid = p["id"]
    assert client.get(f"/api/v1/products/{pid}").json()["name"] == "Clay mug"
    by_sku = client.get("/api/v1/products", params={"sku": "MUG-1"}).json()["items"]
    assert [x["id"] for x in by_sku] == [pid]

    r = client.patch(f"/api/v1/products/{pid}", json={"price": {"amount": "24.50", "currency": "EUR"}},
                     headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["price"] == {"amount": "24.50", "currency": "EUR"} and r.json()["version"] == 2
    changed = events(db, "product.price_changed")
    assert changed[-1][1] == {"product_id": pid, "sku": "MUG-1", "currency": "EUR", "old_amount": "19.99",
                              "new_amount": "24.50"}

    r = client.delete(f"/api/v1/products/{pid}", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "archived"
    assert client.get(f"/api/v1/products/{pid}").status_code == 404  # anonymous: archived is gone
    assert client.get(f"/api/v1/products/{pid}", headers=admin).json()["status"] == "archived"
    types = [t for t, _ in events(db)]
    assert types.count("product.created") == 1 and "product.archived" in types
    audit = client.get(f"/api/v1/audit-log?entity_type=product&entity_id={pid}", headers=admin).json()["items"]
    assert [a["action"] for a in audit] == ["create", "update", "update"]
    assert audit[1]["before"]["variants"][0]["prices"]["EUR"] == "19.99"
    assert audit[1]["after"]["variants"][0]["prices"]["EUR"] == "24.50"


def test_patch_that_changes_nothing_writes_nothing(client, admin, db):
    pid = client.post("/api/v1/products", json=product_body(), headers=admin).json()["id"]
    before = (count(db, "outbox_events"), count(db, "audit_log"))
    r = client.patch(f"/api/v1/products/{pid}", json={"name": "Clay mug", "price": EUR}, headers=admin)
    assert r.status_code == 200 and r.json()["version"] == 1
    assert (count(db, "outbox_events"), count(db, "audit_log")) == before


def test_if_match_and_version_guard_against_lost_updates(client, admin):
    pid = client.post("/api/v1/products", json=product_body(), headers=admin).json()["id"]
    assert client.patch(f"/api/v1/products/{pid}", json={"name": "A"}, headers={**admin, "If-Match": '"1"'}).status_code == 200
    stale = client.patch(f"/api/v1/products/{pid}", json={"name": "B"}, headers={**admin, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["errors"][0]["field"] == "If-Match"
    stale = client.patch(f"/api/v1/products/{pid}", json={"name": "B", "version": 1}, headers=admin)
    assert stale.status_code == 409 and stale.json()["errors"][0]["field"] == "version"
    assert client.get(f"/api/v1/products/{pid}").json()["name"] == "A"


@pytest.mark.parametrize("body,status,field", [
    (product_body(colour="red"), 422, "colour"),
    (product_body(price={"amount": 19.99, "currency": "EUR"}), 422, "price.amount"),
    (product_body(price={"amount": "19.999", "currency": "EUR"}), 422, "price.amount"),
    (product_body(price={"amount": "-1.00", "currency": "EUR"}), 422, "price.amount"),
    (product_body(price={"amount": "1.00", "currency": "EURO"}), 422, "price.currency"),
    (product_body(name=5), 422, "name"),
    (product_body(category="nope"), 422, "category"),
    (product_body(brand="nope"), 422, "brand"),
    (product_body(attributes={"flavour": "sweet"}), 422, "attributes.flavour"),
    (product_body(attributes={"weight": "heavy"}), 422, "attributes.weight"),
    (product_body(attributes={"color": "green"}), 422, "attributes.color"),
    (product_body(attributes={"waterproof": "wet"}), 422, "attributes.waterproof"),
    (product_body(translations={"xx": {"name": "?"}}), 422, "translations.xx"),
    (product_body(translations={"pl": {"attributes": {"color": "red"}}}), 422, "translations.pl.attributes.color"),
    (product_body(ean="4006381333932"), 422, "ean"),
    (product_body(seller_id=999), 422, "seller_id"),
    (product_body(channels=["teletext"]), 422, "channels.0"),
    (product_body(media=["javascript:alert(1)"]), 422, "media"),
    ({"name": "No sku"}, 422, "sku"),
])
def test_bad_input_is_named_and_writes_nothing(client, admin, db, catalog_ref, body, status, field):
    r = client.post("/api/v1/products", json=body, headers=admin)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in r.json()["errors"]]
    assert count(db, "catalog_products") == 0 and count(db, "catalog_variants") == 0


@pytest.mark.backends("sqlite", "postgresql")
def test_duplicate_sku_is_409_naming_sku_across_variants(client, admin, db):
    assert client.post("/api/v1/products", json=product_body(variants=[{"sku": "MUG-1-L", "options": {"size": "L"}}]),
                       headers=admin).status_code == 201
    r = client.post("/api/v1/products", json=product_body(sku="OTHER", name="Other"), headers=admin)
    assert r.status_code == 201
    dup = client.post("/api/v1/products", json=product_body(sku="MUG-1"), headers=admin)
    assert dup.status_code == 409 and dup.json()["errors"][0]["field"] == "sku"
    dup = client.post("/api/v1/products", json=product_body(sku="NEW", variants=[{"sku": "MUG-1-L"}]), headers=admin)
    assert dup.status_code == 409 and dup.json()["errors"][0]["field"] == "variants.1.sku"
    pid = r.json()["id"]
    dup = client.patch(f"/api/v1/products/{pid}", json={"sku": "MUG-1-L"}, headers=admin)
    assert dup.status_code == 409
    assert count(db, "catalog_products") == 2 and count(db, "catalog_variants") == 3


def test_variants_with_options_own_prices_and_ean(client, admin):
    body = {"name": "T-shirt", "price": {"amount": "10.00", "currency": "EUR"}, "variants": [
        {"sku": "TS-S", "options": {"size": "S", "colour": "red"}, "ean": "4006381333931"},
        {"sku": "TS-XL", "options": {"size": "XL", "colour": "red"}, "price": {"amount": "12.00", "currency": "EUR"}},
    ]}
    r = client.post("/api/v1/products", json=body, headers=admin)
    assert r.status_code == 201, r.text
    v = {x["sku"]: x for x in r.json()["variants"]}
    assert v["TS-S"]["prices"] == [{"amount": "10.00", "currency": "EUR"}]  # inherits the product price
    assert v["TS-XL"]["prices"] == [{"amount": "12.00", "currency": "EUR"}]
    assert v["TS-S"]["ean"] == "4006381333931" and v["TS-XL"]["options"] == {"size": "XL", "colour": "red"}
    pid = r.json()["id"]
    # PATCH variants: keep TS-S (unchanged), drop TS-XL, add TS-M
    r = client.patch(f"/api/v1/products/{pid}", json={"variants": [{"sku": "TS-S"}, {"sku": "TS-M", "options": {"size": "M"}}]},
                     headers=admin)
    assert r.status_code == 200, r.text
    assert [x["sku"] for x in r.json()["variants"]] == ["TS-S", "TS-M"]
    assert r.json()["variants"][0]["ean"] == "4006381333931"


def _seller_key(make_key, seller_id):
    return make_key("seller", seller_id=seller_id)


@pytest.mark.backends("sqlite", "postgresql")
def test_roles_and_seller_ownership(client, admin, make_key, sellers, db):
    north, south = sellers
    body = product_body(sku="N-1")
    assert client.post("/api/v1/products", json=body).status_code == 401
    customer = make_key("customer", customer_id=1)
    assert client.post("/api/v1/products", json=body, headers=customer).status_code == 403
    assert client.post("/api/v1/products", json=body, headers=make_key("sales_rep")).status_code == 403

    north_key, south_key = _seller_key(make_key, north), _seller_key(make_key, south)
    r = client.post("/api/v1/products", json={**body, "status": "draft"}, headers=north_key)
    assert r.status_code == 201 and r.json()["seller_id"] == north  # a seller owns what it creates
    pid = r.json()["id"]
    assert client.post("/api/v1/products", json=product_body(sku="N-2", seller_id=south),
                       headers=north_key).status_code == 403
    # a seller's product goes on sale through a moderated proposal, not directly
    r = client.post("/api/v1/products", json=product_body(sku="S-1"), headers=south_key)
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "status"
    assert "product-proposals" in r.json()["detail"]
    assert client.patch(f"/api/v1/products/{pid}", json={"status": "active"}, headers=north_key).status_code == 403
    client.post("/api/v1/products", json=product_body(sku="S-1", seller_id=south), headers=admin)
    client.post("/api/v1/products", json=product_body(sku="HOUSE-1"), headers=admin)

    # another seller can neither edit nor archive it, and nothing changes
    before = client.get(f"/api/v1/products/{pid}", headers=admin).json()
    assert client.patch(f"/api/v1/products/{pid}", json={"name": "Hijacked"}, headers=south_key).status_code == 404
    assert client.delete(f"/api/v1/products/{pid}", headers=south_key).status_code == 404
    assert client.get(f"/api/v1/products/{pid}", headers=admin).json() == before
    # the owner can, but cannot give it away
    assert client.patch(f"/api/v1/products/{pid}", json={"name": "Mine"}, headers=north_key).status_code == 200
    assert client.patch(f"/api/v1/products/{pid}", json={"seller_id": south}, headers=north_key).status_code == 403

    # listing: a seller sees only its own (drafts included); the public sees active ones only
    assert [p["sku"] for p in client.get("/api/v1/products", headers=north_key).json()["items"]] == ["N-1"]
    public = client.get("/api/v1/products").json()["items"]
    assert sorted(p["sku"] for p in public) == ["HOUSE-1", "S-1"]
    assert client.get(f"/api/v1/products/{pid}").status_code == 404  # draft is invisible to anonymous
    assert client.get(f"/api/v1/products/{pid}", headers=customer).status_code == 404
    assert client.get("/api/v1/products?status=draft", headers=customer).status_code == 422
    assert client.get(f"/api/v1/products/{pid}", headers=north_key).status_code == 200
    staff_list = client.get("/api/v1/products", headers=make_key("staff")).json()["items"]
    assert len(staff_list) == 3
    assert [p["sku"] for p in client.get(f"/api/v1/products?seller={south}", headers=admin).json()["items"]] == ["S-1"]


def test_staff_can_write_reference_data_but_sellers_cannot(client, make_key, sellers):
    seller = make_key("seller", seller_id=sellers[0])
    assert client.post("/api/v1/brands", json={"code": "b", "name": "B"}, headers=seller).status_code == 403
    assert client.post("/api/v1/brands", json={"code": "b", "name": "B"}).status_code == 401
    assert client.post("/api/v1/brands", json={"code": "b", "name": "B"}, headers=make_key("staff")).status_code == 201
    assert client.post("/api/v1/brands", json={"code": "b", "name": "B"}, headers=make_key("staff")).status_code == 409


@pytest.mark.backends("sqlite", "postgresql")
def test_idempotent_replay_of_create(client, admin, db):
    headers = {**admin, "Idempotency-Key": "create-mug-1"}
    first = client.post("/api/v1/products", json=product_body(), headers=headers)
    again = client.post("/api/v1/products", json=product_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert count(db, "catalog_products") == 1
    other = client.post("/api/v1/products", json=product_body(name="Different"), headers=headers)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert count(db, "catalog_products") == 1
    assert len(events(db, "product.created")) == 1


def test_cursor_pagination_and_filters(client, admin, catalog_ref):
    for i in range(7):
        body = product_body(sku=f"P-{i}", name=f"{'Blue' if i % 2 else 'Red'} mug {i}",
                            category="kitchen" if i < 4 else "home", brand="acme" if i == 0 else None)
        assert client.post("/api/v1/products", json=body, headers=admin).status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/products", params=params).json()
        seen += [p["sku"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"P-{i}" for i in range(7)]
    # category filter includes sub-categories
    assert len(client.get("/api/v1/products?category=home").json()["items"]) == 7
    assert len(client.get("/api/v1/products?category=kitchen").json()["items"]) == 4
    assert [p["sku"] for p in client.get("/api/v1/products?brand=acme").json()["items"]] == ["P-0"]
    assert len(client.get("/api/v1/products?q=BLUE").json()["items"]) == 3
    assert client.get("/api/v1/products?cursor=garbage").status_code == 422
    assert client.get("/api/v1/products?limit=0").status_code == 422
    assert client.get("/api/v1/products?category=nope").status_code == 422


def test_translations_with_fallback(client, admin, catalog_ref):
    body = product_body(category="kitchen", attributes={"color": "red", "material": "clay"},
                        translations={"pl": {"name": "Kubek gliniany", "attributes": {"material": "glina"}},
                                      "de": {"description": "Ein Becher"}})
    pid = client.post("/api/v1/products", json=body, headers=admin).json()["id"]
    pl = client.get(f"/api/v1/products/{pid}?locale=pl").json()
    assert pl["locale"] == "pl" and pl["name"] == "Kubek gliniany"
    assert pl["description"] == "A clay mug"  # no Polish description: default locale
    assert pl["attributes"] == {"color": "red", "material": "glina"}
    de = client.get(f"/api/v1/products/{pid}", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert de.headers["content-language"] == "de"
    assert de.json()["name"] == "Clay mug" and de.json()["description"] == "Ein Becher"
    assert client.get(f"/api/v1/products/{pid}", headers={"Accept-Language": "tlh"}).json()["locale"] == "en"
    bad = client.get(f"/api/v1/products/{pid}?locale=xx")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "locale"
    # merge-patch a translation; null removes a locale
    r = client.patch(f"/api/v1/products/{pid}", json={"translations": {"pl": {"description": "Gliniany kubek"},
                                                                       "de": None}}, headers=admin)
    assert r.status_code == 200
    assert r.json()["translations"] == {"pl": {"name": "Kubek gliniany", "description": "Gliniany kubek",
                                               "attributes": {"material": "glina"}}}
    cats = client.get("/api/v1/categories?locale=pl").json()["items"]
    assert {c["code"]: c["name"] for c in cats} == {"home": "Dom", "kitchen": "Kuchnia"}


def test_completeness_per_channel_and_locale(client, admin, catalog_ref):
    client.post("/api/v1/channels", json={"code": "pl-shop", "name": "Polish shop", "locales": ["en", "pl"],
                                          "currency": "PLN"}, headers=admin)
    body = product_body(category="kitchen", attributes={"color": "red"}, channels=["web", "pl-shop"],
                        translations={"pl": {"name": "Kubek"}})
    pid = client.post("/api/v1/products", json=body, headers=admin).json()["id"]
    result = client.get(f"/api/v1/products/{pid}/completeness?channel=pl-shop", headers=admin).json()
    by_locale = {c["locale"]: c for c in result}
    # kitchen inherits the "home" set from its parent: colour and material are required
    assert by_locale["en"]["missing"] == ["attributes.material", "prices.PLN"]
    assert by_locale["en"]["percent"] == 60
    assert by_locale["pl"]["missing"] == ["description", "attributes.material", "prices.PLN"]
    client.patch(f"/api/v1/products/{pid}", json={"attributes": {"material": "clay"},
                                                  "prices": [EUR, {"amount": "80.00", "currency": "PLN"}],
                                                  "translations": {"pl": {"description": "Kubek z gliny",
                                                                          "attributes": {"material": "glina"}}}},
                 headers=admin)
    result = client.get(f"/api/v1/products/{pid}/completeness?channel=pl-shop", headers=admin).json()
    assert [(c["locale"], c["percent"], c["missing"]) for c in result] == [("en", 100, []), ("pl", 100, [])]
    web = client.get(f"/api/v1/products/{pid}/completeness?channel=web&locale=de", headers=admin).json()
    assert web[0]["missing"] == ["name", "description", "attributes.material"]
    assert client.get(f"/api/v1/products/{pid}/completeness").status_code == 401
    assert client.get(f"/api/v1/products/{pid}/completeness?locale=xx", headers=admin).status_code == 422


def test_category_tree_and_set_inheritance(client, admin, catalog_ref):
    kitchen = client.get("/api/v1/categories/kitchen").json()
    assert kitchen["path"] == ["home", "kitchen"]
    assert kitchen["attribute_set"] is None and kitchen["effective_attribute_set"] == "home"
    r = client.patch("/api/v1/categories/home", json={"parent": "kitchen"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "parent"
    r = client.post("/api/v1/categories", json={"code": "x", "name": "X", "parent": "nope"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "parent"
    r = client.post("/api/v1/attributes", json={"code": "size", "name": "Size", "type": "enum"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "options"


@pytest.mark.backends("sqlite", "postgresql")
def test_lookup_skus_and_product_documents(client, admin, db, catalog_ref):
    from merx.catalog import service
    from merx.core.uow import UnitOfWork

    body = product_body(category="kitchen", brand="acme", attributes={"color": "blue"},
                        prices=[{"amount": "80.00", "currency": "PLN"}],
                        variants=[{"sku": "MUG-1-BIG", "options": {"size": "L"}}],
                        translations={"pl": {"name": "Kubek"}}, channels=["web", "b2b"])
    pid = client.post("/api/v1/products", json=body, headers=admin).json()["id"]
    with UnitOfWork(db, readonly=True) as uow:
        found = service.lookup_skus(uow, ["MUG-1-BIG", "MUG-1", "NOPE"])
        assert set(found) == {"MUG-1", "MUG-1-BIG"}
        info = found["MUG-1-BIG"]
        assert info.product_id == pid and info.category == "kitchen" and info.brand == "acme"
        assert info.prices == {"EUR": Decimal("19.99"), "PLN": Decimal("80.00")}
        assert info.status == "active" and info.attributes == {"color": "blue"}
        docs = list(service.iter_product_documents(uow, batch_size=1))
        assert len(docs) == 1
        doc = docs[0]
        assert doc.category_path == ["Home", "Kitchen"] and doc.brand == "Acme"
        assert doc.channels == ["b2b", "web"] and doc.default_locale == "en"
        assert doc.translations["pl"]["name"] == "Kubek"
        assert [v["sku"] for v in doc.variants] == ["MUG-1", "MUG-1-BIG"]
        assert doc.variants[1]["options"] == {"size": "L"}
        assert list(service.iter_product_documents(uow, product_ids=[pid + 1])) == []


def test_purge_is_admin_only_and_emits_deleted(client, admin, make_key, db):
    pid = client.post("/api/v1/products", json=product_body(), headers=admin).json()["id"]
    assert client.delete(f"/api/v1/products/{pid}?purge=true", headers=make_key("staff")).status_code == 403
    assert client.delete(f"/api/v1/products/{pid}?purge=true", headers=admin).status_code == 204
    assert count(db, "catalog_products") == 0 and count(db, "catalog_variant_prices") == 0
    assert events(db, "product.deleted")[0][1] == {"product_id": pid, "skus": ["MUG-1"]}


@pytest.mark.backends("sqlite", "postgresql")
def test_bad_input_writes_nothing_on_both_backends(client, admin, db, catalog_ref):
    for body, field in ((product_body(price={"amount": "19.999", "currency": "EUR"}), "price.amount"),
                        (product_body(attributes={"color": "red", "weight": "heavy"}), "attributes.weight"),
                        (product_body(translations={"pl": {"name": "Kubek"}, "xx": {"name": "?"}}), "translations.xx")):
        r = client.post("/api/v1/products", json=body, headers=admin)
        assert r.status_code == 422 and field in [e["field"] for e in r.json()["errors"]], r.text
    assert count(db, "catalog_products") == 0 and count(db, "outbox_events") == 0

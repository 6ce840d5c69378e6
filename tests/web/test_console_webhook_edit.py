"""A webhook endpoint's console page: edit its URL and events (a bad one named beside the field),
a new signing secret shown once that the receiver then verifies (the old one no longer does),
and deleting it behind a confirmation. Admin only, as in the API."""

from __future__ import annotations

import re

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.web.conftest import csrf_of, form_sign_in as sign_in
from tests.web.test_console_webhooks import receiver  # noqa: F401  (the fixture: a real local receiver)


def _endpoint(client, admin, url):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/webhooks", headers=admin, json={"url": url, "events": ["order.*"]})
    assert r.status_code == 201, r.text
    return r.json()


def test_admin_edits_an_endpoint_and_a_bad_url_is_named_beside_the_field(client, shop, admin, receiver):  # noqa: F811
    e = _endpoint(client, admin, receiver["url"])
    sign_in(client, shop.users["admin"])
    listing = client.get("/console/integration").text
    assert f'href="/console/integration/webhooks/{e["id"]}"' in listing
    page = client.get(f"/console/integration/webhooks/{e['id']}")
    assert page.status_code == 200 and receiver["url"] in page.text
    bad = client.post(f"/console/integration/webhooks/{e['id']}", data={
        "csrf_token": csrf_of(page.text), "url": "ftp://erp.example.com", "events": "order.* not-an-event"})
    assert bad.status_code == 422 and 'data-field="url"' in bad.text and 'value="ftp://erp.example.com"' in bad.text
    bad = client.post(f"/console/integration/webhooks/{e['id']}", data={
        "csrf_token": csrf_of(page.text), "url": receiver["url"], "events": "order.* Not-An-Event"})
    assert bad.status_code == 422 and re.search(r'data-field="events"[^>]*>[^<]*is not an event type', bad.text)
    assert client.get(f"/api/v1/webhooks/{e['id']}", headers=admin).json()["events"] == ["order.*"]
    r = client.post(f"/console/integration/webhooks/{e['id']}", data={
        "csrf_token": csrf_of(page.text), "url": receiver["url"] + "/v2", "events": "order.placed, product.*",
        "description": "ERP"}, follow_redirects=True)
    assert "Endpoint saved" in r.text
    saved = client.get(f"/api/v1/webhooks/{e['id']}", headers=admin).json()
    assert (saved["url"], saved["events"], saved["description"]) == (receiver["url"] + "/v2",
                                                                    ["order.placed", "product.*"], "ERP")


def test_a_new_secret_is_shown_once_and_signs_the_next_delivery(client, shop, admin, receiver):  # noqa: F811
    e = _endpoint(client, admin, receiver["url"])
    sign_in(client, shop.users["admin"])
    page = client.get(f"/console/integration/webhooks/{e['id']}").text
    r = client.post(f"/console/integration/webhooks/{e['id']}/rotate-secret", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    secret = re.search(r"<code>(whsec_[A-Za-z0-9+/=]+)</code>", r.text).group(1)
    assert secret != e["secret"]
    assert secret not in client.get(f"/console/integration/webhooks/{e['id']}").text  # shown once
    sent = client.post(f"/console/integration/webhooks/{e['id']}/test", data={"csrf_token": csrf_of(r.text)},
                       follow_redirects=True)
    assert "Test delivered" in sent.text
    headers, body = receiver["requests"][-1]
    headers = {k.lower(): v for k, v in headers.items()}
    assert Webhook(secret).verify(body, headers)["type"] == "webhook.test"
    with pytest.raises(WebhookVerificationError):
        Webhook(e["secret"]).verify(body, headers)


def test_deleting_an_endpoint_needs_the_confirmation(client, shop, admin, receiver):  # noqa: F811
    e = _endpoint(client, admin, receiver["url"])
    sign_in(client, shop.users["admin"])
    page = client.get(f"/console/integration/webhooks/{e['id']}").text
    r = client.post(f"/console/integration/webhooks/{e['id']}/delete", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 422 and 'data-field="confirm"' in r.text
    assert client.get(f"/api/v1/webhooks/{e['id']}", headers=admin).status_code == 200
    r = client.post(f"/console/integration/webhooks/{e['id']}/delete", data={"csrf_token": csrf_of(page),
                                                                             "confirm": "yes"}, follow_redirects=True)
    assert f"Endpoint {e['id']} ({receiver['url']}) deleted" in r.text
    assert client.get(f"/api/v1/webhooks/{e['id']}", headers=admin).status_code == 404
    assert client.get(f"/console/integration/webhooks/{e['id']}").status_code == 404


def test_only_admins_edit_endpoints(client, shop, admin, receiver):  # noqa: F811
    e = _endpoint(client, admin, receiver["url"])
    sign_in(client, shop.users["staff"])
    assert client.get(f"/console/integration/webhooks/{e['id']}").status_code == 403
    page = client.get("/console").text
    for action in ("rotate-secret", "delete"):
        r = client.post(f"/console/integration/webhooks/{e['id']}/{action}", data={"csrf_token": csrf_of(page),
                                                                                  "confirm": "yes"})
        assert r.status_code == 403, action
    assert client.get(f"/api/v1/webhooks/{e['id']}", headers=admin).status_code == 200

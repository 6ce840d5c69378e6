"""A location's console page: an admin changes its name, address, position, time zone and opening
hours with several spans a day; bad input is named beside its field and nothing is saved;
staff read it but, as in the API, may not change or create locations."""

from __future__ import annotations

import re

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _form(page: str, **changes: str) -> dict[str, str]:
    base = {"csrf_token": csrf_of(page), "name": "Warsaw store", "kind": "store", "address": "Marszałkowska 1",
            "lat": "52.2297", "lon": "21.0122", "timezone": "Europe/Warsaw", "priority": "100", "pickup": "on",
            "accepts_returns": "on", "ships": "on", "active": "on", "hours_mon": "09:00-13:00, 14:00-18:00",
            "hours_sat": "10:00-14:00"}
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def _error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def test_admin_edits_a_store_with_split_opening_hours(client, shop):
    sign_in(client, shop.users["admin"])
    assert 'href="/console/locations/ST-WAW"' in client.get("/console/locations").text
    page = client.get("/console/locations/ST-WAW").text
    r = client.post("/console/locations/ST-WAW/edit", data=_form(page, name="Warsaw flagship", lat="52,2300"),
                    follow_redirects=True)
    assert "Warsaw flagship saved." in r.text
    loc = client.get("/api/v1/locations/ST-WAW").json()
    assert (loc["name"], loc["address"], loc["lat"], loc["timezone"]) == ("Warsaw flagship", "Marszałkowska 1", 52.23,
                                                                         "Europe/Warsaw")
    assert loc["opening_hours"] == {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "sat": [["10:00", "14:00"]]}
    assert 'value="09:00-13:00, 14:00-18:00"' in client.get("/console/locations/ST-WAW").text


def test_bad_location_input_is_named_beside_the_field_and_nothing_is_saved(client, shop):
    sign_in(client, shop.users["admin"])
    page = client.get("/console/locations/ST-WAW").text
    for changes, field, words in (({"hours_tue": "9 to 5"}, "hours_tue", "is not a span"),
                                  ({"hours_wed": "18:00-09:00"}, "hours_wed", "must open before it closes"),
                                  ({"lat": "123"}, "lat", "less than or equal to 90"),
                                  ({"timezone": "Europe/Warsw"}, "timezone", "is not a time zone"),
                                  ({"name": ""}, "name", "at least 1 character"),
                                  ({"priority": ""}, "priority", "valid integer")):
        r = client.post("/console/locations/ST-WAW/edit", data=_form(page, name="Renamed", **changes)
                        if "name" not in changes else _form(page, **changes))
        assert r.status_code == 422, changes
        assert words in _error(r.text, field), changes
    loc = client.get("/api/v1/locations/ST-WAW").json()
    assert loc["name"] == "Warsaw store" and loc["opening_hours"] == {}


def test_staff_read_locations_but_only_admins_change_them_as_in_the_api(client, shop, make_key):
    sign_in(client, shop.users["staff"])
    page = client.get("/console/locations/ST-WAW")
    assert page.status_code == 200 and "<fieldset disabled" in page.text
    listing = client.get("/console/locations").text
    assert 'method="post" action="/console/locations' not in listing and "changed by an administrator" in listing
    token = csrf_of(page.text)
    assert client.post("/console/locations/ST-WAW/edit", data=_form(page.text, name="Mine")).status_code == 403
    assert client.post("/console/locations/ST-WAW", data={"csrf_token": token, "active": "on"}).status_code == 403
    assert client.post("/console/locations", data={"csrf_token": token, "code": "X1", "name": "X",
                                                   "kind": "store"}).status_code == 403
    api = client.patch("/api/v1/locations/ST-WAW", json={"name": "Mine"}, headers=make_key("staff"))
    assert api.status_code == 403  # the same line in the API
    assert client.get("/api/v1/locations/ST-WAW").json()["name"] == "Warsaw store"
    sign_in(client, shop.users["support_agent"])
    assert client.get("/console/locations/ST-WAW").status_code == 403


def test_console_location_create_validates_as_the_api(client, shop):
    sign_in(client, shop.users["admin"])
    page = client.get("/console/locations").text
    r = client.post("/console/locations", data={"csrf_token": csrf_of(page), "code": "bad code", "name": "X",
                                                "kind": "store"}, follow_redirects=True)
    assert "Not saved" in r.text and "code" in r.text
    assert client.get("/api/v1/locations/bad code").status_code == 404
    r = client.post("/console/locations", data={"csrf_token": csrf_of(page), "code": "ST-LOD", "name": "Łódź",
                                                "kind": "store", "lat": "91"}, follow_redirects=True)
    assert "Not saved" in r.text and client.get("/api/v1/locations/ST-LOD").status_code == 404


def test_the_lists_quick_form_keeps_a_days_later_spans(client, shop):
    """Before: the locations list's form shows a day's first span only, and saving it dropped the rest."""
    sign_in(client, shop.users["admin"])
    page = client.get("/console/locations/ST-WAW").text
    client.post("/console/locations/ST-WAW/edit", data=_form(page))
    listing = client.get("/console/locations").text
    r = client.post("/console/locations/ST-WAW", data={"csrf_token": csrf_of(listing), "pickup": "on", "active": "on",
                                                       "open_mon": "09:00", "close_mon": "13:00",
                                                       "open_sat": "11:00", "close_sat": "15:00"},
                    follow_redirects=True)
    assert "ST-WAW saved." in r.text
    hours = client.get("/api/v1/locations/ST-WAW").json()["opening_hours"]
    assert hours == {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "sat": [["11:00", "15:00"]]}

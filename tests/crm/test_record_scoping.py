"""Record-level scoping of the CRM routes, enforced in the services the routes call: a customer
reaches only its own records, a sales rep only its own accounts, and a referral code is
applied by a customer to itself only. Each request crosses the line through the real API."""

from __future__ import annotations

API = "/api/v1"


def test_a_customer_reads_only_its_own_consents_and_loyalty(client, new_customer, make_key):
    mine, other = new_customer(email="mine@example.com"), new_customer(email="other@example.com")
    me = make_key("customer", customer_id=mine["id"])
    for path in ("consents", "loyalty"):
        assert client.get(f"{API}/customers/{mine['id']}/{path}", headers=me).status_code == 200, path
        theirs = client.get(f"{API}/customers/{other['id']}/{path}", headers=me)
        assert theirs.status_code == 404, path
        assert theirs.headers["content-type"].startswith("application/problem+json")


def test_a_sales_rep_lists_identities_only_of_its_own_accounts(client, new_customer, make_key):
    rep = make_key("sales_rep")
    own = client.post(f"{API}/customers", json={"email": "account@example.com"}, headers=rep).json()
    house = new_customer(email="house@example.com")
    mine = client.get(f"{API}/customers/{own['id']}/identities", headers=rep)
    assert mine.status_code == 200 and {"kind": "email", "value": "account@example.com"}.items() <= mine.json()[0].items()
    assert client.get(f"{API}/customers/{house['id']}/identities", headers=rep).status_code == 404


def test_a_customer_applies_a_referral_code_to_itself_only(client, staff, new_customer, make_key):
    referrer = new_customer(email="referrer@example.com", phone="+48600100301")
    newcomer = new_customer(email="newcomer@example.com", phone="+48600100302")
    bystander = new_customer(email="bystander@example.com", phone="+48600100303")
    code = client.post(f"{API}/customers/{referrer['id']}/referral-code", headers=staff).json()["code"]
    me = make_key("customer", customer_id=newcomer["id"])

    for_someone_else = client.post(f"{API}/referrals", json={"code": code, "referred_customer_id": bystander["id"]},
                                   headers=me)
    assert for_someone_else.status_code == 403
    for_myself = client.post(f"{API}/referrals", json={"code": code, "referred_customer_id": newcomer["id"]},
                             headers=me)
    assert for_myself.status_code == 201 and for_myself.json()["referred_id"] == newcomer["id"]
    # the refused attempt wrote nothing: the bystander can still be referred
    by_staff = client.post(f"{API}/referrals", json={"code": code, "referred_customer_id": bystander["id"]},
                           headers=staff)
    assert by_staff.status_code == 201


def test_loyalty_changes_and_merges_name_an_existing_customer(client, staff, new_customer):
    kept = new_customer(email="kept@example.com")
    adjust = client.post(f"{API}/loyalty/adjust", json={"customer_id": 987654, "points": 10, "reason": "goodwill"},
                         headers=staff)
    assert adjust.status_code == 404
    assert client.post(f"{API}/customers/987654/merge", json={"duplicate_id": kept["id"]},
                       headers=staff).status_code == 404
    assert client.get(f"{API}/customers/{kept['id']}", headers=staff).json()["merged_into_id"] is None



def test_a_customer_identifies_only_as_itself(client, new_customer, make_key):
    mine, other = new_customer(email="self@example.com"), new_customer(email="someone@example.com")
    me = make_key("customer", customer_id=mine["id"])
    as_other = client.post(f"{API}/identify", json={"anonymous_id": "tab-1", "customer_id": other["id"]}, headers=me)
    assert as_other.status_code == 403
    as_me = client.post(f"{API}/identify", json={"anonymous_id": "tab-1", "customer_id": mine["id"]}, headers=me)
    assert as_me.status_code == 200 and as_me.json()["customer_id"] == mine["id"]
    # without a key, naming a customer id is refused too (only a link token links to a customer)
    assert client.post(f"{API}/identify", json={"anonymous_id": "tab-2", "customer_id": mine["id"]}).status_code == 403

"""The issue's bad input: a clear 4xx problem naming the field or row, and nothing half-written.
Also: Idempotency-Key on creates, and cursor pagination."""

from __future__ import annotations

from sales_helpers import person, product


def test_an_import_row_with_an_unparseable_phone_names_the_row_and_imports_nothing(client, db):
    rep = person(db, "sales_rep", "Rob")
    csv = ("company,email,phone,country\n"
           "Good Co,good@good.example,+49 30 1234567,DE\n"
           "Bad Phone Co,bad@bad.example,call me maybe,DE\n"
           "Bad Mail Co,not-an-email,,DE\n")
    r = client.post("/api/v1/leads/import", headers=rep.headers, files={"file": ("x.csv", csv.encode(), "text/csv")})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert [(x["row"], x["field"]) for x in body["rows"]] == [(3, "phone"), (4, "email")]
    assert {e["field"] for e in body["errors"]} == {"rows[3].phone", "rows[4].email"}
    assert client.get("/api/v1/leads", headers=rep.headers).json()["items"] == []


def test_an_import_without_a_known_column_or_not_utf8_is_refused(client, db):
    rep = person(db, "sales_rep", "Rob")
    r = client.post("/api/v1/leads/import", headers=rep.headers, content=b"foo,bar\n1,2\n",
                    params={}, )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = client.post("/api/v1/leads/import", headers=rep.headers,
                    files={"file": ("x.csv", "company\nM\xfcller".encode("latin-1"), "text/csv")})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"


def test_xlsx_import_and_a_single_duplicate_lead_is_merged(client, db):
    import io

    from openpyxl import Workbook

    rep = person(db, "sales_rep", "Rob")
    wb = Workbook()
    ws = wb.active
    ws.append(["Company", "E-mail", "VAT"])
    ws.append(["Fair Trade Seeds", "buy@fts.example", "DE 123.456.789"])
    ws.append(["Other Seeds", None, "DE123456789"])
    buf = io.BytesIO()
    wb.save(buf)
    r = client.post("/api/v1/leads/import", headers=rep.headers, params={"source": "trade_fair"},
                    files={"file": ("scanner.xlsx", buf.getvalue(), "application/octet-stream")})
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["merged"], r.json()["merges"][0]["matched_on"]) == (1, 1, "tax_id")
    r = client.post("/api/v1/leads", headers=rep.headers, json={"source": "api", "email": "BUY@fts.example"})
    assert r.status_code == 201 and r.json()["merged"] and r.json()["matched_on"] == "email"
    r = client.post("/api/v1/leads", headers=rep.headers, json={"phone": "12"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "phone"


def test_a_deal_cannot_jump_to_signed_or_be_lost_without_a_reason(client, db):
    rep = person(db, "sales_rep", "Rob")
    acc = client.post("/api/v1/accounts", headers=rep.headers, json={"name": "Move Co"}).json()
    deal = client.post("/api/v1/deals", headers=rep.headers, json={
        "title": "d", "account_id": acc["id"], "amount": {"currency": "EUR", "amount": "10.00"}}).json()
    url = f"/api/v1/deals/{deal['id']}/move"
    r = client.post(url, json={"stage": "signed"}, headers=rep.headers)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "stage"
    r = client.post(url, json={"stage": "lost"}, headers=rep.headers)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "lost_reason"
    r = client.post(url, json={"stage": "nowhere"}, headers=rep.headers)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "stage"
    got = client.get(f"/api/v1/deals/{deal['id']}", headers=rep.headers).json()
    assert got["stage"] == "visit" and len(got["history"]) == 1
    r = client.post(url, json={"stage": "lost", "lost_reason": "went with a competitor"}, headers=rep.headers)
    assert r.status_code == 200
    r = client.post(url, json={"stage": "visit"}, headers=rep.headers)
    assert r.status_code == 409  # a closed deal does not move


def test_quote_bad_lines_and_money_are_named(client, db):
    rep = person(db, "sales_rep", "Rob")
    product(db, "SEED-1", "100.00")
    acc = client.post("/api/v1/accounts", headers=rep.headers, json={"name": "Quote Co"}).json()
    r = client.post("/api/v1/quotes", headers=rep.headers, json={
        "account_id": acc["id"], "lines": [{"sku": "SEED-1", "quantity": 1}, {"sku": "NOPE", "quantity": 1}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lines[1].sku"
    r = client.post("/api/v1/quotes", headers=rep.headers, json={
        "account_id": acc["id"], "lines": [{"sku": "SEED-1", "quantity": 1, "discount_percent": "120"}]})
    assert r.status_code == 422 and "discount_percent" in r.json()["errors"][0]["field"]
    r = client.post("/api/v1/deals", headers=rep.headers, json={
        "title": "d", "account_id": acc["id"], "amount": {"currency": "EUR", "amount": 1.5}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("amount")
    assert client.get("/api/v1/quotes", headers=rep.headers).json()["items"] == []


def test_idempotency_key_creates_once_and_pages_use_cursors(client, db):
    rep = person(db, "sales_rep", "Rob")
    body = {"name": "Once Co", "tax_id": "DE999"}
    h = {**rep.headers, "Idempotency-Key": "acc-1"}
    first = client.post("/api/v1/accounts", headers=h, json=body)
    second = client.post("/api/v1/accounts", headers=h, json=body)
    assert first.status_code == second.status_code == 201 and first.json()["id"] == second.json()["id"]
    dup = client.post("/api/v1/accounts", headers=rep.headers, json=body)
    assert dup.status_code == 409 and dup.json()["errors"][0]["field"] == "tax_id"
    for i in range(4):
        client.post("/api/v1/leads", headers=rep.headers, json={"email": f"p{i}@page.example"})
    page1 = client.get("/api/v1/leads", params={"limit": 3}, headers=rep.headers).json()
    page2 = client.get("/api/v1/leads", params={"limit": 3, "cursor": page1["next_cursor"]}, headers=rep.headers).json()
    ids = [x["id"] for x in page1["items"] + page2["items"]]
    assert len(ids) == len(set(ids)) == 4 and page2["next_cursor"] is None
    assert client.get("/api/v1/leads", params={"cursor": "junk"}, headers=rep.headers).status_code == 422

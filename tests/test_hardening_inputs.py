"""Hardening of input and output (issue 23, findings 8, 9 and the input lows of 16):
spreadsheet exports never carry a live formula; odd input gets a 4xx problem naming the
field instead of a 500; a 500 that still happens is logged with its stack trace, answered
with the request id and leaves the connection open."""

from __future__ import annotations

import csv
import io
import json
import logging
import socket
import threading
import time

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

FORMULA = '=HYPERLINK("http://x","y")'
BIG_ID = 2**63


def _product(client, admin, sku: str, name: str, **extra):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/products", json={"sku": sku, "name": name,
                                               "price": {"amount": "9.99", "currency": "EUR"}, **extra}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


def _xlsx_cells(content: bytes) -> list[tuple]:  # (value, data type) of every cell
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [(c.value, c.data_type) for row in sheet.iter_rows() for c in row]


def _assert_inert_xlsx(content: bytes) -> None:
    cells = _xlsx_cells(content)
    assert ("'" + FORMULA, "s") in cells
    assert not any(t == "f" for _, t in cells) and FORMULA not in [v for v, _ in cells]


# -- finding 8: formula injection in every export -----------------------------------------------


def test_product_csv_and_xlsx_exports_neutralise_formulas_and_read_back(client, admin):
    _product(client, admin, "INJ-1", FORMULA)
    _product(client, admin, "INJ-2", "-1 plain name")
    r = client.get("/api/v1/products/export?format=csv", headers=admin)
    assert r.status_code == 200
    rows = {row[0]: row for row in csv.reader(io.StringIO(r.text))}
    assert rows["INJ-1"][1] == "'" + FORMULA and rows["INJ-2"][1] == "'-1 plain name"
    xlsx = client.get("/api/v1/products/export?format=xlsx", headers=admin)
    _assert_inert_xlsx(xlsx.content)
    # importing our own export changes nothing: the apostrophe is ours, not the name's
    back = client.post("/api/v1/products/import", files={"file": ("p.csv", r.content, "text/csv")}, headers=admin)
    assert back.json()["unchanged"] == 2, back.text
    assert client.get("/api/v1/products?sku=INJ-1", headers=admin).json()["items"][0]["name"] == FORMULA


def test_public_channel_feed_csv_neutralises_formulas(client, admin):
    _product(client, admin, "FEED-1", FORMULA, channels=["web"])
    r = client.get("/api/v1/channels/web/feed?format=csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text)))
    title = rows[0].index("title")
    assert [row[title] for row in rows[1:]] == ["'" + FORMULA]


def test_segment_csv_and_xlsx_exports_neutralise_a_guest_first_name(client, make_key):
    staff = make_key("staff")
    r = client.post("/api/v1/customers", json={"email": "eve@example.com", "first_name": FORMULA, "country": "PL"},
                    headers=staff)
    assert r.status_code == 201, r.text
    seg = client.post("/api/v1/segments", json={"name": "PL", "expression": "country == 'PL'"}, headers=staff).json()
    csv_rows = list(csv.reader(io.StringIO(client.get(f"/api/v1/segments/{seg['id']}/export?format=csv",
                                                      headers=staff).text)))
    assert csv_rows[1][3] == "'" + FORMULA
    _assert_inert_xlsx(client.get(f"/api/v1/segments/{seg['id']}/export?format=xlsx", headers=staff).content)


def test_analytics_and_connector_report_exports_neutralise_formulas_and_keep_numbers():
    from merx.analytics import exports
    from merx.integration.connectors.service import error_report_csv
    from merx.integration.schemas import ImportJobOut

    columns, rows = ["product", "revenue"], [{"product": FORMULA, "revenue": "-12.50"}]
    assert list(csv.reader(io.StringIO(exports.to_csv(columns, rows).decode()))) == [
        ["product", "revenue"], ["'" + FORMULA, "-12.50"]]
    cells = _xlsx_cells(exports.to_xlsx(columns, rows, "sales", notes=["@note"]))
    assert ("'" + FORMULA, "s") in cells and (-12.5, "n") in cells  # a real negative number stays a number
    job = ImportJobOut.model_construct(errors=[{"row": 2, "field": "name", "message": "bad", "value": FORMULA}])
    report = list(csv.reader(io.StringIO(error_report_csv(job))))
    assert report[1] == ["2", "name", "bad", "'" + FORMULA]


def test_xlsx_export_survives_control_characters_stored_before_the_input_check(client, admin, db):
    _product(client, admin, "CTL-1", "Bell")
    with db.engine.begin() as conn:  # a row from before names were checked
        conn.execute(sa.text("UPDATE catalog_products SET name = :n"), {"n": "Bell\x07 ring"})
    r = client.get("/api/v1/products/export?format=xlsx", headers=admin)
    assert r.status_code == 200
    assert ("Bell ring", "s") in _xlsx_cells(r.content)


# -- finding 9: 4xx naming the field, never a 500 -------------------------------------------------


def _field_error(r, field: str, status: int = 422) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.text


@pytest.mark.backends("sqlite", "postgresql")
def test_patch_with_null_for_a_required_field_is_a_422(client, admin):
    seller = client.post("/api/v1/sellers", json={"code": "s1", "name": "S1"}, headers=admin).json()
    for field in ("name", "premium", "violations", "active"):
        _field_error(client.patch(f"/api/v1/sellers/{seller['id']}", json={field: None}, headers=admin), field)
    product = _product(client, admin, "NULL-1", "Mug")
    _field_error(client.patch(f"/api/v1/products/{product['id']}", json={"media": None}, headers=admin), "media")
    assert client.patch(f"/api/v1/sellers/{seller['id']}", json={"rating": None}, headers=admin).status_code == 200


@pytest.mark.parametrize("percent", ["NaN", "Infinity", "-Infinity", "sNaN", "١٠"])
def test_promotion_percent_must_be_a_finite_ascii_number(client, admin, percent):
    r = client.post("/api/v1/promotions", json={"name": "p", "kind": "cart_percent", "percent": percent}, headers=admin)
    _field_error(r, "percent")


@pytest.mark.backends("sqlite", "postgresql")
def test_ids_beyond_64_bits_are_a_422_naming_the_parameter(client, admin):
    _field_error(client.get(f"/api/v1/products/{BIG_ID}", headers=admin), "product_id")
    _field_error(client.get(f"/api/v1/carts/-{BIG_ID * 10}"), "cart_id")
    _field_error(client.get(f"/api/v1/products?seller={BIG_ID}", headers=admin), "seller")
    r = client.post("/api/v1/products", json={"sku": "BIG-1", "name": "Big", "seller_id": BIG_ID,
                                               "price": {"amount": "1.00", "currency": "EUR"}}, headers=admin)
    _field_error(r, "seller_id")
    # the largest id is still a plain "not found"
    assert client.get(f"/api/v1/products/{BIG_ID - 1}", headers=admin).status_code == 404
    # a search for a long number is text, not an id
    assert client.get("/api/v1/search", params={"q": "9" * 25}).status_code == 200


def test_search_by_a_negative_seller_id_is_a_422(client):
    # the search index stores seller ids unsigned: found by the fuzz test (tests/test_schemathesis.py)
    _field_error(client.get("/api/v1/search?seller_id=-172861024"), "seller_id")


@pytest.mark.backends("sqlite", "postgresql")
def test_nul_and_control_characters_are_refused_naming_the_field(client, admin):
    _field_error(client.get("/api/v1/search?q=%00"), "q")
    _field_error(client.get("/api/v1/search?q=a%01b"), "q")
    r = client.post("/api/v1/customers", json={"email": "nul@example.com", "first_name": "A\x00B"}, headers=admin)
    _field_error(r, "first_name")
    r = client.post("/api/v1/products", json={"sku": "CTL-2", "name": "Bell\x07", "attributes": {"note": "x\x00"},
                                               "price": {"amount": "1.00", "currency": "EUR"}}, headers=admin)
    _field_error(r, "name")
    # tabs and new lines are ordinary text
    _product(client, admin, "CTL-3", "Mug", description="line one\n\tline two")


@pytest.mark.backends("sqlite", "postgresql")
def test_import_keeps_good_rows_when_one_breaks_the_api_limits(client, admin, db):
    rows = [["sku", "name", "price", "currency"], ["LONG-1", "Good one", "1.00", "EUR"],
            ["LONG-2", "x" * 501, "1.00", "EUR"], ["LONG-3", "Bell\x07", "1.00", "EUR"], ["LONG-4", "Good two", "2.00", "EUR"]]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    r = client.post("/api/v1/products/import", files={"file": ("p.csv", buf.getvalue().encode(), "text/csv")},
                    headers=admin)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["failed"]) == (2, 2)
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(3, "name"), (4, "name")}
    with db.engine.connect() as conn:
        names = conn.execute(sa.text("SELECT name FROM catalog_products ORDER BY name")).scalars().all()
    assert names == ["Good one", "Good two"]


@pytest.mark.backends("sqlite", "postgresql")
def test_a_database_refusal_is_a_problem_not_a_500(client, admin, app):
    """The mapping behind the input checks: a constraint or type error the schemas missed."""
    from merx.core.db import Base

    table = Base.metadata.tables["catalog_products"]

    @app.get("/test-only/duplicate-sku")
    def duplicate() -> None:  # a write that breaks a unique constraint
        with app.state.db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE catalog_variants SET sku = 'DUP-1'"))

    @app.get("/test-only/too-long")
    def too_long() -> None:
        with app.state.db.engine.begin() as conn:
            conn.execute(table.update().values(status="x" * 100 if app.state.db.dialect == "postgresql" else 2**64))

    _product(client, admin, "DUP-1", "One")
    _product(client, admin, "DUP-2", "Two")
    _field_error(client.get("/test-only/duplicate-sku"), "sku", 409)
    _field_error(client.get("/test-only/too-long"), "body", 422)


# -- a 500 that still happens ---------------------------------------------------------------------


def _serve(app) -> tuple[object, int]:  # type: ignore[no-untyped-def]
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, sock.getsockname()[1]


def _read_response(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", "0")):
        body += conn.recv(65536)
    return int(lines[0].split()[1]), headers, body


def test_a_500_logs_its_stack_trace_returns_the_request_id_and_keeps_the_connection(app):
    from merx.core.observability import JsonFormatter

    @app.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    log_lines = io.StringIO()
    handler = logging.StreamHandler(log_lines)
    handler.setFormatter(JsonFormatter())  # the server's own log format
    logging.getLogger("merx").addHandler(handler)
    server, port = _serve(app)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET /test-only/boom HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = _read_response(conn)
            assert status == 500
            problem = json.loads(body)
            assert headers["content-type"] == "application/problem+json"
            assert problem["request_id"] == headers["x-request-id"]
            # the same connection answers the next request
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _read_response(conn)[0] == 200
    finally:
        logging.getLogger("merx").removeHandler(handler)
        server.should_exit = True
    logged = next(e for e in map(json.loads, log_lines.getvalue().splitlines()) if e["msg"] == "unhandled error")
    assert logged["request_id"] == problem["request_id"]
    assert logged["exc"].startswith("Traceback") and "in boom" in logged["exc"] and "RuntimeError: kaboom" in logged["exc"]


# -- finding 16, the input lows -------------------------------------------------------------------


@pytest.mark.parametrize("url,secret", [
    ("postgresql://merx:pa@ss@db.internal/merx", "ss@db"),
    ("postgresql://merx@db.internal/merx?password=s3cret&sslmode=require", "s3cret"),
    ("postgresql://merx:s3cret@db.internal/merx?sslpassword=k3y", "k3y"),
])
def test_merx_config_masks_every_database_password(monkeypatch, url, secret):
    from typer.testing import CliRunner

    from merx.cli import app as cli
    from merx.core.settings import reset_settings_cache

    monkeypatch.setenv("MERX_DATABASE_URL", url)
    reset_settings_cache()
    try:
        out = CliRunner().invoke(cli, ["config"]).output
    finally:
        reset_settings_cache()
    shown = json.loads(out)["database_url"]
    assert secret not in shown and "s3cret" not in shown and "db.internal" in shown


def test_a_chunked_body_over_the_limit_is_a_413(db, tmp_path, make_key):
    from fastapi.testclient import TestClient

    from merx.app import create_app
    from merx.core.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, log_level="CRITICAL", max_body_bytes=64 * 1024,
                              max_upload_bytes=64 * 1024), db)
    admin = make_key("admin")
    boundary = "b0undary"

    def json_body():  # type: ignore[no-untyped-def]  # a generator: sent chunked, no Content-Length
        yield b'{"sku": "BIG", "name": "'
        for _ in range(40):
            yield b"x" * 4000
        yield b'"}'

    def multipart_body():  # type: ignore[no-untyped-def]
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\n"
               "Content-Type: text/csv\r\n\r\nsku,name\r\n").encode()
        for _ in range(40):
            yield b"X-1,name\r\n" * 400
        yield f"\r\n--{boundary}--\r\n".encode()

    with TestClient(app) as client:
        as_json = client.post("/api/v1/products", content=json_body(),
                              headers={**admin, "Content-Type": "application/json"})
        upload = client.post("/api/v1/products/import", content=multipart_body(),
                             headers={**admin, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert client.get("/api/v1/products", headers=admin).json()["items"] == []
    for r in (as_json, upload):
        assert r.status_code == 413, r.text
        assert r.json()["errors"][0]["field"] == "body"


@pytest.mark.backends("sqlite", "postgresql")
def test_database_errors_never_carry_bound_customer_data(client, admin, app, db, caplog):
    from merx.customers.models import Customer

    insert = sa.insert(Customer.__table__).values(email="private.person@example.com", version=1,
                                                  created_at=sa.func.now(), updated_at=sa.func.now())

    @app.get("/test-only/duplicate-customer")
    def duplicate() -> None:
        with db.engine.begin() as conn:
            conn.execute(insert)

    client.post("/api/v1/customers", json={"email": "private.person@example.com"}, headers=admin)
    with pytest.raises(sa.exc.IntegrityError) as caught, db.engine.begin() as conn:
        conn.execute(insert)
    # SQLAlchemy's part of the message (statement and parameters) holds no bound values
    assert "SQL parameters hidden" in str(caught.value)
    logging.getLogger("merx").addHandler(caplog.handler)
    try:
        r = client.get("/test-only/duplicate-customer")
    finally:
        logging.getLogger("merx").removeHandler(caplog.handler)
    assert r.status_code == 409 and "private.person" not in r.text
    assert "private.person" not in caplog.text


def test_customer_search_treats_like_wildcards_as_text(client, admin):
    for email, first in (("a@example.com", "Ann"), ("b@example.com", "Bo_b"), ("c@example.com", "100% Carl")):
        assert client.post("/api/v1/customers", json={"email": email, "first_name": first},
                           headers=admin).status_code == 201
    def names(q: str) -> list[str]:
        return [c["first_name"] for c in client.get("/api/v1/customers", params={"q": q}, headers=admin).json()["items"]]

    assert names("_") == ["Bo_b"]
    assert names("%") == ["100% Carl"]


@pytest.mark.parametrize("amount", ["١٩.٩٩", "１９.９９", "۱۹", "1²"])
def test_money_takes_ascii_digits_only(client, admin, amount):
    r = client.post("/api/v1/products", json={"sku": "DIG-1", "name": "Mug",
                                               "price": {"amount": amount, "currency": "EUR"}}, headers=admin)
    _field_error(r, "price.amount")


def test_a_seller_rating_has_at_most_two_decimals(client, admin):
    _field_error(client.post("/api/v1/sellers", json={"code": "r9", "name": "R", "rating": "4.123456789"},
                             headers=admin), "rating")
    _field_error(client.post("/api/v1/sellers", json={"code": "r8", "name": "R", "rating": "٤"}, headers=admin),
                 "rating")
    ok = client.post("/api/v1/sellers", json={"code": "r2", "name": "R", "rating": "4.75"}, headers=admin)
    assert ok.status_code == 201 and ok.json()["rating"] == "4.75"


def test_portfolio_chart_of_a_shop_without_sales_is_drawn(client, admin):
    # found by the fuzz test: a log scale cannot place products that sold nothing
    _product(client, admin, "NOSALE-1", "Unsold mug")
    r = client.get("/api/v1/analytics/portfolio?format=svg", headers=admin)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml")

"""A new user's first hour, walked in Chromium (#20): `merx demo` builds a shop (a smaller
catalog and the small year of history, to keep CI quick), `merx serve` serves it, and the
browser walks it as a merchant, a shopper, a store associate and a kiosk would:

- the console: every page reachable by links from the dashboard, breadth first, one page per
  path shape (`/console/orders/{n}` once: the first order of the list), so every list's first
  record opens its detail page; every download link answers; every report or list page (not a
  record's page, not a form) shows data where the demo has some (tests/web/demo_walk_checks.py
  says what "empty" is; the truthful empty states are listed in ACCEPTED_EMPTY);
- the storefront: home, a category, search, a product, the cart, a checkout with pickup in a
  store through to the confirmation, and a shopper's account pages;
- the store associate app at a phone's width (360 px) and the kiosk of a store.

No page may be an error page, say "not available yet", or log a browser console error.
Screenshots go to test-artifacts/web/demo-walk-*.png. MERX_DEMO_WALK_URL points the walk at a
demo already served (`merx demo --products 300 --size small`), to rerun it without the build."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from typing import Any, Iterator

import httpx
import pytest

from tests.web.conftest import PageErrors, shot
from tests.web.demo_walk_checks import empty_markers, shot_name, sign_in, visit

pytestmark = pytest.mark.slow

PHONE = {"width": 360, "height": 740}
DOWNLOAD = re.compile(r"\.(csv|xlsx|pdf|json)$|/pdf$")  # .json: a customer's GDPR export
NOT_A_PAGE = re.compile(r"/(logout|login)$|/chats/\{n\}/messages$")  # sign-in/out, and a chat's HTMX fragment
RECORD_OR_FORM = re.compile(r"\{n\}|/new$|/password$")  # a record's own page or a form: not a report
# Empty states that are true of the demo: configuration it leaves for the merchant to set up.
ACCEPTED_EMPTY: dict[str, set[str]] = {
    "/console/search": {"text No synonyms yet.", "text No pins.",
                        "table Queries with no results: Every query found something."},
    # the demo's reactions handle every event: nothing is parked
    "/console/dead-letters": {"table dead-letters: No dead letters: every subscriber handled every event."},
}
# The record pages a merchant opens from the lists; the walk must reach each one.
DETAIL_PAGES = {"/console/orders/{n}", "/console/catalog/{n}", "/console/customers/{n}",
                "/console/support/tickets/{n}", "/console/sales/accounts/{n}", "/console/marketing/messages/{n}",
                # issue #20 build 2: the records whose own pages edit what the API edits
                "/console/promotions/{n}", "/console/sales/deals/{n}", "/console/sales/leads/{n}",
                "/console/integration/webhooks/{n}",
                # issue 20 part B: the forms on a customer, a segment, a campaign
                "/console/customers/{n}/edit", "/console/customers/{n}/loyalty", "/console/segments/{n}",
                "/console/marketing/campaigns/{n}", "/console/new-order", "/console/new-customer",
                # issue 20 part C: a user's page, the full promotion form, a new connector
                "/console/users/{n}", "/console/new-promotion", "/console/new-connector"}
DOWNLOADS = {"/console/invoices/{n}.pdf", "/console/costs.csv", "/console/sales/quotes/{n}/pdf",
             "/console/customers/{n}/export.json", "/console/audit-log.csv", "/console/audit-log.xlsx"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("MERX_DEMO_WALK_URL"):
        yield os.environ["MERX_DEMO_WALK_URL"].rstrip("/")
        return
    data_dir = tmp_path_factory.mktemp("demo-walk")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERX_")}
    env.update({"MERX_DATA_DIR": str(data_dir), "MERX_SECRET_KEY": "demo-walk-secret-key-0123456789abcdef",
                "MERX_LOG_LEVEL": "WARNING", "MERX_DEMO_VECTOR_CACHE": str(data_dir / "vector-cache")})
    merx = [sys.executable, "-m", "merx.cli"]
    built = subprocess.run([*merx, "demo", "--no-serve", "--products", "300", "--size", "small"], env=env,
                           capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]
    port = _free_port()
    log = open(data_dir / "serve.log", "wb")
    proc = subprocess.Popen([*merx, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, (data_dir / "serve.log").read_text()[-3000:]
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        pytest.fail("merx serve did not answer /healthz")
    _wait_until_subscribers_caught_up(url, built.stdout.strip().splitlines()[-1], proc, data_dir)
    yield url
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _wait_until_subscribers_caught_up(url: str, admin_key: str, proc: Any, data_dir: Any) -> None:
    """Real readiness, not a sleep: every durable subscriber (invoices, campaign revenue, CRM
    facts, search's signals and this replica's index) has reached the outbox's end. The demo
    catches them all up before it exits; the server may add events of its own at start."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    deadline, behind = time.monotonic() + 120, None
    while time.monotonic() < deadline:
        assert proc.poll() is None, (data_dir / "serve.log").read_text()[-3000:]
        answer = httpx.get(f"{url}/api/v1/subscribers", headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        rows = answer.json()["subscribers"]
        behind = {r["name"]: r["lag"] for r in rows if r["lag"] is None or r["lag"] > 0}
        if rows and not behind:
            return
        time.sleep(0.5)
    pytest.fail(f"durable subscribers still behind the outbox two minutes after the server started: {behind}")


@pytest.fixture
def open_page(browser: Any, demo_server: str) -> Iterator[Any]:
    contexts: list[Any] = []

    def opener(**options: Any) -> Any:
        context = browser.new_context(base_url=demo_server, **({"viewport": {"width": 1280, "height": 860}} | options))
        context.set_default_timeout(60_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = PageErrors()
        page.errors.attach(page)
        return page

    yield opener
    for context in contexts:
        context.close()


def _shape(href: str) -> str:
    return re.sub(r"\d+", "{n}", href.split("#")[0].split("?")[0])


def _links(page: Any, prefix: str) -> list[str]:
    return page.eval_on_selector_all(f'a[href^="{prefix}"]', "links => links.map(a => a.getAttribute('href'))")


def test_every_console_page_of_the_demo_opens_with_data_and_every_list_opens_its_first_record(open_page) -> None:
    from merx.demo import DEMO_CONSOLE_EMAIL, DEMO_CONSOLE_PASSWORD

    page = open_page(viewport={"width": 1440, "height": 900})
    sign_in(page, "/console/login", DEMO_CONSOLE_EMAIL, DEMO_CONSOLE_PASSWORD, form="form[action='/console/login']")
    sections = _links(page, "/console")
    assert len(set(sections)) >= 20, sections
    queue, seen, downloads, empty = ["/console"], {"/console"}, {}, {}
    while queue:
        href = queue.pop(0)
        visit(page, href, f"console-{shot_name(href.removeprefix('/console'))}")
        shape = _shape(href)
        if not RECORD_OR_FORM.search(shape):
            found = set(empty_markers(page)) - ACCEPTED_EMPTY.get(shape, set())
            if found:
                empty[href] = sorted(found)
        for link in _links(page, "/console"):
            link_shape = _shape(link)
            if DOWNLOAD.search(link_shape):
                downloads.setdefault(link_shape, link.split("#")[0])
            elif not NOT_A_PAGE.search(link_shape) and link_shape not in seen:
                seen.add(link_shape)
                queue.append(link.split("#")[0])
        assert len(seen) < 200, "the walk follows links of a bounded shape set"
    assert DETAIL_PAGES <= seen, DETAIL_PAGES - seen
    assert DOWNLOADS <= set(downloads), DOWNLOADS - set(downloads)
    for shape, href in sorted(downloads.items()):
        answer = page.request.get(href)
        assert answer.status == 200 and len(answer.body()) > 100, (href, answer.status)
    assert empty == {}, empty
    assert page.errors == [], page.errors


def test_a_shopper_browses_the_demo_store_and_checks_out_with_pickup_to_the_confirmation(open_page) -> None:
    page = open_page()
    visit(page, "/", "store-home")
    assert page.locator("main a[href^='/product/']").count() > 0 and empty_markers(page) == []
    visit(page, "/?lang=pl", "store-home-pl")
    categories = page.locator("a[href*='/search?category=']").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert categories, "the home page lists the categories"
    for n, category in enumerate(dict.fromkeys(categories)):  # every category the home page offers has products
        visit(page, category, f"store-category-{n}")
        assert page.locator("#results .product-card").count() > 0 and empty_markers(page) == [], category
    visit(page, "/search?q=lamp", "store-search")
    assert page.locator("#results .product-card").count() > 0 and empty_markers(page) == [], "the demo sells lamps"
    products = page.locator("#results .product-card a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    # The first product a store stocks: its pickup is the one the checkout offers with everything in stock.
    for product in dict.fromkeys(products):
        visit(page, product, "store-product")
        if page.locator("#h-stores + * .badge.in_stock, section:has(#h-stores) .badge.in_stock").count():
            break
    else:
        pytest.fail(f"no lamp of the demo is in stock in a store: {products}")
    name = page.locator("h1").first.inner_text()
    page.click("#add-to-cart button[type=submit]")
    page.wait_for_url("**/cart")
    visit(page, "/cart", "store-cart")
    assert name in page.locator("main").inner_text()
    page.click("#to-checkout")
    page.wait_for_url("**/checkout")
    page.fill("input[name=email]", "walk.shopper@example.com")
    page.fill("input[name=first_name]", "Walk")
    page.check("input[name=fulfilment][value=pickup]")
    stocked = page.locator("select[name=store] option", has_text="all items in stock").first
    store_name = stocked.inner_text().split(" — ")[0]
    page.select_option("select[name=store]", stocked.get_attribute("value"))
    page.check("input[name=payment][value=manual]")
    page.wait_for_load_state("networkidle")
    shot(page, "demo-walk-store-checkout")
    page.click("#place-order")
    page.wait_for_url(re.compile(r"/order/"))
    page.wait_for_load_state("networkidle")
    shot(page, "demo-walk-store-order-confirmation")
    assert page.locator(".error-box").count() == 0
    assert store_name in page.locator("#pickup-store").inner_text()  # the store's name, not its code
    assert page.locator("#pickup-hours").count() == 1
    assert name in page.locator("main").inner_text()
    assert page.errors == [], page.errors


def test_a_demo_shopper_signs_in_and_finds_orders_invoices_and_addresses(open_page) -> None:
    from merx.demo import DEMO_SHOPPER_PASSWORD

    page = open_page()
    visit(page, "/account/sign-in", "store-sign-in")
    sign_in(page, "/account/sign-in", "demo.buyer0@example.com", DEMO_SHOPPER_PASSWORD,  # printed by `merx demo`
            form="#sign-in-form")
    assert page.locator("#order-history tbody tr").count() >= 1
    visit(page, "/account/orders", "store-account-orders")
    order = page.locator("#order-history a").first.get_attribute("href")
    visit(page, order, "store-account-order")
    assert page.locator("#documents a").count() >= 1, page.locator("main").inner_text()  # the card order's invoice
    visit(page, "/account/addresses", "store-account-addresses")
    assert page.locator("#address-book .address").count() == 1  # from the demo buyer's last order
    for path, name in (("/account/carts", "carts"), ("/account/privacy", "privacy"), ("/inbox", "inbox")):
        visit(page, path, f"store-account-{name}")
    assert page.errors == [], page.errors


def test_the_demo_associate_walks_the_store_app_on_a_phone(open_page) -> None:
    from merx.instore.demo import DEMO_ASSOCIATE_EMAIL, DEMO_ASSOCIATE_PASSWORD

    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, "/associate/login", DEMO_ASSOCIATE_EMAIL, DEMO_ASSOCIATE_PASSWORD)
    visit(page, "/associate", "associate-home")
    tiles = [h for h in dict.fromkeys(_links(page, "/associate/")) if not DOWNLOAD.search(h)]
    visit(page, "/associate/find?q=lamp", "associate-find")
    product = page.locator("main a[href^='/associate/product/']").first.get_attribute("href")
    pages = ["/associate", "/associate/find?q=lamp"]
    for href in [product, *tiles]:
        if _shape(href) in map(_shape, pages) or NOT_A_PAGE.search(href) or "manifest" in href or href.endswith(".js"):
            continue
        pages.append(href)
        visit(page, href, f"associate-{shot_name(href.removeprefix('/associate'))}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{href} is {width}px wide on a {PHONE['width']}px phone"
    for must in ("/associate/pickups", "/associate/customers", "/associate/returns", "/associate/reports"):
        assert must in pages, pages
    # Marta works in Warsaw and Gdańsk; the demo's counter story (pickups, figures) is Warsaw's.
    visit(page, "/associate", "associate-home")
    page.select_option("form[action='/associate/store'] select[name=store]", "ST-WAW")
    page.click("form[action='/associate/store'] button[type=submit]")
    page.wait_for_url("**/associate")
    assert page.locator("#current-store").inner_text() == "Warsaw store"
    visit(page, "/associate/pickups", "associate-pickups-warsaw")
    assert "Nothing waiting." not in page.locator("main").inner_text(), "a Warsaw pickup is ready in the demo"
    visit(page, "/associate/reports", "associate-reports-warsaw")
    assert empty_markers(page) == [], "the demo's Warsaw store has figures"
    assert page.errors == [], page.errors


def test_the_demo_kiosk_of_a_store_takes_an_order_and_opens_its_payment_link(open_page) -> None:
    page = open_page(viewport={"width": 1080, "height": 1920})
    visit(page, "/kiosk/ST-WAW", "kiosk-home")
    page.fill("#kiosk-q", "lamp")
    page.press("#kiosk-q", "Enter")
    page.wait_for_url(re.compile(r"/kiosk/ST-WAW/search"))
    visit(page, page.url.removeprefix(page.url.split("/kiosk/")[0]), "kiosk-search")
    assert page.locator("#kiosk-results li").count() > 0
    product = page.locator("#kiosk-results a").first.get_attribute("href")
    visit(page, product, "kiosk-product")
    name = page.locator("#product-name").inner_text()
    page.click("#kiosk-add")
    page.wait_for_url(re.compile(r"/kiosk/ST-WAW/checkout"))
    visit(page, "/kiosk/ST-WAW/checkout", "kiosk-checkout")
    assert name in page.locator("main").inner_text()
    page.fill("#kiosk-order input[name=email]", "walk.kiosk@example.com")
    page.check("#kiosk-order input[name=fulfilment][value=ship]")
    for field, value in (("name", "Walk Kiosk"), ("line1", "ul. Prosta 1"), ("city", "Warszawa"),
                         ("postal_code", "00-850")):
        page.fill(f"#kiosk-order input[name={field}]", value)
    page.click("#kiosk-place")
    page.wait_for_url(re.compile(r"/kiosk/ST-WAW/done/"))
    page.wait_for_load_state("networkidle")
    assert page.locator("#kiosk-error, .error-box").count() == 0
    shot(page, "demo-walk-kiosk-done")
    pay = page.locator("#kiosk-pay-link").get_attribute("href")
    visit(page, pay, "kiosk-pay-link")  # the payment link the shopper's phone opens from the QR code
    assert name in page.locator("body").inner_text()
    assert page.errors == [], page.errors

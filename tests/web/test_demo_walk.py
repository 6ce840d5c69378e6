"""A new user's first hour, walked in Chromium (#20): `merx demo` builds a shop (a smaller
catalog and the small year of history, to keep CI quick), `merx serve` serves it, and the
browser opens every console section the admin's menu offers, every analytics report, and
the storefront's pages. None may be an error page, say "not available yet", or log a
browser console error. Screenshots go to test-artifacts/web/demo-walk-*.png."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.web.conftest import PageErrors, shot

pytestmark = pytest.mark.slow

BROKEN_PROMISES = ("not available yet", "coming soon", "Traceback", "Internal Server Error")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("demo-walk")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERX_")}
    env.update({"MERX_DATA_DIR": str(data_dir), "MERX_SECRET_KEY": "demo-walk-secret-key-0123456789abcdef",
                "MERX_LOG_LEVEL": "WARNING"})
    merx = [sys.executable, "-m", "merx.cli"]
    built = subprocess.run([*merx, "demo", "--no-serve", "--products", "300", "--size", "small"], env=env,
                           capture_output=True, text=True, timeout=600)
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
    yield url
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _visit(page: Any, path: str, name: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status < 400, (path, response and response.status)
    page.wait_for_load_state("networkidle")
    body = page.locator("body").inner_text()
    for phrase in BROKEN_PROMISES:
        assert phrase.lower() not in body.lower(), (path, phrase)
    assert page.locator(".error-box").count() == 0, (path, page.locator(".error-box").first.inner_text())
    shot(page, f"demo-walk-{name}")


def test_every_console_section_and_report_of_the_demo_opens_cleanly(browser, demo_server) -> None:
    from merx.demo import DEMO_CONSOLE_EMAIL, DEMO_CONSOLE_PASSWORD

    context = browser.new_context(base_url=demo_server, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors = PageErrors()
    errors.attach(page)
    page.goto("/console/login")
    page.fill("input[name=email]", DEMO_CONSOLE_EMAIL)
    page.fill("input[name=password]", DEMO_CONSOLE_PASSWORD)
    page.click("form[action='/console/login'] button[type=submit]")
    page.wait_for_url("**/console")
    sections = page.eval_on_selector_all('nav[aria-label="Console sections"] a[href^="/console"]',
                                         "links => links.map(a => a.getAttribute('href'))")
    assert len(sections) >= 10, sections
    visited: set[str] = set()
    for href in sections:
        _visit(page, href, re.sub(r"\W+", "-", href.strip("/")) or "dashboard")
        visited.add(href)
        # reports and tabs inside a section (analytics reports, sub-pages)
        inner = page.eval_on_selector_all(f'main a[href^="{href}/"]', "links => links.map(a => a.getAttribute('href'))")
        for sub in sorted({h for h in inner if re.fullmatch(rf"{re.escape(href)}/[a-z][a-z0-9_-]*", h)})[:12]:
            if sub not in visited:
                _visit(page, sub, re.sub(r"\W+", "-", sub.strip("/")))
                visited.add(sub)
    assert errors == [], errors
    context.close()


def test_the_demo_storefront_pages_open_cleanly(browser, demo_server) -> None:
    context = browser.new_context(base_url=demo_server, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors = PageErrors()
    errors.attach(page)
    _visit(page, "/", "store-home")
    category = page.locator("a[href*='/search?category=']").first.get_attribute("href")
    _visit(page, category, "store-category")
    assert page.locator("#results .product-card").count() > 0, category
    product = page.locator("#results .product-card a").first.get_attribute("href")
    _visit(page, product, "store-product")
    _visit(page, "/search?q=lamp", "store-search")
    _visit(page, "/cart", "store-cart")
    _visit(page, "/?lang=pl", "store-home-pl")
    assert errors == [], errors
    context.close()


def test_a_demo_shopper_signs_in_and_finds_orders_invoices_and_addresses(browser, demo_server) -> None:
    from merx.demo import DEMO_SHOPPER_PASSWORD

    context = browser.new_context(base_url=demo_server, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors = PageErrors()
    errors.attach(page)
    _visit(page, "/account/sign-in", "store-sign-in")
    page.fill("#sign-in-form input[name=email]", "demo.buyer0@example.com")  # printed by `merx demo`
    page.fill("#sign-in-form input[name=password]", DEMO_SHOPPER_PASSWORD)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_url("**/account")
    assert page.locator("#order-history tbody tr").count() >= 1
    _visit(page, "/account/orders", "store-account-orders")
    order = page.locator("#order-history a").first.get_attribute("href")
    _visit(page, order, "store-account-order")
    assert page.locator("#documents a").count() >= 1, page.locator("main").inner_text()  # the card order's invoice
    _visit(page, "/account/addresses", "store-account-addresses")
    assert page.locator("#address-book .address").count() == 1  # from the demo buyer's last order
    for path, name in (("/account/carts", "carts"), ("/account/privacy", "privacy")):
        _visit(page, path, f"store-account-{name}")
    assert errors == [], errors
    context.close()

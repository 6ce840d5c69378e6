"""Fixtures for the web console and storefront tests: a shop seeded through the contexts'
service functions, the real app served by uvicorn on a free port in a background thread,
and Debian's Chromium driven by Playwright (skipped with a reason when it is missing,
a failure when MERX_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = os.environ.get("MERX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"


def run_coroutine(coroutine: Any) -> Any:
    """`asyncio.run` on a thread of its own. Once a browser test ran in this pytest worker,
    Playwright's sync API keeps an event loop running in the test thread, and `asyncio.run`
    refuses to start there ("cannot be called from a running event loop")."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def form_sign_in(client: Any, email: str, password: str = PASSWORD) -> Any:
    """Sign in through the real login form (HTTP client, not the browser)."""
    page = client.get("/console/login")
    return client.post("/console/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text),
                                               "next": "/console"}, follow_redirects=False)


def _unavailable(what: str, why: str) -> None:
    message = f"{what} is not available ({why})"
    if os.environ.get("MERX_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " and MERX_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


# --------------------------------------------------------------------------------------------
# A small shop, made through the service functions (the same path the API takes)
# --------------------------------------------------------------------------------------------


@dataclass
class Shop:
    users: dict[str, str]  # role -> email
    product_ids: dict[str, int]  # sku -> product id
    seller_id: int | None


PRODUCTS = [
    # sku, name, category, brand, price
    ("LAMP-DESK", "Nordic Desk Lamp", "lighting", "lumen", "49.00"),
    ("LAMP-FLOOR", "Nordic Floor Lamp", "lighting", "fjord", "129.00"),
    ("LAMP-PEND", "Retro Pendant Lamp", "lighting", "fjord", "89.50"),
    ("KETTLE-1", "Steel Kettle", "kitchen", "lumen", "35.90"),
    ("MUG-1", "Ceramic Mug", "kitchen", "fjord", "9.90"),
]
STOCK = [  # sku, location, on hand
    ("LAMP-DESK", "ST-WAW", 6), ("LAMP-DESK", "WH-POZ", 20), ("LAMP-FLOOR", "WH-POZ", 3),
    ("LAMP-PEND", "ST-KRK", 1), ("KETTLE-1", "ST-WAW", 10), ("MUG-1", "WH-POZ", 50),
]


@functools.lru_cache(maxsize=1)
def _password_hash() -> str:
    # scrypt is slow on purpose; one hash shared by the test users keeps seeding fast.
    from merx.core.auth import hash_password

    return hash_password(PASSWORD)


def seed_shop(db: Any) -> Shop:
    from merx.catalog import service as catalog
    from merx.catalog.schemas import AttributeCreate, BrandCreate, CategoryCreate, ProductCreate
    from merx.core import accounts
    from merx.core.auth import Role
    from merx.core.uow import UnitOfWork
    from merx.inventory import service as inventory

    with UnitOfWork(db) as uow:
        for code, name in (("home", "Home"),):
            catalog.create_category(uow, CategoryCreate(code=code, name=name))
        catalog.create_category(uow, CategoryCreate(code="lighting", name="Lighting", parent="home"))
        catalog.create_category(uow, CategoryCreate(code="kitchen", name="Kitchen", parent="home"))
        catalog.create_attribute(uow, AttributeCreate(code="color", name="Colour", type="text"))
        catalog.create_brand(uow, BrandCreate(code="lumen", name="Lumen"))
        catalog.create_brand(uow, BrandCreate(code="fjord", name="Fjord"))
    seller_id = None
    try:
        from merx.marketplace import service as marketplace

        with UnitOfWork(db) as uow:
            seller_id = marketplace.create_seller(uow, code="acme", name="Acme Lamps").id
    except ImportError:
        pass
    ids = {}
    with UnitOfWork(db) as uow:
        for sku, name, cat, brand, price in PRODUCTS:
            out = catalog.create_product(uow, ProductCreate(
                sku=sku, name=name, category=cat, brand=brand, price={"amount": price, "currency": "EUR"},
                description=f"{name} for everyday use.", seller_id=seller_id if sku == "LAMP-PEND" else None))
            ids[sku] = out.id
    with UnitOfWork(db) as uow:
        for code, name, kind, lat, lon, pickup in (
                ("WH-POZ", "Poznań warehouse", "warehouse", 52.4064, 16.9252, False),
                ("ST-WAW", "Warsaw store", "store", 52.2297, 21.0122, True),
                ("ST-KRK", "Kraków store", "store", 50.0647, 19.9450, True)):
            inventory.create_location(uow, {"code": code, "name": name, "kind": kind, "lat": lat, "lon": lon,
                                            "pickup": pickup, "accepts_returns": pickup})
    for sku, loc, qty in STOCK:
        with UnitOfWork(db) as uow:
            inventory.adjust(uow, sku=sku, location=loc, delta=qty)
    users = {}
    with UnitOfWork(db) as uow:
        for role in ("admin", "staff", "sales_rep", "support_agent", "customer"):
            email = f"{role}@shop.test"
            kwargs: dict[str, Any] = {}
            if role == "customer":
                from merx.customers import service as customers
                from merx.customers.schemas import CustomerCreate

                kwargs["customer_id"] = customers.create_customer(uow, CustomerCreate(email="buyer@shop.test"),
                                                                  commit=False).id
            user = accounts.create_user(uow, name=role.replace("_", " ").title(), role=Role(role), email=email,
                                        **kwargs)
            user.password_hash = _password_hash()
            users[role] = email
        if seller_id is not None:
            user = accounts.create_user(uow, name="Acme", role=Role.seller, email="seller@shop.test",
                                        seller_id=seller_id)
            user.password_hash = _password_hash()
            users["seller"] = "seller@shop.test"
        uow.commit()
    return Shop(users=users, product_ids=ids, seller_id=seller_id)


@pytest.fixture
def shop(db: Any) -> Shop:
    return seed_shop(db)


# --------------------------------------------------------------------------------------------
# The app over real HTTP
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    app: Any
    db: Any
    settings: Any


@pytest.fixture(scope="session")
def live_server(_databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import uvicorn

    from merx.app import create_app
    from merx.core.settings import Settings

    db = _databases.get("sqlite")
    # Every browser test on this worker signs in from 127.0.0.1 to this one server: the
    # per-address limit of 10 sign-ins a minute would refuse the eleventh test (it did, in CI).
    # tests/test_rate_limits.py checks that limit on an app of its own.
    settings = Settings(data_dir=tmp_path_factory.mktemp("web-data"), log_json=True, log_level="WARNING",
                        secret_key="web-test-secret", rate_limits={"login": "100000/minute"})
    app = create_app(settings, db)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="web-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    if not server.started:
        pytest.fail("the app did not start under uvicorn within 30 s", pytrace=False)
    yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, db=db, settings=settings)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def served_shop(db: Any, live_server: LiveServer) -> Shop:
    """The seeded shop on the live server's database, with the search index rebuilt."""
    assert db is live_server.db, "browser tests run on the SQLite test database"
    seeded = seed_shop(db)
    try:
        from merx.search import service as search
    except ImportError:
        return seeded
    search.register_data_dir(db, live_server.settings.data_dir, live_server.settings.default_currency)
    search.rebuild_index(db, live_server.settings.data_dir)
    return seeded


# --------------------------------------------------------------------------------------------
# Chromium
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        _unavailable("the playwright package", str(e))
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable("Chromium", f"{CHROMIUM} is missing; install it with apt-get install chromium")
    with sync_playwright() as p:
        # Playwright gives the browser a fresh temporary profile (user data dir) per launch.
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class PageErrors(list):
    """Console errors and uncaught exceptions of the pages a test opened."""

    def attach(self, page: Any) -> None:
        page.on("console", lambda msg: self.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.append(f"page error: {exc}"))


@pytest.fixture
def page(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    errors = PageErrors()
    errors.attach(pg)
    pg.errors = errors
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        shot(pg, f"{request.node.name}-last")
    except Exception:  # the page may be gone after a failure; the artifact is a courtesy
        pass
    context.close()


# A full-page capture of a very tall page (ReDoc lays out every operation and schema of the API,
# tens of thousands of pixels) can pass the 30 s timeout on a loaded 2-core machine; above this
# height the artifact is the viewport, which is what a reader looks at anyway.
FULL_PAGE_SHOT_MAX_HEIGHT = 6000


def _page_height(page: Any) -> int:
    try:
        return int(page.evaluate("document.documentElement.scrollHeight"))
    except Exception:  # a page mid-navigation has no document to measure; capture the viewport
        return FULL_PAGE_SHOT_MAX_HEIGHT + 1


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    full_page = _page_height(page) <= FULL_PAGE_SHOT_MAX_HEIGHT
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def screenshot() -> Any:
    return shot


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/console/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    # The password check is scrypt (slow on purpose) and the dashboard renders its figures
    # first; with the other xdist worker busy that has taken more than the default 15 s.
    with page.expect_navigation(wait_until="domcontentloaded", timeout=60_000):
        page.click("form[action='/console/login'] button[type=submit]")
    # A refused sign-in stays on the login page: name its message instead of a bare timeout.
    assert "/console/login" not in page.url, page.locator("[role=alert], form").first.inner_text()


@pytest.fixture
def login() -> Any:
    return sign_in

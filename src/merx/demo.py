"""`merx demo`: a fresh database with a realistic demo shop (fixed seed).

Everything is created through the contexts' service functions, so the demo data has the
same events, audit entries and invariants as data entered through the API."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from merx.core.auth import Role
from merx.core.settings import Settings, ensure_secret_key, get_settings
from merx.demo_profile import DemoProfile

# (code, name, parent, attribute set, pl, ru, nouns, price range EUR)
CATEGORIES: list[tuple[str, str, str | None, str | None, str, str, list[str], tuple[int, int]]] = [
    ("electronics", "Electronics", None, "electronics", "Elektronika", "Электроника", [], (10, 10)),
    ("phones", "Phones", "electronics", None, "Telefony", "Телефоны", ["Smartphone", "Phone", "Rugged Phone"], (99, 1200)),
    ("laptops", "Laptops", "electronics", None, "Laptopy", "Ноутбуки", ["Laptop", "Notebook", "Ultrabook"], (399, 2500)),
    ("headphones", "Headphones", "electronics", None, "Słuchawki", "Наушники", ["Headphones", "Earbuds", "Headset"], (19, 399)),
    ("tv", "TVs", "electronics", None, "Telewizory", "Телевизоры", ["TV", "Smart TV", "OLED TV"], (199, 2999)),
    ("home", "Home & Kitchen", None, "home", "Dom i kuchnia", "Дом и кухня", [], (10, 10)),
    ("kitchen", "Kitchen", "home", None, "Kuchnia", "Кухня", ["Kettle", "Toaster", "Blender", "Frying Pan", "Knife Set"], (9, 299)),
    ("furniture", "Furniture", "home", None, "Meble", "Мебель", ["Chair", "Desk", "Bookshelf", "Sofa", "Bed Frame"], (39, 1499)),
    ("lighting", "Lighting", "home", None, "Oświetlenie", "Освещение", ["Desk Lamp", "Floor Lamp", "LED Bulb", "Pendant Light"], (5, 249)),
    ("decor", "Decor", "home", None, "Dekoracje", "Декор", ["Vase", "Candle", "Picture Frame", "Cushion", "Rug"], (5, 199)),
    ("fashion", "Fashion", None, "fashion", "Moda", "Мода", [], (10, 10)),
    ("shoes", "Shoes", "fashion", None, "Buty", "Обувь", ["Sneakers", "Boots", "Sandals", "Running Shoes"], (29, 249)),
    ("menswear", "Men's Clothing", "fashion", None, "Odzież męska", "Мужская одежда", ["Jacket", "Shirt", "Jeans", "Hoodie"], (15, 299)),
    ("womenswear", "Women's Clothing", "fashion", None, "Odzież damska", "Женская одежда", ["Dress", "Blouse", "Coat", "Skirt"], (15, 349)),
    ("accessories", "Accessories", "fashion", None, "Akcesoria", "Аксессуары", ["Backpack", "Wallet", "Belt", "Sunglasses", "Watch"], (9, 499)),
    ("sports", "Sports & Outdoors", None, "sports", "Sport i turystyka", "Спорт и отдых", [], (10, 10)),
    ("cycling", "Cycling", "sports", None, "Rowery", "Велоспорт", ["Bike Helmet", "Bike Light", "Road Bike", "Bike Lock"], (9, 1999)),
    ("running", "Running", "sports", None, "Bieganie", "Бег", ["Running Jacket", "Running Belt", "Sports Watch"], (9, 399)),
    ("fitness", "Fitness", "sports", None, "Fitness", "Фитнес", ["Yoga Mat", "Dumbbell Set", "Kettlebell", "Resistance Band"], (5, 299)),
    ("camping", "Camping", "sports", None, "Kemping", "Кемпинг", ["Tent", "Sleeping Bag", "Camping Stove", "Headlamp"], (9, 599)),
    ("beauty", "Beauty", None, "basic", "Uroda", "Красота", ["Face Cream", "Shampoo", "Perfume", "Hair Dryer"], (4, 149)),
    ("toys", "Toys", None, "basic", "Zabawki", "Игрушки", ["Puzzle", "Building Blocks", "Plush Bear", "Board Game"], (5, 99)),
    ("books", "Books", None, "basic", "Książki", "Книги", ["Cookbook", "Novel", "Travel Guide", "Atlas"], (5, 59)),
    ("garden", "Garden", None, "basic", "Ogród", "Сад", ["Garden Hose", "Lawn Mower", "Plant Pot", "Pruning Shears"], (5, 699)),
    ("pets", "Pet Supplies", None, "basic", "Zoologia", "Зоотовары", ["Dog Bed", "Cat Tree", "Pet Bowl", "Leash"], (5, 199)),
]

ADJECTIVES = ["Classic", "Pro", "Compact", "Smart", "Eco", "Premium", "Lite", "Max", "Urban", "Nordic", "Retro",
              "Ultra", "Travel", "Family", "Essential", "Signature"]
COLORS = ["black", "white", "grey", "red", "blue", "green", "beige", "navy"]
MATERIALS = ["cotton", "steel", "aluminium", "oak", "plastic", "glass", "leather", "wool", "bamboo", "ceramic"]
BRANDS = ["Aurora", "Borealis", "Cobalt", "Dunmore", "Elkhorn", "Fjord", "Granite", "Harbor", "Ivory Lane", "Juniper",
          "Kestrel", "Lumen", "Meridian", "Northwind", "Orchard", "Pinecrest", "Quarry", "Redwood", "Solstice",
          "Tundra", "Umbra", "Vistula", "Wawel", "Xenon", "Yarrow", "Zenith", "Baltic Home", "Mazury Outdoor",
          "Tatra Sport", "Karpaty"]
# What shoppers of the demo's markets type instead (search finds the brands by them; /console/brands)
BRAND_ALIASES = {"Vistula": ["Wisła", "Висла"], "Karpaty": ["Carpathians", "Карпати"], "Wawel": ["Vavel"],
                 "Tatra Sport": ["Tatry Sport"], "Mazury Outdoor": ["Masuria Outdoor"], "Fjord": ["Fiord"]}
FIRST_NAMES = ["Anna", "Jan", "Maria", "Piotr", "Katarzyna", "Tomasz", "Olga", "Ivan", "Elena", "Andrei", "Ioana",
               "Mihai", "Emma", "Liam", "Sophie", "Lukas", "Marta", "Pavel", "Daria", "Oleksandr"]
LAST_NAMES = ["Nowak", "Kowalski", "Wiśniewska", "Ivanov", "Petrova", "Popescu", "Ionescu", "Smith", "Müller",
              "Novák", "Shevchenko", "Kovalenko", "Dubois", "Rossi", "Garcia", "Jansen"]
COUNTRIES = [("PL", "+48 601 {0:06d}"), ("RO", "+40 721 {0:06d}"), ("DE", "+49 151 {0:08d}"), ("GB", "+44 7400 {0:06d}")]
# Real Polish/Romanian cities with their coordinates, for the warehouses and stores.
LOCATIONS = [
    ("WH-POZ", "Poznań warehouse", "warehouse", 52.4064, 16.9252, False, False),
    ("WH-WRO", "Wrocław warehouse", "warehouse", 51.1079, 17.0385, False, False),
    ("ST-WAW", "Warsaw store", "store", 52.2297, 21.0122, True, True),
    ("ST-KRK", "Kraków store", "store", 50.0647, 19.9450, True, True),
    ("ST-GDN", "Gdańsk store", "store", 54.3520, 18.6466, True, False),
]


DEMO_CONSOLE_EMAIL = "admin@demo.merx"
DEMO_CONSOLE_PASSWORD = "merx-demo"
DEMO_SHOPPER_PASSWORD = "shop-demo-2026"  # the storefront accounts of a few demo customers (/account/sign-in)
DEMO_SHOPPERS = 3


@dataclass
class DemoResult:
    admin_key: str
    database_url: str
    summary: str
    counts: dict[str, int]
    shoppers: list[str] = field(default_factory=list)  # emails of demo shoppers with a storefront account


def fresh_database_url(settings: Settings) -> str:
    """The demo always starts from an empty database. For the default SQLite file that means
    deleting it; for a server URL the schema is upgraded and data added alongside."""
    url = settings.effective_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
    return url


# --size: the catalog and the customers grow with the year of orders (demo_history.SIZES)
SIZES: dict[str, tuple[int, int]] = {"small": (600, 100), "medium": (2400, 300), "large": (4800, 800)}


def build_demo(*, seed: int = 42, product_count: int | None = None, customer_count: int | None = None,
               settings: Settings | None = None, console: Console | None = None,
               history: str = "medium") -> DemoResult:
    from merx.contexts import import_models
    from merx.core import accounts, migrate
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork
    from merx.sellers import demo as sellers_demo
    from merx.instore import demo as instore_demo
    from merx.marketing import demo as marketing_demo
    from merx.support import demo as support_demo
    from merx.sales import demo as sales_demo
    from merx.sales import perf_demo as sales_perf_demo
    from merx.invoicing import demo as invoicing_demo

    default_products, default_customers = SIZES.get(history, SIZES["medium"])
    product_count = default_products if product_count is None else product_count
    customer_count = default_customers if customer_count is None else customer_count
    settings = settings or get_settings()
    ensure_secret_key(settings)  # generated into the data dir (and announced) when none is set
    console = console or Console(stderr=True)
    rng = random.Random(seed)
    import_models()
    url = fresh_database_url(settings)
    db = Database(url)
    db.settings = settings
    counts: dict[str, int] = {}
    profile = DemoProfile()
    step = profile.step
    try:
        with step("migrate"):
            migrate.upgrade(db)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            with step("catalog"):
                counts.update(_catalog(db, rng, product_count, progress))
            # the model embeds the catalog on the other core while stock and a year of orders are made
            with step("start embedding"):
                warmup = _start_embedding(db, settings, progress)
            with step("customers"):
                counts.update(_customers(db, rng, customer_count, progress))
            with step("stock"):
                counts.update(_inventory(db, rng, progress))
            from merx.catalog import demo as catalog_demo
            with step("costs"):
                counts.update(catalog_demo.seed_costs(db, progress))  # before the history: orders land them
            if history != "none":
                from merx.demo_history import seed_history
                with step("a year of orders"):
                    counts.update(seed_history(db, rng, progress, size=history))
            with step("sellers"):
                counts.update(sellers_demo.seed(db, rng, progress))
            with step("in-store"):
                counts.update(instore_demo.seed(db, rng, progress))
            with step("marketing"):
                counts.update(marketing_demo.seed(db, rng, progress))
            with step("support"):
                counts.update(support_demo.seed(db, rng, progress))
            with step("sales"):
                counts.update(sales_demo.seed(db, rng, progress))
                counts.update(_account_tickets(db))  # the sales account page lists its contacts' tickets
            with step("account orders"):
                perf = sales_perf_demo.seed_orders(db, rng, progress)  # costs and a year of account orders
                _catch_up(db, ["sales.ledger", "analytics.sales"])  # the ledger and the portfolio see those orders
            with step("sales plans"):
                counts.update(sales_perf_demo.seed_plans(db, rng, progress, perf))  # targets, commissions, dealers
            with step("invoicing"):
                counts.update(invoicing_demo.seed(db, rng, progress))  # taxes, shipping, payments, invoices
            with step("shopper accounts"):
                shoppers = _shopper_accounts(db)
                counts["shopper accounts"] = len(shoppers)
            from merx.crm import demo as crm_demo
            from merx.integration import demo as integration_demo

            with step("crm"):
                hooks = integration_demo.create_endpoints(db)  # they receive the events from here on
                counts.update(crm_demo.seed(db, rng, progress))  # loyalty points spent at checkout, given back
            with step("integration"):
                counts.update(integration_demo.seed(db, hooks, progress))  # a stock file, then the deliveries
            from merx.pricing import demo as pricing_demo

            with step("pricing"):
                counts.update(pricing_demo.seed(db, progress))  # competitors, their prices, rules and proposals
            from merx import demo_early_access

            with step("early access"):
                counts.update(demo_early_access.seed(db, rng, progress))  # a collection for repeat customers first

            from merx.integration import demo_feed

            with step("marketplace feed"):
                counts.update(demo_feed.seed(db, progress))  # a marketplace's order feed, fees classed apart
            with step("admin users"):
                with UnitOfWork(db) as uow:
                    issued = accounts.create_user_with_key(uow, name="demo-admin", role=Role.admin)
                with UnitOfWork(db) as uow:
                    # The console signs in with a password; the demo's is printed with the URL.
                    accounts.create_user(uow, name="Demo admin", role=Role.admin, email=DEMO_CONSOLE_EMAIL,
                                         password=DEMO_CONSOLE_PASSWORD)
                    uow.commit()
            # Ready means every reaction has happened: the server starts with invoices issued,
            # campaign revenue attributed and CRM facts written, not catching up while a
            # visitor looks (and the embedding thread has had all of the above to finish).
            with step("subscribers catch up"):
                counts["events handled by subscribers"] = catch_up_subscribers(db, progress)
            # last: its cursor starts at the outbox's end, so the server has nothing to re-index
            with step("search index"):
                counts.update(_search_index(db, settings, progress, warmup))
    finally:
        db.dispose()
    profile.report(console)
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    return DemoResult(admin_key=issued.key, database_url=url, summary=summary, counts=counts, shoppers=shoppers)


def _shopper_accounts(db: Any) -> list[str]:
    """Storefront accounts (email confirmed, password DEMO_SHOPPER_PASSWORD) for the demo
    customers with the most orders, each with a delivery address from their last order, so
    "My account" shows a real history, invoices and an address book."""
    from merx.core.uow import UnitOfWork
    from merx.customers import public as customers
    from merx.orders import public as orders

    with UnitOfWork(db, readonly=True) as uow:
        candidates = [c for c in customers.customer_attributes(uow) if c["email"]][:60]
        ranked = sorted(((len(orders.orders_for_customer(uow, c["id"])), c["id"], c) for c in candidates),
                        key=lambda t: (-t[0], t[1]))[:DEMO_SHOPPERS - 1]
        # and the buyer whose card orders the money demo invoiced, so "My account" shows invoice PDFs
        invoiced = customers.find_customer(uow, email="demo.buyer0@example.com")
        if invoiced is not None:
            ranked.insert(0, (0, invoiced.id, invoiced.model_dump()))
    emails = []
    for _count, customer_id, c in ranked:
        with UnitOfWork(db) as uow:
            customers.create_verified_account(uow, customer_id, DEMO_SHOPPER_PASSWORD)
            uow.commit()
        with UnitOfWork(db, readonly=True) as uow:
            shipped = [o for o in orders.orders_for_customer(uow, customer_id)
                       if (o.get("fulfilment") or {}).get("address")]
        a = (shipped[-1]["fulfilment"]["address"] if shipped else None) or {}
        country = a.get("country") or c["country"] or "PL"
        with UnitOfWork(db) as uow:
            customers.add_address(uow, customer_id, customers.AddressIn(
                label="Home", name=a.get("name") or f"{c['first_name'] or 'Demo'} {c['last_name'] or 'Buyer'}",
                line1=a.get("line1") or "ul. Długa 5", city=a.get("city") or "Warszawa",
                postal_code=a.get("postal_code"), country=country, default_shipping=True, default_billing=True))
        emails.append(c["email"])
    return emails


ACCOUNT_TICKETS = (
    ("complaint", "phone", "Pallet delivered with crushed cartons", "Two of twelve cartons were crushed; photos follow."),
    ("question", "email", "Invoice shows net30, contract says net60", "Which payment terms apply to the last order?"),
    ("return_request", "phone", "Return of an over-delivered pallet", "We received one pallet more than ordered."),
    ("question", "email", "Lead time for the spring collection", "When can the spring range ship to our stores?"),
)


def _account_tickets(db: Any) -> dict[str, int]:
    """A few open tickets raised by B2B account contacts (the support demo's tickets come from
    shoppers, who are no account's contacts)."""
    from merx.core.uow import UnitOfWork
    from merx.sales import public as sales
    from merx.support import public as support

    with UnitOfWork(db, readonly=True) as uow:
        contacts = [(a.name, c) for a in sales.list_accounts(uow, limit=20).items for c in a.contacts[:1]]
    made = 0
    for (account, contact), (kind, channel, subject, body) in zip(contacts[::3], ACCOUNT_TICKETS):
        with UnitOfWork(db) as uow:
            support.create_ticket(uow, support.TicketCreate(
                kind=kind, channel=channel, subject=subject, body=f"{body}\n\n{contact.name}, {account}",
                customer_id=contact.customer_id, requester_email=contact.email, requester_name=contact.name))
        made += 1
    return {"account tickets": made}


def catch_up_subscribers(db: Any, progress: Progress | None = None) -> int:
    """Run every context's durable subscribers over the outbox until each has reached its end
    (their reactions emit events of their own, which the next pass hands on). The demo builds
    with no handlers registered; this is what `merx serve` would otherwise do while the first
    visitor looks at half-empty pages. Returns how many events they handled."""
    from merx.contexts import handler_modules
    from merx.core.events import MessageBus
    from merx.core.subscribers import SubscriberRunner

    bus = MessageBus()
    for module in handler_modules():
        module.register(bus)
    runner = SubscriberRunner(db, bus)
    task = progress.add_task("subscribers catch up", total=None) if progress is not None else None
    handled = 0
    while True:
        n = runner.catch_up(max_rounds=1_000_000)
        handled += n
        if task is not None and progress is not None:
            progress.update(task, completed=handled)
        if n == 0:
            break
    if task is not None and progress is not None:
        progress.update(task, total=handled, completed=handled)
    return handled


def _catch_up(db: Any, names: list[str]) -> None:
    """Run these durable subscribers over the outbox now (the demo registers no handlers; the
    server's runner carries on from their cursors)."""
    from merx.analytics import handlers as analytics_handlers
    from merx.core.events import MessageBus
    from merx.core.subscribers import SubscriberRunner
    from merx.sales import handlers as sales_handlers

    bus = MessageBus()
    sales_handlers.register(bus)
    analytics_handlers.register(bus)
    SubscriberRunner(db, bus).catch_up(names)


def _catalog(db: Any, rng: random.Random, product_count: int, progress: Progress) -> dict[str, int]:
    from merx.demo_media import picture_url
    from merx.demo_texts import category_translations, product_translations
    from merx.catalog import public as catalog
    from merx.catalog.public import (AttributeCreate, AttributeSetCreate, AttributeSetItemIn, BrandCreate,
                                     CategoryCreate, ProductCreate)
    from merx.core.uow import UnitOfWork
    from merx.marketplace import public as marketplace

    task = progress.add_task("catalog", total=product_count)
    with UnitOfWork(db) as uow:
        for a in (
            AttributeCreate(code="color", name="Colour", type="enum", options=COLORS),
            AttributeCreate(code="material", name="Material", type="text", localizable=True),
            AttributeCreate(code="weight", name="Weight", type="number", unit="kg"),
            AttributeCreate(code="warranty_months", name="Warranty", type="number", unit="month"),
            AttributeCreate(code="waterproof", name="Waterproof", type="bool"),
            AttributeCreate(code="screen_size", name="Screen size", type="number", unit="in"),
            AttributeCreate(code="size", name="Size", type="enum", options=["XS", "S", "M", "L", "XL"]),
        ):
            catalog.create_attribute(uow, a)
        sets = {
            "electronics": [("color", True), ("weight", True), ("warranty_months", True), ("screen_size", False)],
            "home": [("color", True), ("material", True), ("weight", False)],
            "fashion": [("color", True), ("material", True), ("size", False)],
            "sports": [("color", True), ("weight", True), ("waterproof", False)],
            "basic": [("color", False), ("weight", False)],
        }
        for code, items in sets.items():
            catalog.create_attribute_set(uow, AttributeSetCreate(
                code=code, name=code.title(), attributes=[AttributeSetItemIn(attribute=a, required=r) for a, r in items]))
        for code, name, parent, aset, pl, ru, _nouns, _prices in CATEGORIES:
            catalog.create_category(uow, CategoryCreate(code=code, name=name, parent=parent, attribute_set=aset,
                                                        translations=category_translations(code)))
        for name in BRANDS:
            catalog.create_brand(uow, BrandCreate(code=name.lower().replace(" ", "-"), name=name,
                                                  aliases=BRAND_ALIASES.get(name, [])))
    seller_ids = []
    for code, name, premium, rating in (("nordic-goods", "Nordic Goods", True, "4.8"), ("vistula-trade", "Vistula Trade", False, "4.1"),
                                        ("dacia-market", "Dacia Market", False, "3.2")):
        with UnitOfWork(db) as uow:
            seller_ids.append(marketplace.create_seller(uow, code=code, name=name, premium=premium,
                                                        rating=Decimal(rating)).id)

    leaf_categories = [c for c in CATEGORIES if c[6]]
    batch: list[Any] = []
    made = 0
    for i in range(product_count):
        code, cname, _parent, _aset, _pl, _ru, nouns, (lo, hi) = leaf_categories[i % len(leaf_categories)]
        noun = rng.choice(nouns)
        adjective = rng.choice(ADJECTIVES)
        color = rng.choice(COLORS)
        brand = rng.choice(BRANDS)
        name = f"{brand} {adjective} {noun} {i:04d}"
        price = Decimal(rng.randint(lo * 100, hi * 100)) / 100
        pln = (price * Decimal("4.30")).quantize(Decimal("0.01"))
        attributes: dict[str, Any] = {"color": color}
        top = _top_level(code)
        if top in ("electronics", "sports", "basic"):
            attributes["weight"] = str(Decimal(rng.randint(50, 20000)) / 1000)
        if top == "electronics":
            attributes["warranty_months"] = rng.choice([12, 24, 36])
            if code in ("tv", "laptops", "phones"):
                attributes["screen_size"] = rng.choice(["6.1", "6.7", "13.3", "15.6", "43", "55", "65"])
        if top in ("home", "fashion"):
            attributes["material"] = rng.choice(MATERIALS)
        if top == "sports":
            attributes["waterproof"] = rng.random() < 0.4
        # Each product speaks a few of the shop's languages (about 1.5 besides English), in real
        # words of those languages (merx.demo_texts), as a multilingual marketplace's catalog does.
        langs = tuple(lang for lang, every in (("pl", 2), ("ru", 3), ("ro", 4), ("uk", 5), ("zh", 6)) if i % every == 0)
        translations: dict[str, Any] = product_translations(noun, color, brand, adjective, f"{i:04d}", code, langs)
        status = "draft" if i % 50 == 49 else "active"
        batch.append(ProductCreate(
            sku=f"{code[:3].upper()}-{i:05d}", name=name,
            description=f"{adjective} {noun.lower()} by {brand} in {color}. {cname}.",
            prices=[{"amount": str(price), "currency": "EUR"}, {"amount": str(pln), "currency": "PLN"}],
            category=code, brand=brand.lower().replace(" ", "-"), status=status, attributes=attributes,
            translations=translations, seller_id=seller_ids[i % len(seller_ids)] if i % 6 == 0 else None,
            media=[picture_url(noun, color)],  # drawn on first view (merx.demo_media)
        ))
        if len(batch) == 200:
            made += _flush_products(db, batch)
            progress.advance(task, len(batch))
            batch = []
    if batch:
        made += _flush_products(db, batch)
        progress.advance(task, len(batch))
    return {"products": made, "categories": len(CATEGORIES), "brands": len(BRANDS), "sellers": len(seller_ids)}


def _top_level(code: str) -> str:
    """The attribute set a category uses: its own, else its parent's."""
    for c_code, _name, parent, attribute_set, *_rest in CATEGORIES:
        if c_code == code:
            if attribute_set:
                return attribute_set
            return _top_level(parent) if parent else c_code
    return code


def _flush_products(db: Any, batch: list[Any]) -> int:
    from merx.catalog import public as catalog
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        return len(catalog.bulk_create_products(uow, batch))


def _customers(db: Any, rng: random.Random, count: int, progress: Progress) -> dict[str, int]:
    from merx.core.uow import UnitOfWork
    from merx.customers import public as customers
    from merx.customers.public import CustomerCreate

    task = progress.add_task("customers", total=count)
    with UnitOfWork(db) as uow:
        for i in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            country, phone_fmt = COUNTRIES[i % len(COUNTRIES)]
            phone = phone_fmt.format(100 + i)  # unique by construction
            email = f"{_ascii(first)}.{_ascii(last)}.{i}@example.com"
            customers.create_customer(uow, CustomerCreate(
                email=email, phone=phone if i % 3 else None, first_name=first, last_name=last, country=country,
                locale={"PL": "pl", "RO": "ro", "DE": "de", "GB": "en"}[country]), commit=False)
            progress.advance(task)
        uow.commit()
    return {"customers": count}


def _ascii(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _inventory(db: Any, rng: random.Random, progress: Progress) -> dict[str, int]:
    """Two warehouses and three stores; nearly every SKU stocked in one warehouse, many in a
    store too, and a few sold out so the storefront shows every status."""
    from merx.inventory import public as inventory
    from merx.catalog.models import Variant  # read-only: which SKUs the demo made
    from merx.core.uow import UnitOfWork
    import sqlalchemy as sa

    hours = {d: [["09:00", "21:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")} | {"sun": [["10:00", "18:00"]]}
    ids: dict[str, int] = {}
    with UnitOfWork(db) as uow:
        for priority, (code, name, kind, lat, lon, pickup, returns) in enumerate(LOCATIONS):
            out = inventory.create_location(uow, {
                "code": code, "name": name, "kind": kind, "lat": lat, "lon": lon, "pickup": pickup,
                "accepts_returns": returns, "opening_hours": hours if kind == "store" else None,
                "timezone": "Europe/Warsaw", "priority": priority})
            ids[code] = out["id"]
    with UnitOfWork(db, readonly=True) as uow:
        skus = list(uow.session.scalars(sa.select(Variant.sku).order_by(Variant.id)))
    task = progress.add_task("stock", total=len(skus))
    stores = [c for c, *_rest in LOCATIONS if c.startswith("ST-")]
    rows = 0
    for start in range(0, len(skus), 400):
        receipts: list[tuple[str, int, int]] = []
        for sku in skus[start:start + 400]:
            if rng.random() < 0.05:
                continue  # sold out everywhere
            warehouse = "WH-POZ" if rng.random() < 0.5 else "WH-WRO"
            receipts.append((sku, ids[warehouse], rng.randint(1, 60)))
            if rng.random() < 0.4:
                store = rng.choice(stores)
                receipts.append((sku, ids[store], rng.randint(1, 8)))
        with UnitOfWork(db) as uow:
            rows += inventory.receive_stock_many(uow, receipts, reason="receipt", reference="demo")
            uow.commit()
        progress.advance(task, len(skus[start:start + 400]))
    return {"locations": len(ids), "stock rows": rows}


def _start_embedding(db: Any, settings: Settings, progress: Progress) -> Any:
    from merx.search import demo as search_demo  # from the vector cache of an earlier demo where it can

    task = progress.add_task("embedding products", total=None)
    return search_demo.start_demo_embedding(
        db, settings.data_dir, on_progress=lambda done, total: progress.update(task, completed=done, total=total))


def _search_index(db: Any, settings: Settings, progress: Progress, warmup: Any = None) -> dict[str, int]:
    from merx.search import public as search
    if warmup is not None:
        warmup.wait()  # the build embeds only the texts changed since (sellers' products, proposals)
    task = progress.add_task("search index", total=None)
    search.register_data_dir(db, settings.data_dir, settings.default_currency)
    result = search.rebuild_index(db, settings.data_dir, on_progress=lambda done, _total: progress.update(task, completed=done))
    progress.update(task, total=result["products"], completed=result["products"])
    return {"indexed": result["products"]}

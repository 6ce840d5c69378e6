"""A small chain of stores for the in-store tests, made through the contexts' service
functions: products with EANs, a warehouse and three stores, stock, customers (two share a
last name), store associates bound to their stores, and an online order already delivered
(for returns at a counter). Shared by the API and the browser tests (a plain module: never
import conftest)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

PASSWORD = "correct horse battery"

# sku, name, category, price, EAN-13 (valid check digits)
PRODUCTS = [
    ("LAMP-DESK", "Nordic Desk Lamp", "lighting", "49.00", "5901234123457"),
    ("LAMP-FLOOR", "Nordic Floor Lamp", "lighting", "129.00", "4006381333931"),
    ("KETTLE-1", "Steel Kettle", "kitchen", "35.90", "8711253001202"),
    ("MUG-1", "Ceramic Mug", "kitchen", "9.90", "9780201379624"),
]
STORES = [  # code, name, kind, lat, lon
    ("WH-POZ", "Poznań warehouse", "warehouse", 52.4064, 16.9252),
    ("ST-WAW", "Warsaw store", "store", 52.2297, 21.0122),
    ("ST-KRK", "Kraków store", "store", 50.0647, 19.9450),
    ("ST-GDN", "Gdańsk store", "store", 54.3520, 18.6466),
]
STOCK = [  # sku, location, on hand
    ("LAMP-FLOOR", "ST-KRK", 2), ("LAMP-FLOOR", "WH-POZ", 5), ("LAMP-DESK", "ST-WAW", 6),
    ("LAMP-DESK", "WH-POZ", 20), ("KETTLE-1", "WH-POZ", 10), ("KETTLE-1", "ST-KRK", 3), ("MUG-1", "ST-GDN", 4),
]


@dataclass
class ChainShop:
    users: dict[str, str]  # name -> email
    user_ids: dict[str, int]
    customers: dict[str, int]
    online_order: dict[str, Any] = field(default_factory=dict)


@functools.lru_cache(maxsize=1)
def password_hash() -> str:
    from merx.core.auth import hash_password

    return hash_password(PASSWORD)


def seed_chain(db: Any) -> ChainShop:
    from merx.catalog import public as catalog
    from merx.core import accounts
    from merx.core.auth import SYSTEM, Role
    from merx.core.uow import UnitOfWork
    from merx.customers import public as customers
    from merx.instore import public as instore
    from merx.inventory import public as inventory
    from merx.orders import public as orders

    with UnitOfWork(db) as uow:
        catalog.create_category(uow, catalog.CategoryCreate(code="home", name="Home"))
        catalog.create_category(uow, catalog.CategoryCreate(code="lighting", name="Lighting", parent="home"))
        catalog.create_category(uow, catalog.CategoryCreate(code="kitchen", name="Kitchen", parent="home"))
    with UnitOfWork(db) as uow:
        catalog.bulk_create_products(uow, [catalog.ProductCreate(
            sku=sku, name=name, category=cat, price={"amount": price, "currency": "EUR"}, ean=ean,
            description=f"{name} for everyday use.", translations={"pl": {"name": f"{name} (PL)"}})
            for sku, name, cat, price, ean in PRODUCTS])
    with UnitOfWork(db) as uow:
        for code, name, kind, lat, lon in STORES:
            inventory.create_location(uow, {"code": code, "name": name, "kind": kind, "lat": lat, "lon": lon,
                                            "pickup": kind == "store", "accepts_returns": kind == "store",
                                            "priority": 10 if kind == "warehouse" else 100})
    for sku, loc, qty in STOCK:
        with UnitOfWork(db) as uow:
            inventory.adjust(uow, sku=sku, location=loc, delta=qty)
    ids = {}
    with UnitOfWork(db) as uow:
        for key, first, last, email, phone in (
                ("anna", "Anna", "Kowalska", "anna@example.com", "+48 601 200 300"),
                ("jan", "Jan", "Nowak", "jan.nowak@example.com", "+48 602 111 222"),
                ("ewa", "Ewa", "Nowak", "ewa.nowak@example.com", "+48 603 333 444"),
                ("piotr", "Piotr", "Wiśniewski", "piotr@example.com", "+48 604 555 666")):
            ids[key] = customers.create_customer(uow, customers.CustomerCreate(
                first_name=first, last_name=last, email=email, phone=phone), commit=False).id
        uow.commit()
    users, user_ids = {}, {}
    with UnitOfWork(db) as uow:
        for key, name, role in (("admin", "Admin", Role.admin), ("staff", "Staff", Role.staff),
                                ("waw", "Marta (Warsaw)", Role.store_associate),
                                ("krk", "Tomasz (Kraków)", Role.store_associate),
                                ("gdn", "Ola (Gdańsk)", Role.store_associate)):
            email = f"{key}@chain.test"
            user = accounts.create_user(uow, name=name, role=role, email=email)
            user.password_hash = password_hash()
            users[key], user_ids[key] = email, user.id
        uow.commit()
    for key, store in (("waw", "ST-WAW"), ("krk", "ST-KRK"), ("gdn", "ST-GDN")):
        with UnitOfWork(db, SYSTEM) as uow:
            instore.bind_associate(uow, user_ids[key], [store], role_of_user=Role.store_associate)
    # An online order (web, shipped from the warehouse), delivered: returnable at any store.
    with UnitOfWork(db, SYSTEM) as uow:
        order = orders.place_order(uow, orders.OrderCreate(
            channel="web", customer={"id": ids["piotr"]},
            lines=[{"sku": "KETTLE-1", "quantity": 2}],
            fulfilment={"type": "ship", "address": {"line1": "ul. Długa 1", "city": "Gdańsk", "country": "PL"}},
            payment={"provider": "manual"}))
    with UnitOfWork(db, SYSTEM) as uow:
        orders.fulfil(uow, order["id"], carrier="dpd", tracking_number="DPD1")
    with UnitOfWork(db, SYSTEM) as uow:
        order = orders.simple_transition(uow, order["id"], "delivered")
    return ChainShop(users=users, user_ids=user_ids, customers=ids, online_order=order)


def api_key_headers(db: Any, email: str) -> dict[str, str]:
    """Headers carrying a fresh API key of the user with this email (the chain's associates, staff)."""
    from merx.core import accounts
    from merx.core.models import User
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        uid = accounts.user_id_by_email(uow, email)
        issued = accounts.issue_api_key(uow, uow.session.get(User, uid), "test")
        uow.commit()
    return {"Authorization": f"Bearer {issued.key}"}

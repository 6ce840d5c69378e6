"""Find and inform: the SKU behind a scanned or typed code, and the associate's product card
(attributes, translations, the store price with the promotions that apply, stock here, in
nearby stores by distance, and in warehouses with the delivery time)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from merx.catalog import public as catalog
from merx.core.db import utcnow
from merx.core.errors import NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.instore import rules
from merx.instore.access import Store
from merx.instore.settings import get_instore_settings
from merx.inventory import public as inventory
from merx.pricing import public as pricing


@dataclass(frozen=True)
class CodeMatch:
    code: str
    kind: str  # ean | sku
    skus: list[str]


def find_by_code(uow: UnitOfWork, code: str) -> CodeMatch:
    """The SKUs a barcode (EAN/GTIN) or a typed SKU names. A code that matches nothing, or
    digits that fail the EAN check digit (a misread), is a 404 / 422 that says so."""
    code = (code or "").strip()
    if not code:
        raise ValidationProblem.for_field("code", "scan a barcode or type an EAN or SKU", "required")
    if len(code) > 100:
        raise ValidationProblem.for_field("code", "is too long for an EAN or a SKU", "too_long")
    kind = rules.code_kind(code)
    if kind == "bad_ean":
        raise ValidationProblem.for_field("code", f"{code} is not a valid EAN (the check digit is wrong): "
                                                  "scan it again or type it", "bad_check_digit")
    skus = catalog.skus_for_code(uow, code)
    if not skus:
        raise NotFound(f"No product has the code {code}", extra={"code": code})
    return CodeMatch(code=code, kind=kind, skus=skus)


@dataclass
class StockPlace:
    code: str
    name: str
    kind: str
    status: str
    available: int
    distance_km: float | None
    days: int  # 0: on this store's shelf
    pickup: bool


@dataclass
class ProductCard:
    product_id: int
    sku: str
    name: str
    description: str | None
    brand: str | None
    category: str | None
    ean: str | None
    attributes: dict[str, Any]
    translations: dict[str, Any]
    variants: list[dict[str, Any]]
    currency: str
    price: Decimal | None
    store_price: Decimal | None  # after the automatic promotions that apply to one unit
    promotions: list[str]
    here: StockPlace | None
    stores: list[StockPlace] = field(default_factory=list)  # other stores, nearest first
    warehouses: list[StockPlace] = field(default_factory=list)


def _promotions(uow: UnitOfWork, sku: str, info: Any, currency: str) -> tuple[Decimal | None, Decimal | None, list[str]]:
    prices = pricing.unit_prices(uow, {sku: info.prices}, currency=currency, channel="store")
    price = prices.get(sku)
    if price is None:
        return None, None, []
    result = pricing.price_cart([pricing.CartLine("lines[0]", sku, 1, price, info.category)],
                                pricing.promotions_for(uow, []),
                                pricing.CartContext(currency=currency, channel="store", now=utcnow()))
    return price, result.total, [p.name for p in result.applied]


def product_card(uow: UnitOfWork, store: Store | None, sku: str) -> ProductCard:
    """What an associate (or a kiosk) shows for one SKU, seen from `store`."""
    info = catalog.lookup_skus(uow, [sku]).get(sku)
    if info is None or info.status != "active":
        raise NotFound(f"No product on sale has SKU {sku}")
    product = catalog.get_product(uow, info.product_id)
    currency = uow.settings.default_currency
    price, store_price, promos = _promotions(uow, sku, info, currency)
    settings = get_instore_settings()
    lat, lon = (store.lat, store.lon) if store is not None else (None, None)
    avail = inventory.availability(uow, sku, lat=lat, lon=lon, with_quantities=True)
    here, stores, warehouses = None, [], []
    for loc in avail["locations"]:
        is_here = store is not None and loc["location"] == store.code
        place = StockPlace(code=loc["location"], name=loc["name"], kind=loc["kind"], status=loc["status"],
                           available=max(0, int(loc["available"])), distance_km=loc["distance_km"],
                           days=rules.delivery_days(loc["kind"], here=is_here,
                                                    warehouse_days=settings.instore_warehouse_delivery_days,
                                                    store_days=settings.instore_store_delivery_days),
                           pickup=bool(loc["pickup"]))
        if is_here:
            here = place
        elif loc["kind"] == "store":
            stores.append(place)
        else:
            warehouses.append(place)
    if store is not None and here is None:  # no stock row here: none on the shelf
        here = StockPlace(code=store.code, name=store.name, kind="store", status="out_of_stock", available=0,
                          distance_km=0.0, days=0, pickup=store.pickup)
    variant = next((v for v in product.variants if v.sku == sku), None)
    return ProductCard(
        product_id=product.id, sku=sku, name=product.name, description=product.description, brand=product.brand,
        category=product.category, ean=variant.ean if variant else None, attributes=product.attributes,
        translations=product.translations,
        variants=[{"sku": v.sku, "options": v.options} for v in product.variants], currency=currency, price=price,
        store_price=store_price, promotions=promos, here=here, stores=stores, warehouses=warehouses)


def card_dict(card: ProductCard) -> dict[str, Any]:
    """The card for JSON: money as decimal strings (never floats)."""
    out = asdict(card)
    for key in ("price", "store_price"):
        out[key] = None if out[key] is None else str(out[key])
    return out

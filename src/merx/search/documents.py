"""From a catalog `ProductDocument` (plus the signals search keeps) to the record the index
stores: analysed token streams per field, filter values, and the numbers stage 3 reads.

Kept free of the database so tests and the benchmark can build records directly."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from merx.search.semantic import semantic_text
from merx.search.analysis import analyze as _analyze_as, guess_language, normalise_code, surface_tokens as _surface_as

# Field weights of the base text layer (stage 2): a word in the name counts most, brand and
# category next, attribute values after; the description only adds to the score of
# candidates found by the other fields (it never makes a product a candidate).
FIELD_WEIGHTS: dict[str, float] = {"name": 3.0, "brand": 2.0, "category": 2.0, "attrs": 1.0}
DESCRIPTION_WEIGHT = 0.3
CANDIDATE_FIELDS = tuple(FIELD_WEIGHTS)

# The numeric per-product signals stage 3 reads straight from the index's fast fields.
SIGNAL_FIELDS = (
    "pop_views", "pop_carts", "pop_favourites", "sales_purchases", "sales_conversion",
    "price_ratio", "price_discount", "rating_avg", "rating_count", "express", "in_stock",
    "seller_premium", "seller_rating", "seller_violations",
)


def analyze(text: str | None, lang: str) -> list[str]:
    """A text in another script than its locale's language (a Cyrillic or Chinese name in a
    shop whose default locale is English) is analysed as the language its script says."""
    if not text:
        return []
    return _analyze_as(text, guess_language(text, lang))


def surface(text: str | None, lang: str) -> list[str]:
    if not text:
        return []
    return _surface_as(text, guess_language(text, lang))


def language_of(locale: str | None) -> str:
    """"pt-BR" -> "pt"; the analysers are per language, not per region."""
    return (locale or "en").split("-")[0].split("_")[0].lower()


@dataclass
class ProductSignals:
    """What search knows about a product beyond its text. Every field has a neutral default,
    so search works on a bare catalog: no views, no sales, price at its average, no
    ratings, no express delivery, availability unknown (treated as in stock), an ordinary
    seller."""

    pop_views: float = 0.0  # time-decayed views (half-life 14 days)
    pop_carts: float = 0.0  # time-decayed cart adds
    pop_favourites: float = 0.0
    sales_purchases: float = 0.0  # units bought over the last 60 days (time-decayed)
    sales_conversion: float = 0.0  # purchases / views over the same window
    price_ratio: float = 1.0  # current price / its 30-day average
    price_discount: float = 0.0  # 1 - price_ratio when positive
    rating_avg: float = 0.0  # 0 = no rating
    rating_count: float = 0.0
    express: bool = False
    in_stock: bool = True
    seller_premium: bool = False
    seller_rating: float = 0.0  # 0 = unknown
    seller_violations: float = 0.0
    stock_locations: list[str] = field(default_factory=list)  # locations with stock > 0

    def numbers(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in SIGNAL_FIELDS}


@dataclass
class IndexRecord:
    product_id: int
    status: str
    name_tokens: list[str]
    brand_tokens: list[str]
    category_tokens: list[str]
    attr_tokens: list[str]
    description_tokens: list[str]
    codes: list[str]
    category: str | None
    category_path: list[str]
    brand: str | None
    attribute_pairs: list[str]  # "code=value" for facets and filters
    channels: list[str]
    seller_id: int
    price: float | None  # lowest variant price in the index currency (filters, facets)
    signals: ProductSignals
    display: dict[str, Any]
    category_codes: list[str] = field(default_factory=list)  # the category's and its ancestors' codes
    # unstemmed words of name, brand, category and attribute values in every language: the
    # field typo tolerance and prefix completion run on
    surface_tokens: list[str] = field(default_factory=list)
    semantic_text: str = ""  # what the semantic stage embeds (semantic.semantic_text)


def _attribute_values(attributes: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for value in attributes.values():
        if isinstance(value, (list, tuple)):
            out.extend(str(v) for v in value if v is not None and not isinstance(v, (dict, bool)))
        elif value is not None and not isinstance(value, (dict, bool)):
            out.append(str(value))
    return out


def _attribute_pairs(attributes: dict[str, Any]) -> list[str]:
    pairs: list[str] = []
    for code, value in attributes.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is None or isinstance(v, dict):
                continue
            text = ("true" if v else "false") if isinstance(v, bool) else str(v)
            pairs.append(f"{code}={text}"[:200])
    return pairs


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y")
    return bool(value)


def semantic_text_of(doc: Any) -> str:
    """What the semantic stage embeds for a catalog ProductDocument, without the analysis a
    whole record costs (an index build embeds ahead of it: search/warmup.py)."""
    names: dict[str, str] = {language_of(getattr(doc, "default_locale", "en")): doc.name}
    for locale, tr in (doc.translations or {}).items():
        if tr.get("name"):
            names[language_of(locale)] = tr["name"]
    return semantic_text(doc.name, names.values(), doc.category_path or [], doc.brand,
                         _attribute_values(dict(doc.attributes or {})))


def build_record(doc: Any, signals: ProductSignals | None = None, *, currency: str = "EUR") -> IndexRecord:
    """`doc` is a catalog ProductDocument (or anything with the same attributes)."""
    signals = signals or ProductSignals()
    default_lang = language_of(getattr(doc, "default_locale", "en"))
    attributes = dict(doc.attributes or {})
    if "express_delivery" in attributes and _truthy(attributes["express_delivery"]):
        signals.express = True
    names: dict[str, str] = {default_lang: doc.name}
    name_tokens = analyze(doc.name, default_lang)
    description_tokens = analyze(doc.description, default_lang)
    attr_values = _attribute_values(attributes)
    attr_tokens = [t for v in attr_values for t in analyze(v, default_lang)]
    surface_words = surface(doc.name, default_lang) + [w for v in attr_values for w in surface(v, default_lang)]
    for locale, tr in (doc.translations or {}).items():
        lang = language_of(locale)
        if tr.get("name"):
            names[lang] = tr["name"]
            name_tokens += analyze(tr["name"], lang)
            surface_words += surface(tr["name"], lang)
        if tr.get("description"):
            description_tokens += analyze(tr["description"], lang)
        for v in _attribute_values(tr.get("attributes") or {}):
            attr_tokens += analyze(v, lang)
            surface_words += surface(v, lang)
    # The category path in the default language and in each translation («Meble», «Наушники»):
    # a shopper searching in Polish finds the category's products by its Polish name.
    category_tokens = [t for part in (doc.category_path or []) for t in analyze(part, default_lang)]
    surface_words += [w for part in (doc.category_path or []) for w in surface(part, default_lang)]
    for locale, path in (getattr(doc, "category_path_translations", None) or {}).items():
        lang = language_of(locale)
        for part in path or []:
            if part not in (doc.category_path or []):
                category_tokens += analyze(part, lang)
                surface_words += surface(part, lang)
    brand_tokens = analyze(doc.brand, default_lang)
    surface_words += surface(doc.brand, default_lang)
    # Brand aliases ("Самсунг", "三星"), each in the language its script says (analyze guesses):
    # a shopper typing the local name finds the brand's products.
    for alias in getattr(doc, "brand_aliases", None) or []:
        brand_tokens += analyze(alias, default_lang)
        surface_words += surface(alias, default_lang)
    codes: list[str] = []
    prices: list[Decimal] = []
    skus: list[str] = []
    for v in doc.variants or []:
        if v.get("sku"):
            skus.append(v["sku"])
            codes.append(normalise_code(v["sku"]))
        if v.get("ean"):
            codes.append(normalise_code(v["ean"]))
        price = (v.get("prices") or {}).get(currency)
        if price is not None:
            prices.append(Decimal(price))
        for value in (v.get("options") or {}).values():
            attr_tokens += analyze(str(value), default_lang)
    low = min(prices) if prices else None
    display = {"names": names, "sku": skus[0] if skus else None, "skus": skus[:20],
               "price": format(low, "f") if low is not None else None, "currency": currency if low is not None else None,
               "category": doc.category, "brand": doc.brand, "seller_id": doc.seller_id}
    return IndexRecord(
        product_id=int(doc.product_id), status=doc.status, name_tokens=name_tokens, brand_tokens=brand_tokens,
        category_tokens=category_tokens, attr_tokens=attr_tokens, description_tokens=description_tokens,
        codes=sorted(set(codes)), category=doc.category, category_path=list(doc.category_path or []),
        brand=doc.brand, attribute_pairs=_attribute_pairs(attributes), channels=list(doc.channels or []),
        seller_id=int(doc.seller_id or 0), price=float(low) if low is not None else None, signals=signals,
        display=display, category_codes=list(doc.category_codes),
        surface_tokens=list(dict.fromkeys(surface_words)),
        semantic_text=semantic_text_of(doc),
    )


def decay(value: float, elapsed_days: float, half_life_days: float) -> float:
    """Exponential time decay used by the popularity and sales counters."""
    if elapsed_days <= 0:
        return value
    return value * math.pow(0.5, elapsed_days / half_life_days)


def records(docs: Iterable[Any], signals: dict[int, ProductSignals] | None = None,
            currency: str = "EUR") -> Iterable[IndexRecord]:
    signals = signals or {}
    for d in docs:
        yield build_record(d, signals.get(int(d.product_id)), currency=currency)

"""Competitors, the prices seen at them, and where our prices stand.

Observed prices come one by one (`POST /sales/competitor-prices`), in batches (JSON) or as a
CSV file (`POST /sales/competitor-prices/import`): each with its competitor, SKU, source and
time. They are kept in the shop's currency (settings.default_currency); a price seen in
another currency needs a rate (per row or per import) and is refused without one, naming the
field: a comparison across currencies at an invented rate would be worse than none. The
price-position report compares each SKU's current price (price lists, else the catalog) with
the latest price per competitor within `max_age_days`."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Iterable

import sqlalchemy as sa
from pydantic import ValidationError

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, NotFound, ValidationProblem
from merx.core.money import MoneyError, exponent, parse_amount
from merx.core.pagination import paginate
from merx.core.uow import UnitOfWork
from merx.pricing import rules
from merx.pricing.models import Competitor, CompetitorPrice
from merx.pricing.schemas import (CompetitorCreate, CompetitorOut, CompetitorPriceImport, CompetitorPriceImportReport,
                                  CompetitorPriceIn, CompetitorPriceOut, PricePositionOut, PricePositionRow)

RATE_LIMITS = (Decimal("0.000001"), Decimal("1000000"))


def shop_currency(uow: UnitOfWork) -> str:
    return uow.settings.default_currency


# -- competitors ------------------------------------------------------------------------------


def _competitor_out(c: Competitor, stats: tuple[int, dt.datetime | None] = (0, None)) -> CompetitorOut:
    return CompetitorOut(id=c.id, code=c.code, name=c.name, website=c.website, active=c.active,
                         prices_observed=stats[0], last_observed_at=stats[1])


def create_competitor(uow: UnitOfWork, data: CompetitorCreate) -> CompetitorOut:
    if uow.session.scalar(sa.select(Competitor.id).where(Competitor.code == data.code)) is not None:
        raise Conflict(f"A competitor with code {data.code} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    c = Competitor(code=data.code, name=data.name, website=data.website, active=True)
    uow.session.add(c)
    uow.session.flush()
    uow.audit("create", "competitor", c.id, after=data.model_dump())
    out = _competitor_out(c)
    uow.commit()
    return out


def competitors_page(uow: UnitOfWork, *, limit: int, cursor: str | None) -> tuple[list[CompetitorOut], str | None]:
    stats = {cid: (n, last) for cid, n, last in uow.session.execute(
        sa.select(CompetitorPrice.competitor_id, sa.func.count(), sa.func.max(CompetitorPrice.observed_at))
        .group_by(CompetitorPrice.competitor_id))}
    return paginate(uow.session, sa.select(Competitor), Competitor.id, limit=limit, cursor=cursor,
                    convert=lambda c: _competitor_out(c, stats.get(c.id, (0, None))))


# -- observed prices --------------------------------------------------------------------------


def _decimal(value: Any, field: str) -> Decimal:
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationProblem.for_field(field, f"{value!r} is not a decimal number") from None
    if not d.is_finite():
        raise ValidationProblem.for_field(field, "must be a finite number")
    return d


def _converted(row: CompetitorPriceIn, rates: dict[str, str], shop: str) -> tuple[int, Decimal, Decimal | None]:
    """(amount in the shop's minor units, the observed amount, the rate used or None)."""
    try:
        observed = parse_amount(row.amount, row.currency)
    except MoneyError as e:
        raise ValidationProblem.for_field("amount", str(e)) from None
    if observed <= 0:
        raise ValidationProblem.for_field("amount", "must be greater than 0")
    if row.currency == shop:
        if row.rate is not None and _decimal(row.rate, "rate") != 1:
            raise ValidationProblem.for_field("rate", f"a price in {shop}, the shop's currency, takes no rate")
        return rules.to_minor(observed, shop), observed, None
    raw_rate = row.rate if row.rate is not None else rates.get(row.currency)
    if raw_rate is None:
        raise ValidationProblem.for_field(
            "currency", f"{row.currency} is not the shop's currency ({shop}) and no rate was given: send `rate` "
            f"({shop} per 1 {row.currency}) or the import's rates.{row.currency}", "no_rate")
    rate = _decimal(raw_rate, "rate")
    if not RATE_LIMITS[0] <= rate <= RATE_LIMITS[1]:
        raise ValidationProblem.for_field("rate", "must be a positive exchange rate")
    converted = (observed * rate).quantize(Decimal(1).scaleb(-exponent(shop)), ROUND_HALF_UP)
    if converted <= 0:
        raise ValidationProblem.for_field("rate", f"converts {observed} {row.currency} to nothing in {shop}")
    return rules.to_minor(converted, shop), observed, rate


def _record(uow: UnitOfWork, row: CompetitorPriceIn, competitors: dict[str, Competitor], known_skus: set[str],
            rates: dict[str, str], now: dt.datetime) -> CompetitorPrice:
    shop = shop_currency(uow)
    comp = competitors.get(row.competitor)
    if comp is None:
        raise ValidationProblem.for_field("competitor", f"{row.competitor} is not a known competitor", "unknown")
    if row.sku not in known_skus:
        raise ValidationProblem.for_field("sku", f"{row.sku} is not a known SKU", "unknown_sku")
    if row.observed_at is not None and row.observed_at > now + dt.timedelta(minutes=5):
        raise ValidationProblem.for_field("observed_at", "is in the future")
    minor, observed, rate = _converted(row, rates, shop)
    rec = CompetitorPrice(competitor_id=comp.id, sku=row.sku, currency=shop, amount_minor=minor,
                          observed_amount=observed, observed_currency=row.currency, rate=rate,
                          observed_at=row.observed_at or now, source=row.source, url=row.url, in_stock=row.in_stock,
                          created_at=now)
    uow.session.add(rec)
    return rec


def _lookups(uow: UnitOfWork, rows: Iterable[CompetitorPriceIn]) -> tuple[dict[str, Competitor], set[str]]:
    from merx.catalog import public as catalog

    rows = list(rows)
    codes = {r.competitor for r in rows}
    competitors = {c.code: c for c in uow.session.scalars(sa.select(Competitor).where(Competitor.code.in_(codes)))}
    return competitors, set(catalog.lookup_skus(uow, {r.sku for r in rows}))


def _price_out(p: CompetitorPrice, code: str) -> CompetitorPriceOut:
    return CompetitorPriceOut(id=p.id, competitor=code, sku=p.sku, amount=format(rules.from_minor(p.amount_minor,
                                                                                                 p.currency), "f"),
                              currency=p.currency, observed_amount=format(Decimal(p.observed_amount), "f"),
                              observed_currency=p.observed_currency,
                              rate=format(Decimal(p.rate), "f") if p.rate is not None else None,
                              observed_at=p.observed_at, source=p.source, url=p.url, in_stock=p.in_stock)


def record_competitor_price(uow: UnitOfWork, data: CompetitorPriceIn) -> CompetitorPriceOut:
    competitors, skus = _lookups(uow, [data])
    rec = _record(uow, data, competitors, skus, {}, utcnow())
    uow.session.flush()
    uow.audit("observe", "competitor_price", rec.id, after={"competitor": data.competitor, "sku": data.sku,
                                                            "amount": data.amount, "currency": data.currency})
    out = _price_out(rec, data.competitor)
    uow.commit()
    return out


def import_competitor_prices(uow: UnitOfWork, data: CompetitorPriceImport) -> CompetitorPriceImportReport:
    """Each row on its own: bad rows (unknown competitor or SKU, a foreign currency without a
    rate...) are reported with row, field and message; the good ones are recorded."""
    competitors, skus = _lookups(uow, data.rows)
    now, recorded, errors = utcnow(), 0, []
    for i, row in enumerate(data.rows, start=1):
        try:
            _record(uow, row, competitors, skus, data.rates, now)
            recorded += 1
        except ValidationProblem as e:
            errors.append({"row": i, "field": e.errors[0].field if e.errors else "row", "message": e.detail})
    if recorded:
        uow.session.flush()
        uow.audit("import", "competitor_prices", None, after={"recorded": recorded, "errors": len(errors)})
    uow.commit()
    return CompetitorPriceImportReport(recorded=recorded, errors=errors)


def import_competitor_prices_csv(uow: UnitOfWork, raw: bytes, *, rates: dict[str, str] | None = None,
                                 source: str = "csv") -> CompetitorPriceImportReport:
    """CSV columns: competitor, sku, amount (or price), currency, and optionally observed_at,
    rate, url, in_stock, source. Row numbers count the header as row 1."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationProblem.for_field("file", "must be UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = {(f or "").strip().lower() for f in reader.fieldnames or []}
    if not {"competitor", "sku", "currency"} <= fields or not ({"amount", "price"} & fields):
        raise ValidationProblem.for_field("file", "needs the columns competitor, sku, amount (or price) and currency")
    parsed: list[tuple[int, CompetitorPriceIn]] = []
    errors: list[dict[str, Any]] = []
    for n, rec in enumerate(reader, start=2):
        rec = {(k or "").strip().lower(): (v or "").strip() for k, v in rec.items() if k}
        body = {"competitor": rec.get("competitor"), "sku": rec.get("sku"),
                "amount": rec.get("amount") or rec.get("price"), "currency": rec.get("currency"),
                "observed_at": rec.get("observed_at") or None, "rate": rec.get("rate") or None,
                "url": rec.get("url") or None, "source": rec.get("source") or source,
                "in_stock": {"": None, "1": True, "true": True, "yes": True, "0": False, "false": False,
                             "no": False}.get((rec.get("in_stock") or "").lower(), rec.get("in_stock"))}
        try:
            parsed.append((n, CompetitorPriceIn.model_validate(body)))
        except ValidationError as e:
            err = e.errors()[0]
            errors.append({"row": n, "field": ".".join(str(p) for p in err["loc"]) or "row", "message": err["msg"]})
    if not parsed:
        return CompetitorPriceImportReport(recorded=0, errors=errors or [{"row": 1, "field": "file",
                                                                          "message": "no rows"}])
    report = import_competitor_prices(uow, CompetitorPriceImport(rows=[r for _, r in parsed], rates=rates or {}))
    errors += [{**e, "row": parsed[e["row"] - 1][0]} for e in report.errors]
    return CompetitorPriceImportReport(recorded=report.recorded, errors=sorted(errors, key=lambda e: e["row"]))


def competitor_prices_page(uow: UnitOfWork, *, sku: str | None, competitor: str | None, limit: int,
                           cursor: str | None) -> tuple[list[CompetitorPriceOut], str | None]:
    """Observations, newest first."""
    codes = dict(uow.session.execute(sa.select(Competitor.id, Competitor.code)).all())
    stmt = sa.select(CompetitorPrice)
    if sku:
        stmt = stmt.where(CompetitorPrice.sku == sku)
    if competitor:
        cid = next((i for i, c in codes.items() if c == competitor), None)
        if cid is None:
            raise NotFound(f"Competitor {competitor} does not exist")
        stmt = stmt.where(CompetitorPrice.competitor_id == cid)
    return paginate(uow.session, stmt, CompetitorPrice.id, limit=limit, cursor=cursor, descending=True,
                    convert=lambda p: _price_out(p, codes.get(p.competitor_id, "?")))


def latest_prices(uow: UnitOfWork, skus: Iterable[str] | None, *, since: dt.datetime) -> dict[str, dict[str, Decimal]]:
    """SKU -> {competitor code: the latest price seen since `since`} in the shop's currency."""
    shop = shop_currency(uow)
    stmt = (sa.select(CompetitorPrice.sku, Competitor.code, CompetitorPrice.amount_minor, CompetitorPrice.observed_at,
                      CompetitorPrice.id)
            .join(Competitor, Competitor.id == CompetitorPrice.competitor_id)
            .where(CompetitorPrice.observed_at >= since, CompetitorPrice.currency == shop, Competitor.active.is_(True)))
    if skus is not None:
        stmt = stmt.where(CompetitorPrice.sku.in_(list(skus)))
    best: dict[tuple[str, str], tuple] = {}
    for sku, code, minor, at, pid in uow.session.execute(stmt):
        if (sku, code) not in best or (at, pid) > best[(sku, code)][0]:
            best[(sku, code)] = ((at, pid), minor)
    out: dict[str, dict[str, Decimal]] = {}
    for (sku, code), (_, minor) in best.items():
        out.setdefault(sku, {})[code] = rules.from_minor(minor, shop)
    return out


def current_prices(uow: UnitOfWork, skus: list[str], currency: str, *, channel: str = "web") -> dict[str, Decimal]:
    """What a customer pays today (price lists for everyone in `channel`, else the catalog)."""
    from merx.catalog import public as catalog
    from merx.pricing.service import unit_prices

    infos = catalog.lookup_skus(uow, skus)
    return unit_prices(uow, {s: i.prices for s, i in infos.items()}, currency=currency, channel=channel)


def price_position(uow: UnitOfWork, *, max_age_days: int = 30, category: str | None = None,
                   limit: int = 1000) -> PricePositionOut:
    """Every SKU with a competitor price seen in the last `max_age_days`: our price, the
    lowest (and who) and median competitor price, our rank (1 = cheapest) and price index."""
    from merx.catalog import public as catalog

    if not 1 <= max_age_days <= 365:
        raise ValidationProblem.for_field("max_age_days", "must be between 1 and 365")
    shop = shop_currency(uow)
    since = utcnow() - dt.timedelta(days=max_age_days)
    seen = latest_prices(uow, None, since=since)
    infos = catalog.lookup_skus(uow, list(seen))
    if category:
        seen = {s: v for s, v in seen.items() if s in infos and infos[s].category == category}
    ours = current_prices(uow, list(seen), shop)
    rows, summary = [], {"cheapest": 0, "at_or_below_median": 0, "above_median": 0, "most_expensive": 0, "no_data": 0}
    fmt = lambda d: format(d, "f") if d is not None else None  # noqa: E731
    for sku in sorted(seen):
        by_comp = seen[sku]
        our = ours.get(sku)
        pos = rules.position(our, list(by_comp.values()))
        if our is None or pos["rank"] is None:
            where = "no_data"
        elif pos["rank"] == 1:
            where = "cheapest"
        elif our > max(by_comp.values()):
            where = "most_expensive"
        elif our <= pos["median"]:
            where = "at_or_below_median"
        else:
            where = "above_median"
        summary[where] += 1
        lowest_code = min(by_comp, key=lambda c: (by_comp[c], c))
        median = pos["median"].quantize(Decimal(1).scaleb(-exponent(shop)), ROUND_HALF_UP) if pos["median"] else None
        info = infos.get(sku)
        rows.append(PricePositionRow(sku=sku, name=info.name if info else None, category=info.category if info else None,
                                     our_price=fmt(our), lowest=fmt(pos["lowest"]), lowest_competitor=lowest_code,
                                     median=fmt(median), competitors=len(by_comp), rank=pos["rank"], of=pos["of"],
                                     index=fmt(pos["index"]), position=where))
    rows.sort(key=lambda r: (-(Decimal(r.index) if r.index else Decimal(0)), r.sku))
    return PricePositionOut(currency=shop, since=since, summary=summary, rows=rows[:limit])

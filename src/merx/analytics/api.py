"""Analytics endpoints. Every report answers JSON by default and, with `?format=`, CSV or
XLSX (its main table) or a PNG/SVG chart. A sales rep sees only its own figures in every
report built on sales (rep is a dimension there); the funnel is shop-wide."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import field_validator

from merx.analytics import cost_gaps, exports, service
from merx.analytics.funnel import FunnelDefinition
from merx.analytics.scope import SalesScope
from merx.core.auth import Principal, Role
from merx.core.errors import ValidationProblem
from merx.core.money import MoneyError, check_currency
from merx.core.schemas import StrictModel
from merx.core.uow import UnitOfWork
from merx.core.web import get_read_uow, get_uow, require

router = APIRouter(prefix="/analytics", tags=["analytics"])
READERS = (Role.admin, Role.staff, Role.sales_rep)
MANAGERS = (Role.admin, Role.staff)
Format = Literal["json", "csv", "xlsx", "png", "svg"]


def _when(value: str | None, field: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationProblem.for_field(field, f"{value!r} is not an ISO 8601 date or date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _scope(date_from: str | None, date_to: str | None, currency: str | None) -> SalesScope:
    start, end = _when(date_from, "from"), _when(date_to, "to")
    if start and end and end <= start:
        raise ValidationProblem.for_field("to", "must be after from")
    if currency is not None:
        try:
            check_currency(currency)
        except MoneyError as e:
            raise ValidationProblem.for_field("currency", str(e)) from None
    return SalesScope(date_from=start, date_to=end, currency=currency)


def _data_dir(request: Request) -> Any:
    return request.app.state.settings.data_dir


def _respond(kind: str, report: dict[str, Any], fmt: str) -> Any:
    if fmt == "json":
        return report
    filename = f"merx-{kind}"
    if fmt in ("csv", "xlsx"):
        columns, rows = exports.table(kind, report)
        notes = [n for n in (report.get("cost_basis"), cost_gaps.summary(report.get("cost_missing"))) if n] or None
        body = exports.to_csv(columns, rows) if fmt == "csv" else exports.to_xlsx(columns, rows, kind, notes)
    else:
        body = exports.chart(kind, report, fmt)
    return Response(body, media_type=exports.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'})


def report_locale(request: Request, lang: str | None = Query(
        None, description="language of product names (a locale of the shop); else Accept-Language, else the "
                          "default locale")) -> str:
    """The language reports name products in: `?lang=`, then Accept-Language, then the shop's
    default (the catalog's rule, as its own product reads use). An unknown `lang` is a 422."""
    from merx.catalog import public as catalog

    settings = request.app.state.settings
    chosen, ok = catalog.pick_locale(lang, request.headers.get("accept-language"), settings.locales,
                                     settings.default_locale)
    if not ok:
        raise ValidationProblem.for_field("lang", f"unknown language {chosen!r}; supported: "
                                          + ", ".join(settings.locales))
    return chosen


def _types(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    return tuple(t.strip() for t in value.split(",") if t.strip())


@router.get("/funnel", summary="The five-stage funnel with conversion, drop-off and time between stages")
def get_funnel(request: Request,
               date_from: str | None = Query(None, alias="from", description="ISO date/time, inclusive"),
               date_to: str | None = Query(None, alias="to", description="ISO date/time, exclusive"),
               by: str | None = Query(None, description="channel|source|campaign|device|segment|category|day|week|month"),
               min_product_views: int = Query(1, description="product views that make interest"),
               retention_days: int = Query(90, description="window for the repeat purchase"),
               awareness: str | None = Query(None, description="comma-separated event types"),
               interest: str | None = None, decision: str | None = None, purchase: str | None = None,
               format: Format = "json",
               _: Principal = Depends(require(*READERS)), uow: UnitOfWork = Depends(get_read_uow)) -> Any:
    base = FunnelDefinition()
    definition = FunnelDefinition(
        awareness=_types(awareness, base.awareness), interest=_types(interest, base.interest),
        interest_min_events=min_product_views, decision=_types(decision, base.decision),
        purchase=_types(purchase, base.purchase), retention_days=retention_days)
    report = service.funnel_report(uow, data_dir=_data_dir(request), date_from=_when(date_from, "from"),
                                   date_to=_when(date_to, "to"), by=by, definition=definition)
    return _respond("funnel", report, format)


@router.get("/funnel/people", summary="Each person's current funnel stage")
def get_funnel_people(request: Request, stage: str | None = None, customer_id: int | None = None,
                      limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                      _: Principal = Depends(require(*MANAGERS)), uow: UnitOfWork = Depends(get_read_uow)) -> Any:
    items = service.funnel_people(uow, data_dir=_data_dir(request), stage=stage,
                                  customer_ids=[customer_id] if customer_id is not None else None,
                                  limit=limit + 1, after=cursor)
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": items[-1]["person"] if more and items else None}


@router.get("/cohorts", summary="Monthly acquisition cohorts, retention, repeat purchases and CLV")
def get_cohorts(request: Request, date_from: str | None = Query(None, alias="from"),
                date_to: str | None = Query(None, alias="to"), currency: str | None = None,
                clv_months: int = 12, format: Format = "json",
                _: Principal = Depends(require(*READERS)), uow: UnitOfWork = Depends(get_read_uow)) -> Any:
    report = service.cohort_report(uow, _scope(date_from, date_to, currency), data_dir=_data_dir(request),
                                   clv_months=clv_months)
    return _respond("cohorts", report, format)


@router.get("/definitions", summary="How every figure is defined: line classes, orders, buyers, net sales, Pareto")
def get_definitions(_: Principal = Depends(require(*READERS))) -> Any:
    from merx.analytics.definitions import DEFINITIONS

    return DEFINITIONS


@router.get("/range", summary="First and last moment of the sales history")
def get_range(request: Request, _: Principal = Depends(require(*READERS)),
              uow: UnitOfWork = Depends(get_read_uow)) -> Any:
    return service.data_range(uow, data_dir=_data_dir(request))


@router.get("/sales", summary="Gross, discounts, returns, net (with shipping, fees, adjustments apart), units, orders, "
                              "margin and AOV by a dimension or period, with growth")
def get_sales(request: Request, by: str = "month", date_from: str | None = Query(None, alias="from"),
              date_to: str | None = Query(None, alias="to"), currency: str | None = None,
              limit: int | None = Query(None, ge=1, le=100_000), format: Format = "json",
              returns: Literal["return_date", "original_sale"] = Query(
                  "return_date", description="attribute returns to the period of the return or of the original sale"),
              locale: str = Depends(report_locale),
              _: Principal = Depends(require(*READERS)), uow: UnitOfWork = Depends(get_read_uow)) -> Any:
    report = service.sales_analysis(uow, _scope(date_from, date_to, currency), data_dir=_data_dir(request), by=by,
                                    limit=limit, returns=returns, locale=locale)
    return _respond("sales", report, format)


@router.get("/pareto", summary="Which share of products or customers makes which share of revenue or profit")
def get_pareto(request: Request, of: str = "products", measure: str = "revenue", top_share: float = 0.2,
               date_from: str | None = Query(None, alias="from"), date_to: str | None = Query(None, alias="to"),
               currency: str | None = None, limit: int = Query(100, ge=1, le=100_000), format: Format = "json",
               locale: str = Depends(report_locale),
               _: Principal = Depends(require(*READERS)), uow: UnitOfWork = Depends(get_read_uow)) -> Any:
    report = service.pareto_report(uow, _scope(date_from, date_to, currency), data_dir=_data_dir(request), of=of,
                                   measure=measure, top_share=top_share, limit=limit, locale=locale)
    return _respond("pareto", report, format)


@router.get("/portfolio", summary="Gold, sunrise, sunset and the rest; mix against target; drop candidates")
def get_portfolio(request: Request, date_from: str | None = Query(None, alias="from"),
                  date_to: str | None = Query(None, alias="to"), currency: str | None = None,
                  margin_basis: str = "unit", threshold_quantile: float = 0.5,
                  target_gold: float = 0.4, target_sunrise: float = 0.3, target_sunset: float = 0.3,
                  limit: int | None = Query(None, ge=1, le=100_000), format: Format = "json",
                  locale: str = Depends(report_locale),
                  _: Principal = Depends(require(*READERS)), uow: UnitOfWork = Depends(get_read_uow)) -> Any:
    report = service.portfolio_report(
        uow, _scope(date_from, date_to, currency), data_dir=_data_dir(request), margin_basis=margin_basis,
        threshold_quantile=threshold_quantile,
        target={"gold": target_gold, "sunrise": target_sunrise, "sunset": target_sunset}, limit=limit,
        locale=locale)
    return _respond("portfolio", report, format)


class CategoryIn(StrictModel):
    role: Literal["destination", "routine", "occasional", "convenience"] | None = None
    cost_ratio: str | None = None

    @field_validator("cost_ratio")
    @classmethod
    def _ratio(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            Decimal(v)
        except InvalidOperation:
            raise ValueError("must be a decimal string such as \"0.55\"") from None
        return v


def _category_out(code: str, row: Any) -> dict[str, Any]:
    return {"category": code, "role": row.role if row else None,
            "cost_ratio": str(row.cost_ratio) if row is not None and row.cost_ratio is not None else None}


@router.get("/categories", summary="Category roles and cost ratios")
def get_categories(_: Principal = Depends(require(*READERS)), uow: UnitOfWork = Depends(get_read_uow)) -> Any:
    return {"items": [_category_out(c, r) for c, r in sorted(service.category_settings(uow).items())],
            "default_cost_ratio": str(service.DEFAULT_COST_RATIO), "roles": list(service.CATEGORY_ROLES)}


@router.put("/categories/{code}", summary="Assign a category's role and/or cost ratio")
def put_category(code: str, body: CategoryIn, _: Principal = Depends(require(*MANAGERS)),
                 uow: UnitOfWork = Depends(get_uow)) -> Any:
    if not code or len(code) > 64:
        raise ValidationProblem.for_field("code", "must be 1 to 64 characters")
    row = service.set_category(uow, code, role=body.role,
                               cost_ratio=Decimal(body.cost_ratio) if body.cost_ratio is not None else None,
                               clear_role="role" in body.model_fields_set and body.role is None)
    return _category_out(code, row)


@router.get("/inventory", summary="Stock on hand against average monthly sales, overstock and risk")
def get_inventory(request: Request, lookback_days: int = 90, overstock_ratio: float = 0.5, safety_days: float = 7.0,
                  as_of: str | None = None, status: str | None = None, currency: str | None = None,
                  demand: str = Query("history", description="history (past average) or forecast (ETS, next 30 days)"),
                  format: Format = "json",
                  _: Principal = Depends(require(*READERS)), uow: UnitOfWork = Depends(get_read_uow)) -> Any:
    report = service.inventory_report(uow, _scope(None, None, currency), data_dir=_data_dir(request),
                                      as_of=_when(as_of, "as_of"), lookback_days=lookback_days,
                                      overstock_ratio=overstock_ratio, safety_days=safety_days, status=status,
                                      demand=demand)
    return _respond("inventory", report, format)


@router.get("/forecast", summary="Seasonal-naive and ETS forecasts with a rolling-origin backtest")
def get_forecast(request: Request, freq: str = "week", level: str = "total", key: str | None = None,
                 measure: str = "revenue", horizon: int = 4, folds: int = 8, backtest: bool = True,
                 date_from: str | None = Query(None, alias="from"), date_to: str | None = Query(None, alias="to"),
                 currency: str | None = None, format: Format = "json",
                 include_partial: bool = Query(False, description="fit on the partly covered first/last periods too"),
                 _: Principal = Depends(require(*READERS)), uow: UnitOfWork = Depends(get_read_uow)) -> Any:
    report = service.forecast_report(uow, _scope(date_from, date_to, currency), data_dir=_data_dir(request),
                                     freq=freq, level=level, key=key, measure=measure, horizon=horizon, folds=folds,
                                     with_backtest=backtest, include_partial=include_partial)
    return _respond("forecast", report, format)


@router.get("/abandonment", summary="Abandoned carts and browsing, and the revenue recovered")
def get_abandonment(kind: str | None = None, limit: int = Query(100, ge=1, le=10_000), format: Format = "json",
                    _: Principal = Depends(require(*MANAGERS)), uow: UnitOfWork = Depends(get_read_uow)) -> Any:
    report = service.abandonment_report(uow, kind=kind, limit=limit)
    if format in ("png", "svg"):
        raise ValidationProblem.for_field("format", "abandonment has no chart; use json, csv or xlsx")
    return _respond("abandonment", report, format)


class AbandonmentScanIn(StrictModel):
    hours: float = 24
    attribution_days: int = 7
    include_browse: bool = True


@router.post("/abandonment/scan", summary="Find new abandonments (emitting cart.abandoned) and credit recoveries")
def post_abandonment_scan(request: Request, body: AbandonmentScanIn | None = None,
                          _: Principal = Depends(require(*MANAGERS)), uow: UnitOfWork = Depends(get_uow)) -> Any:
    body = body or AbandonmentScanIn()
    return service.abandonment_scan(uow, data_dir=_data_dir(request), hours=body.hours,
                                    attribution_days=body.attribution_days, include_browse=body.include_browse)


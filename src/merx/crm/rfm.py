"""RFM scoring: recency, frequency and monetary quintile scores and the named segments.

Method (stated so that anyone can recompute it):
- Inputs per customer: orders_count, last_order_at, revenue (net), currency — the
  purchase summaries of `crm.sources` (analytics contributes them). Customers are scored within their currency.
- Reference date: given, or else the day after the latest order in the data. Recency is
  `(reference_date - last_order_at.date()).days`, so an order on the eve is 1 day old.
- Quintiles by rank, ties sharing the lowest rank ("min" rank, as SQL's RANK() and
  pandas' rank(method="min")): score = floor((rank - 1) * 5 / n) + 1, with rank 1 the
  *worst* value (oldest last order for R, fewest orders for F, least revenue for M). So a
  tie never splits between two scores, and a large block of ties (the many one-order
  customers) all get the score of where the block starts.
- Named segment from R and FM = ceil((F + M) / 2):

      R \\ FM |     1          2          3          4          5
      -------+-----------------------------------------------------------
        5    | New        Potential  Potential  Champions  Champions
        4    | Promising  Potential  Potential  Loyal      Champions
        3    | About to   About to   Need       Loyal      Loyal
             | sleep      sleep      attention
        2    | Hibernat.  Hibernat.  At risk    At risk    Can't lose
        1    | Lost       Lost       At risk    At risk    Can't lose

  ("Potential" = Potential loyalist.)"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Sequence

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import ValidationProblem
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.crm.events import RfmComputed
from merx.crm.sources import PurchaseSummary, sales_figures

SEGMENTS = ("Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention", "About to sleep",
            "At risk", "Can't lose", "Hibernating", "Lost")

_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Champions"),
    3: ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose"),
    1: ("Lost", "Lost", "At risk", "At risk", "Can't lose"),
}


@dataclass(frozen=True)
class RfmResult:
    customer_id: int
    recency_days: int
    frequency: int
    monetary: Decimal
    currency: str
    r: int
    f: int
    m: int
    segment: str

    @property
    def score(self) -> str:
        return f"{self.r}{self.f}{self.m}"


def segment_for(r: int, f: int, m: int) -> str:
    fm = (f + m + 1) // 2
    return _GRID[r][fm - 1]


def segment_map() -> list[dict[str, Any]]:
    """The R x FM grid as data (for the API and the docs)."""
    return [{"r": r, "fm": fm + 1, "segment": _GRID[r][fm]} for r in sorted(_GRID, reverse=True) for fm in range(5)]


def quintile_scores(values: Sequence[Any]) -> list[int]:
    """1..5 per value, higher value -> higher score, ties share the min rank (see module doc)."""
    n = len(values)
    ordered = sorted(values)
    return [(bisect.bisect_left(ordered, v) * 5) // n + 1 for v in values]


def compute_rfm(summaries: Iterable[Any], reference_date: dt.date | None = None) -> tuple[dt.date, list[RfmResult]]:
    """Pure function over purchase summaries (objects with customer_id, orders_count,
    last_order_at, revenue, currency). Returns the reference date used and one result per
    customer and currency, sorted by customer id."""
    rows = [s for s in summaries if s.orders_count > 0]
    if not rows:
        return reference_date or utcnow().date(), []
    if reference_date is None:
        reference_date = max(_date(s.last_order_at) for s in rows) + dt.timedelta(days=1)
    by_currency: dict[str, list[Any]] = defaultdict(list)
    for s in rows:
        by_currency[s.currency].append(s)
    out: list[RfmResult] = []
    for currency, group in by_currency.items():
        recency = [(reference_date - _date(s.last_order_at)).days for s in group]
        r_scores = quintile_scores([-d for d in recency])  # fewer days is better
        f_scores = quintile_scores([s.orders_count for s in group])
        m_scores = quintile_scores([Decimal(s.revenue) for s in group])
        for s, days, r, f, m in zip(group, recency, r_scores, f_scores, m_scores):
            out.append(RfmResult(customer_id=s.customer_id, recency_days=days, frequency=s.orders_count,
                                 monetary=Decimal(s.revenue), currency=currency, r=r, f=f, m=m,
                                 segment=segment_for(r, f, m)))
    out.sort(key=lambda x: (x.customer_id, x.currency))
    return reference_date, out


def _date(value: dt.datetime | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc).date()
    return value


Summary = PurchaseSummary  # what `compute_rfm` scores; declared with the hook in crm/sources.py


def purchase_summaries(uow: UnitOfWork, *, until: dt.datetime | None = None) -> tuple[str, list[Any]]:
    """(source, summaries): the contributed sales figures over every sale (analytics, when
    installed: crm/sources.py), else CRM's own order facts (live orders only)."""
    figures = sales_figures()
    if figures is not None:
        return figures.source, list(figures.purchase_summaries(uow, until))
    return "crm_order_facts", crm_order_summaries(uow, until=until)


def crm_order_summaries(uow: UnitOfWork, *, until: dt.datetime | None = None) -> list[Summary]:
    from merx.core.money import CURRENCY_EXPONENTS
    from merx.crm.models import OrderFact

    stmt = sa.select(OrderFact.customer_id, OrderFact.currency, sa.func.count(), sa.func.min(OrderFact.placed_at),
                     sa.func.max(OrderFact.placed_at), sa.func.sum(OrderFact.total_minor - OrderFact.refunded_minor)) \
        .where(OrderFact.status != "cancelled", OrderFact.customer_id.is_not(None)) \
        .group_by(OrderFact.customer_id, OrderFact.currency).order_by(OrderFact.customer_id)
    if until is not None:
        stmt = stmt.where(OrderFact.placed_at <= until)
    return [Summary(cid, n, first, last, Decimal(int(total or 0)).scaleb(-CURRENCY_EXPONENTS[cur]), cur)
            for cid, cur, n, first, last, total in uow.session.execute(stmt)]


@dataclass
class RfmRun:
    reference_date: dt.date
    source: str
    customers: int
    segments: dict[str, int]
    segment_ids: dict[str, int]


def run_rfm(uow: UnitOfWork, *, reference_date: dt.date | None = None, until: dt.datetime | None = None,
            save_segments: bool = True, summaries: list[Any] | None = None) -> RfmRun:
    """Score every customer and store the scores (replacing the previous run); optionally
    materialise one segment per named RFM segment ("RFM: Champions" ...)."""
    from merx.crm.models import RfmScore, Segment
    from merx.crm.segments import service as segments
    from merx.crm.segments.lang import referenced_fields

    if summaries is None:
        source, summaries = purchase_summaries(uow, until=until)
    else:
        source = "given"
    if reference_date is None and until is not None:
        reference_date = _date(until) + dt.timedelta(days=1)
    ref, results = compute_rfm(summaries, reference_date)
    # One score per profile: a customer buying in two currencies keeps the higher-revenue one.
    best: dict[int, RfmResult] = {}
    for res in results:
        if res.customer_id not in best or res.monetary > best[res.customer_id].monetary:
            best[res.customer_id] = res
    uow.session.execute(sa.delete(RfmScore))
    now = utcnow()
    rows = [{"customer_id": r.customer_id, "reference_date": ref, "recency_days": r.recency_days,
             "frequency": r.frequency, "monetary": r.monetary, "currency": r.currency, "r": r.r, "f": r.f, "m": r.m,
             "segment": r.segment, "computed_at": now} for r in best.values()]
    for i in range(0, len(rows), 5000):
        uow.session.execute(sa.insert(RfmScore), rows[i:i + 5000])
    counts = Counter(r.segment for r in best.values())
    segment_ids: dict[str, int] = {}
    if save_segments:
        by_segment: dict[str, list[int]] = defaultdict(list)
        for r in best.values():
            by_segment[r.segment].append(r.customer_id)
        for name in SEGMENTS:
            seg = segments.save_static_segment(uow, name=f"RFM: {name}", kind="rfm",
                                               customer_ids=sorted(by_segment.get(name, [])),
                                               description=f"RFM segment {name}, reference date {ref.isoformat()}")
            segment_ids[name] = seg.id
    for seg in uow.session.scalars(sa.select(Segment).where(Segment.kind == "rule")):
        try:
            uses_rfm = any(f.startswith("rfm_") for f in referenced_fields(segments.compile_rule(seg.expression or "")))
        except Exception:  # noqa: BLE001 - an outdated expression keeps its last members
            continue
        if uses_rfm:
            segments._evaluate_into(uow, seg)
    uow.audit("rfm_run", "crm", "rfm", after={"reference_date": ref.isoformat(), "source": source,
                                              "customers": len(best), "segments": dict(counts)})
    uow.emit(RfmComputed(reference_date=ref, customers=len(best), segments=dict(counts)))
    uow.commit()
    return RfmRun(reference_date=ref, source=source, customers=len(best), segments=dict(counts), segment_ids=segment_ids)


def rfm_scores(uow: UnitOfWork, *, segment: str | None = None, limit: int | None = None,
               cursor: str | None = None) -> Page[dict[str, Any]]:
    """One page of the stored scores of the last run, in customer id order, optionally of one segment."""
    from merx.crm.models import RfmScore

    stmt = sa.select(RfmScore)
    if segment is not None:
        if segment not in SEGMENTS:
            raise ValidationProblem.for_field("segment", f"must be one of {', '.join(SEGMENTS)}")
        stmt = stmt.where(RfmScore.segment == segment)
    items, nxt = paginate(uow.session, stmt, RfmScore.customer_id, limit=check_limit(limit, 100, 5000), cursor=cursor,
                          convert=lambda s: {"customer_id": s.customer_id, "r": s.r, "f": s.f, "m": s.m,
                                             "score": f"{s.r}{s.f}{s.m}", "segment": s.segment,
                                             "recency_days": s.recency_days, "frequency": s.frequency,
                                             "monetary": {"amount": str(s.monetary), "currency": s.currency},
                                             "reference_date": s.reference_date.isoformat()})
    return Page[dict[str, Any]](items=items, next_cursor=nxt)

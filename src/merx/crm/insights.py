"""Use cases around the pure segmentation functions: value tiers, clusters and Pareto over
the purchase summaries, optionally materialised as segments addressable by id."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from merx.core.db import utcnow
from merx.core.errors import ValidationProblem
from merx.core.uow import UnitOfWork
from merx.crm import clusters
from merx.crm.rfm import purchase_summaries
from merx.crm.sources import sales_figures


def _main_currency(summaries: list[Any]) -> list[Any]:
    """Customers are compared within one currency: the one with the most revenue."""
    if not summaries:
        return []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for s in summaries:
        totals[s.currency] += Decimal(s.revenue)
    main = max(totals, key=lambda c: totals[c])
    return [s for s in summaries if s.currency == main]


def _as_of(summaries: list[Any], as_of: dt.datetime | None) -> dt.datetime:
    if as_of is not None:
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.timezone.utc)
    if not summaries:
        return utcnow()
    last = max(s.last_order_at for s in summaries)
    last = last if last.tzinfo else last.replace(tzinfo=dt.timezone.utc)
    return last + dt.timedelta(days=1)


def run_value_tiers(uow: UnitOfWork, config: clusters.TierConfig, *, as_of: dt.datetime | None = None,
                    save_segments: bool = False) -> dict[str, Any]:
    from merx.crm.segments import service as segments

    source, summaries = purchase_summaries(uow, until=as_of)
    summaries = _main_currency(summaries)
    when = _as_of(summaries, as_of)
    tiers = clusters.value_tiers(summaries, when, config)
    segment_ids: dict[str, int] = {}
    if save_segments:
        groups: dict[str, list[int]] = defaultdict(list)
        for cid, t in tiers.items():
            for axis, value in t.items():
                groups[f"Tier: {value}"].append(cid)
        for name in ("Tier: new", "Tier: returning", "Tier: high", "Tier: low", "Tier: active", "Tier: churned"):
            seg = segments.save_static_segment(uow, name=name, kind="tier", customer_ids=sorted(groups.get(name, [])),
                                               description=f"value tier as of {when.date().isoformat()}, "
                                                           f"active within {config.active_days} days")
            segment_ids[name] = seg.id
        uow.audit("tiers_run", "crm", "tiers", after={"as_of": when.isoformat(), "customers": len(tiers)})
        uow.commit()
    return {"as_of": when, "source": source, "config": config.__dict__, "customers": len(tiers),
            "counts": clusters.tier_counts(tiers), "segment_ids": segment_ids}


def run_clusters(uow: UnitOfWork, *, k_min: int = 2, k_max: int = 8, as_of: dt.datetime | None = None,
                 save_segments: bool = False) -> dict[str, Any]:
    from merx.crm.segments import service as segments

    if k_max < k_min:
        raise ValidationProblem.for_field("k_max", "must be at least k_min")
    source, summaries = purchase_summaries(uow, until=as_of)
    summaries = _main_currency(summaries)
    if len(summaries) < 3:
        raise ValidationProblem.for_field("customers", "clustering needs at least 3 customers with orders")
    when = _as_of(summaries, as_of)
    result = clusters.cluster_customers(summaries, when, k_range=range(k_min, k_max + 1))
    segment_ids: dict[str, int] = {}
    if save_segments:
        groups: dict[int, list[int]] = defaultdict(list)
        for cid, c in result.labels.items():
            groups[c].append(cid)
        for profile in result.profiles:
            name = f"Cluster {profile['cluster']}"
            seg = segments.save_static_segment(uow, name=name, kind="cluster", customer_ids=sorted(groups[profile["cluster"]]),
                                               description=f"k-means k={result.k}: {profile['label']}")
            segment_ids[name] = seg.id
        uow.audit("clusters_run", "crm", "clusters", after={"k": result.k, "silhouettes": result.silhouettes})
        uow.commit()
    return {"as_of": when, "source": source, "k": result.k, "chosen_by": "highest mean silhouette",
            "silhouettes": {str(k): v for k, v in result.silhouettes.items()}, "silhouette_sample": result.sample_size,
            "features": list(clusters.FEATURES),
            "standardisation": "log1p of orders_count, revenue and average_order_value; then z-scores",
            "clusters": result.profiles, "segment_ids": segment_ids}


def pareto_report(uow: UnitOfWork, *, top_share: float = 0.2, until: dt.datetime | None = None) -> dict[str, Any]:
    source, summaries = purchase_summaries(uow, until=until)
    summaries = _main_currency(summaries)
    revenue = {s.customer_id: Decimal(s.revenue) for s in summaries}
    out: dict[str, Any] = {"source": source, "top_share": top_share,
                           "currency": summaries[0].currency if summaries else None,
                           "revenue": clusters.pareto(revenue, top_share)}
    # Profit needs costs, which only analytics knows (real line costs, else category cost
    # ratios): its own customer Pareto by profit is the source (contributed: crm/sources.py).
    figures = sales_figures()
    out["profit"], out["profit_note"] = None, "no cost source: the analytics context is not installed"
    if figures is not None and out["currency"] is not None:
        try:
            profit = figures.customer_profit_pareto(uow, out["currency"], until, top_share)
            out["profit"] = {"customers": profit.customers, "top_customers": profit.top_customers,
                             "share": profit.share}
            out["profit_note"] = profit.cost_basis
        except Exception as e:  # noqa: BLE001 - revenue still answers when the profit source fails
            out["profit_note"] = f"profit unavailable: {e}"
    return out

"""Pricing rules and the price changes they propose.

A rule (cost-plus, match the lowest competitor within a floor, keep a target margin; with
psychological rounding) covers all SKUs, some categories or listed SKUs. Running it reads
each SKU's cost now (catalog.cost_facts_at), its current price (price lists, else the
catalog) and the latest competitor prices, and asks the pure `rules.propose` for a price. A
price that differs from today's becomes a pending proposal (an older pending one of the same
rule and SKU is superseded). Nothing changes until a person approves: approval writes the
price to the rule's price list (pricing's own `set_prices`), in one transaction with the
decision. Approval checks the cost again: a proposal the cost has since overtaken is refused,
so no approved price is ever below cost or the floor."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, NotFound, ValidationProblem
from merx.core.pagination import paginate
from merx.core.uow import UnitOfWork
from merx.pricing import rules
from merx.pricing.competition import current_prices, latest_prices, shop_currency
from merx.pricing.models import PriceList, PriceProposal, PricingRule
from merx.pricing.schemas import PriceProposalOut, PricingRuleCreate, PricingRuleOut, RuleRunOut

HUNDRED = Decimal(100)


def _s(d: Decimal | None) -> str | None:
    return format(Decimal(d), "f") if d is not None else None


def _rule_out(r: PricingRule, pending: int = 0) -> PricingRuleOut:
    return PricingRuleOut(id=r.id, code=r.code, name=r.name, kind=r.kind, currency=r.currency,
                          price_list=r.price_list_code, markup_percent=_s(r.markup_percent),
                          target_margin_percent=_s(r.target_margin_percent), undercut=_s(r.undercut),
                          floor_margin_percent=_s(r.floor_margin_percent) or "0", rounding=r.rounding,
                          categories=r.categories, skus=r.skus, max_age_days=r.max_age_days, active=r.active,
                          pending_proposals=pending)


def strategy_of(r: PricingRule) -> rules.Strategy:
    return rules.Strategy(kind=r.kind, currency=r.currency, markup_percent=r.markup_percent,
                          target_margin_percent=r.target_margin_percent, undercut=Decimal(r.undercut or 0),
                          floor_margin_percent=Decimal(r.floor_margin_percent or 0), rounding=r.rounding)


def create_rule(uow: UnitOfWork, data: PricingRuleCreate) -> PricingRuleOut:
    need = {"cost_plus": "markup_percent", "target_margin": "target_margin_percent"}.get(data.kind)
    if need and getattr(data, need) is None:
        raise ValidationProblem.for_field(need, f"is required for a {data.kind} rule", "required")
    if uow.session.scalar(sa.select(PricingRule.id).where(PricingRule.code == data.code)) is not None:
        raise Conflict(f"A pricing rule with code {data.code} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    currency = shop_currency(uow)
    pl = uow.session.scalar(sa.select(PriceList).where(PriceList.code == data.price_list))
    if pl is None:
        raise ValidationProblem.for_field("price_list", f"{data.price_list} is not a price list", "unknown")
    if pl.currency != currency:
        raise ValidationProblem.for_field("price_list", f"{pl.code} is in {pl.currency}; rules price in the shop's "
                                          f"currency {currency}", "currency")
    if data.rounding in ("0.99", "0.95") and rules.exponent(currency) < 2:
        raise ValidationProblem.for_field("rounding", f"{currency} has no cents: use none or 0.00")
    rule = PricingRule(code=data.code, name=data.name, kind=data.kind, currency=currency,
                       price_list_code=data.price_list, markup_percent=data.markup_percent,
                       target_margin_percent=data.target_margin_percent, undercut=data.undercut,
                       floor_margin_percent=data.floor_margin_percent, rounding=data.rounding,
                       categories=data.categories, skus=data.skus, max_age_days=data.max_age_days, active=True)
    uow.session.add(rule)
    uow.session.flush()
    uow.audit("create", "pricing_rule", rule.id, after=data.model_dump(mode="json"))
    out = _rule_out(rule)
    uow.commit()
    return out


def _rule(uow: UnitOfWork, code: str, *, for_update: bool = False) -> PricingRule:
    stmt = sa.select(PricingRule).where(PricingRule.code == code)
    rule = uow.session.scalar(stmt.with_for_update() if for_update else stmt)
    if rule is None:
        raise NotFound(f"Pricing rule {code} does not exist")
    return rule


def rules_page(uow: UnitOfWork, *, limit: int, cursor: str | None) -> tuple[list[PricingRuleOut], str | None]:
    pending = dict(uow.session.execute(sa.select(PriceProposal.rule_id, sa.func.count())
                                       .where(PriceProposal.status == "pending").group_by(PriceProposal.rule_id)).all())
    return paginate(uow.session, sa.select(PricingRule), PricingRule.id, limit=limit, cursor=cursor,
                    convert=lambda r: _rule_out(r, pending.get(r.id, 0)))


def _skus_in_scope(uow: UnitOfWork, rule: PricingRule) -> list[str]:
    from merx.catalog import public as catalog

    if rule.skus:
        infos = catalog.lookup_skus(uow, rule.skus)
        return [s for s in rule.skus if s in infos and infos[s].status == "active"]
    cats = set(rule.categories or [])
    out = []
    for doc in catalog.iter_product_documents(uow):
        if doc.status != "active" or doc.seller_id is not None:
            continue  # a marketplace seller prices its own offers
        if cats and not (cats & set(doc.category_codes)):
            continue
        out += [v["sku"] for v in doc.variants]
    return out


def _m(minor: int | None, currency: str) -> Decimal | None:
    return rules.from_minor(minor, currency) if minor is not None else None


def proposal_out(p: PriceProposal, rule_code: str, name: str | None = None) -> PriceProposalOut:
    cur = p.currency
    proposed, current, cost = _m(p.proposed_minor, cur), _m(p.current_minor, cur), _m(p.cost_minor, cur)
    change = ((proposed - current) / current * HUNDRED).quantize(Decimal("0.1")) if current else None
    margin = ((proposed - cost) / proposed * HUNDRED).quantize(Decimal("0.1")) if proposed else Decimal(0)
    return PriceProposalOut(id=p.id, rule=rule_code, sku=p.sku, name=name, currency=cur, current_price=_s(current),
                            proposed_price=_s(proposed), change_percent=_s(change), cost=_s(cost),
                            floor=_s(_m(p.floor_minor, cur)), margin_percent=_s(margin),
                            lowest_competitor=_s(_m(p.lowest_minor, cur)), median_competitor=_s(_m(p.median_minor, cur)),
                            reason=p.reason, status=p.status, created_at=p.created_at, decided_at=p.decided_at,
                            decision_note=p.decision_note)


def run_rule(uow: UnitOfWork, code: str, *, now: dt.datetime | None = None) -> RuleRunOut:
    """Propose prices for every SKU the rule covers; returns what it proposed and why it
    skipped the others (no cost, no recent competitor price, already at the price)."""
    from merx.catalog import public as catalog

    now = now or utcnow()
    rule = _rule(uow, code, for_update=True)
    if not rule.active:
        raise Conflict(f"Pricing rule {code} is not active", type_slug="inactive")
    cur, strategy = rule.currency, strategy_of(rule)
    skus = _skus_in_scope(uow, rule)
    costs = catalog.costs_at(uow, skus, cur, now)
    current = current_prices(uow, skus, cur)
    seen = latest_prices(uow, skus, since=now - dt.timedelta(days=rule.max_age_days))
    pending = {p.sku: p for p in uow.session.scalars(sa.select(PriceProposal).where(
        PriceProposal.rule_id == rule.id, PriceProposal.status == "pending"))}
    skipped: dict[str, int] = {}
    created: list[PriceProposal] = []
    superseded = 0
    for sku in skus:
        competitors = tuple(seen.get(sku, {}).values())
        outcome = rules.propose(strategy, rules.PricePoint(sku, costs.get(sku), current.get(sku), competitors))
        old = pending.get(sku)
        if outcome.price is None:
            skipped[outcome.skipped or "other"] = skipped.get(outcome.skipped or "other", 0) + 1
            continue
        to_minor = lambda d: rules.to_minor(d, cur) if d is not None else None  # noqa: E731
        if old is not None:
            if old.proposed_minor == to_minor(outcome.price):
                skipped["already_proposed"] = skipped.get("already_proposed", 0) + 1
                continue
            old.status, old.decided_at, old.decision_note = "superseded", now, "a later run proposed another price"
            superseded += 1
        pos = rules.position(current.get(sku), competitors)
        p = PriceProposal(rule_id=rule.id, sku=sku, currency=cur, current_minor=to_minor(current.get(sku)),
                          proposed_minor=to_minor(outcome.price), cost_minor=to_minor(costs[sku]),
                          floor_minor=to_minor(outcome.floor), lowest_minor=to_minor(pos["lowest"]),
                          median_minor=to_minor(pos["median"]), reason=outcome.reason[:500], status="pending",
                          created_at=now)
        uow.session.add(p)
        created.append(p)
    uow.session.flush()
    uow.audit("run", "pricing_rule", rule.id, after={"proposed": len(created), "superseded": superseded,
                                                     "skipped": skipped})
    infos = catalog.lookup_skus(uow, [p.sku for p in created])
    out = RuleRunOut(rule=rule.code, proposed=len(created), superseded=superseded, skipped=skipped,
                     proposals=[proposal_out(p, rule.code, infos[p.sku].name if p.sku in infos else None)
                                for p in created])
    uow.commit()
    return out


def proposals_page(uow: UnitOfWork, *, status: str | None, rule: str | None, limit: int,
                   cursor: str | None) -> tuple[list[PriceProposalOut], str | None]:
    from merx.catalog import public as catalog

    codes = dict(uow.session.execute(sa.select(PricingRule.id, PricingRule.code)).all())
    stmt = sa.select(PriceProposal)
    if status:
        stmt = stmt.where(PriceProposal.status == status)
    if rule:
        rid = next((i for i, c in codes.items() if c == rule), None)
        if rid is None:
            raise NotFound(f"Pricing rule {rule} does not exist")
        stmt = stmt.where(PriceProposal.rule_id == rid)
    items, nxt = paginate(uow.session, stmt, PriceProposal.id, limit=limit, cursor=cursor, descending=True)
    infos = catalog.lookup_skus(uow, [p.sku for p in items])
    return [proposal_out(p, codes.get(p.rule_id, "?"), infos[p.sku].name if p.sku in infos else None)
            for p in items], nxt


def _pending(uow: UnitOfWork, proposal_id: int) -> tuple[PriceProposal, PricingRule]:
    p = uow.session.scalar(sa.select(PriceProposal).where(PriceProposal.id == proposal_id).with_for_update())
    if p is None:
        raise NotFound(f"Price proposal {proposal_id} does not exist")
    if p.status != "pending":
        raise Conflict(f"Price proposal {proposal_id} is {p.status}, not pending", type_slug="not-pending")
    return p, uow.session.get(PricingRule, p.rule_id)


def approve(uow: UnitOfWork, proposal_id: int, *, note: str | None = None) -> PriceProposalOut:
    """Write the proposed price to the rule's price list, in the decision's transaction. The
    cost is read again: a cost that rose above the proposal (or its floor) refuses it."""
    from merx.catalog import public as catalog
    from merx.pricing import service

    p, rule = _pending(uow, proposal_id)
    cost_now = catalog.cost_at(uow, p.sku, p.currency)
    proposed = rules.from_minor(p.proposed_minor, p.currency)
    if cost_now is None:
        raise Conflict(f"{p.sku} has no cost any more; run the rule again", type_slug="cost-changed")
    floor_now = rules.margin_floor(cost_now, Decimal(rule.floor_margin_percent or 0), p.currency)
    if proposed < floor_now:
        raise Conflict(f"{p.sku}'s cost is now {cost_now} (floor {floor_now}): the proposed {proposed} would be below "
                       "it; run the rule again", type_slug="below-floor",
                       errors=[FieldError("proposed_price", f"below the floor {floor_now}", "below_floor")])
    p.status, p.decided_at, p.decided_by_user_id, p.decision_note = "approved", utcnow(), uow.actor.user_id, note
    uow.audit("approve", "price_proposal", p.id, after={"sku": p.sku, "price": format(proposed, "f"),
                                                        "price_list": rule.price_list_code})
    out = proposal_out(p, rule.code)
    service.set_prices(uow, rule.price_list_code, [{"sku": p.sku, "amount": format(proposed, "f")}])  # commits
    return out


def reject(uow: UnitOfWork, proposal_id: int, *, note: str | None = None) -> PriceProposalOut:
    p, rule = _pending(uow, proposal_id)
    p.status, p.decided_at, p.decided_by_user_id, p.decision_note = "rejected", utcnow(), uow.actor.user_id, note
    uow.audit("reject", "price_proposal", p.id, after={"sku": p.sku, "note": note})
    out = proposal_out(p, rule.code)
    uow.commit()
    return out

"""Moderated product proposals: a seller proposes a new catalog product (name, category,
brand, attributes, image URLs, a reference price); staff approve it, which creates the active
catalog product through catalog.public in the same transaction (every seller, the proposer
first, may then offer it), or reject it with a reason. A seller sees only its own proposals.

Sellers no longer put products on sale themselves: catalog refuses an active product from a
seller (catalog/state.py), and points here."""

from __future__ import annotations

import sqlalchemy as sa

from merx.catalog import public as catalog
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, NotFound, ValidationProblem
from merx.core.money import Money
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import MoneyOut, Page
from merx.core.uow import UnitOfWork
from merx.sellers.access import check_visible, own_seller_id, require_staff, seller_for_write
from merx.sellers.events import ProductProposalApproved, ProductProposalRejected, ProductProposed
from merx.sellers.models import ProductProposal
from merx.sellers.offers import _check_currency
from merx.sellers.schemas import ProposalDecisionIn, ProposalIn, ProposalOut

STATUSES = ("pending", "approved", "rejected")


def proposal_out(p: ProductProposal) -> ProposalOut:
    return ProposalOut(id=p.id, seller_id=p.seller_id, sku=p.sku, name=p.name, description=p.description,
                       category=p.category, brand=p.brand, ean=p.ean, attributes=p.attributes or {},
                       image_urls=p.image_urls or [], price=MoneyOut.of(Money.from_minor(p.price_minor, p.currency)),
                       status=p.status, reason=p.reason, product_id=p.product_id, decided_at=p.decided_at,
                       created_at=p.created_at)


def _check(uow: UnitOfWork, data: ProposalIn) -> None:
    errors = []
    if catalog.lookup_skus(uow, [data.sku]).get(data.sku) is not None:
        errors.append(FieldError("sku", f"{data.sku} is already in the catalog: offer it instead", "duplicate"))
    elif uow.session.scalar(sa.select(ProductProposal.id).where(ProductProposal.sku == data.sku,
                                                                ProductProposal.status == "pending")) is not None:
        errors.append(FieldError("sku", f"{data.sku} is already proposed and waits for moderation", "duplicate"))
    if data.category is not None and data.category not in {c.code for c in catalog.list_categories(uow)}:
        errors.append(FieldError("category", f"no category with code {data.category!r}", "unknown_category"))
    known = {a.code for a in catalog.list_attributes(uow)} if data.attributes else set()
    for code in data.attributes:
        if code not in known:
            errors.append(FieldError(f"attributes.{code}", f"no attribute with code {code!r}", "unknown_attribute"))
    for i, url in enumerate(data.image_urls):
        if not url.startswith(("https://", "http://")) or len(url) > 2000:
            errors.append(FieldError(f"image_urls[{i}]", "must be an http(s) URL", "invalid_url"))
    if errors:
        raise ValidationProblem("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def propose(uow: UnitOfWork, data: ProposalIn) -> ProposalOut:
    seller_id = seller_for_write(uow, data.seller_id)
    _check_currency(uow, data.price, "price.currency")
    _check(uow, data)
    money = data.price.to_money()
    p = ProductProposal(seller_id=seller_id, sku=data.sku, name=data.name, description=data.description,
                        category=data.category, brand=data.brand, ean=data.ean, attributes=dict(data.attributes),
                        image_urls=list(data.image_urls), currency=money.currency, price_minor=money.minor,
                        status="pending", created_at=utcnow())
    uow.session.add(p)
    uow.session.flush()
    uow.emit(ProductProposed(proposal_id=p.id, seller_id=seller_id, sku=p.sku, name=p.name, category=p.category),
             version=1)
    uow.audit("create", "product_proposal", p.id, after={"sku": p.sku, "seller_id": seller_id})
    uow.created("product_proposal", p.id)
    uow.commit()
    return proposal_out(p)


def _load(uow: UnitOfWork, proposal_id: int, *, for_update: bool = False) -> ProductProposal:
    stmt = sa.select(ProductProposal).where(ProductProposal.id == proposal_id)
    if for_update:
        stmt = stmt.with_for_update()
    p = uow.session.scalar(stmt)
    if p is None:
        raise NotFound(f"Product proposal {proposal_id} does not exist")
    check_visible(uow, p.seller_id, f"Product proposal {proposal_id}")
    return p


def get_proposal(uow: UnitOfWork, proposal_id: int) -> ProposalOut:
    return proposal_out(_load(uow, proposal_id))


def proposals_stmt(seller_id: int | None, status: str | None = None) -> sa.Select:
    stmt = sa.select(ProductProposal)
    if seller_id is not None:
        stmt = stmt.where(ProductProposal.seller_id == seller_id)
    if status is not None:
        stmt = stmt.where(ProductProposal.status == status)
    return stmt


def list_proposals(uow: UnitOfWork, *, status: str | None = None, seller_id: int | None = None,
                   limit: int | None = None, cursor: str | None = None) -> Page[ProposalOut]:
    if status is not None and status not in STATUSES:
        raise ValidationProblem.for_field("status", f"must be one of {', '.join(STATUSES)}")
    own = own_seller_id(uow)
    items, nxt = paginate(uow.session, proposals_stmt(own if own is not None else seller_id, status),
                          ProductProposal.id, limit=check_limit(limit, 50, 200), cursor=cursor, convert=proposal_out,
                          descending=True)
    return Page[ProposalOut](items=items, next_cursor=nxt)


def _pending(p: ProductProposal) -> None:
    if p.status != "pending":
        raise Conflict(f"Product proposal {p.id} is {p.status}; only pending proposals are decided",
                       type_slug="proposal-decided")


def approve(uow: UnitOfWork, proposal_id: int) -> ProposalOut:
    """Staff: the proposal becomes an active catalog product (one transaction with the decision)."""
    require_staff(uow)
    p = _load(uow, proposal_id, for_update=True)
    _pending(p)
    if catalog.lookup_skus(uow, [p.sku]).get(p.sku) is not None:
        raise Conflict(f"{p.sku} was added to the catalog meanwhile; reject this proposal and let the seller offer it",
                       type_slug="duplicate-sku", errors=[FieldError("sku", "already in the catalog", "duplicate")])
    product = catalog.ProductCreate(
        sku=p.sku, name=p.name, description=p.description, category=p.category, brand=p.brand, ean=p.ean,
        attributes=p.attributes or {}, media=p.image_urls or [], status="active",
        price={"amount": format(Money.from_minor(p.price_minor, p.currency).amount, "f"), "currency": p.currency})
    product_id, = catalog.bulk_create_products(uow, [product], commit=False)
    p.status, p.product_id, p.decided_at, p.decided_by_user_id = "approved", product_id, utcnow(), uow.actor.user_id
    uow.emit(ProductProposalApproved(proposal_id=p.id, seller_id=p.seller_id, sku=p.sku, product_id=product_id),
             version=2)
    uow.audit("approve", "product_proposal", p.id, after={"product_id": product_id})
    uow.commit()
    return proposal_out(p)


def reject(uow: UnitOfWork, proposal_id: int, data: ProposalDecisionIn) -> ProposalOut:
    require_staff(uow)
    reason = (data.reason or "").strip()
    if not reason:
        raise ValidationProblem.for_field("reason", "say why the proposal is rejected", "required")
    p = _load(uow, proposal_id, for_update=True)
    _pending(p)
    p.status, p.reason, p.decided_at, p.decided_by_user_id = "rejected", reason, utcnow(), uow.actor.user_id
    uow.emit(ProductProposalRejected(proposal_id=p.id, seller_id=p.seller_id, sku=p.sku, reason=reason), version=2)
    uow.audit("reject", "product_proposal", p.id, after={"reason": reason})
    uow.commit()
    return proposal_out(p)

"""Quotes: built from the account's price list (pricing.unit_prices for the account's customer
group, b2b channel); a line discounted beyond the author's limit needs a manager's approval
before the quote can be sent; sending creates the buyer's secret acceptance link (only its hash
is stored) and emits `quote.sent` (Merx sends no email itself); the buyer accepts without a login
and the order is placed through orders.public.place_order_at_prices with the quote's prices,
stock reserved. Revisions keep the number and supersede the previous one."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from merx.catalog import public as catalog
from merx.core import accounts as users
from merx.core.auth import Principal, Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationProblem
from merx.core.money import Money, exponent
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import MoneyOut, Page
from merx.core.uow import UnitOfWork
from merx.orders import public as orders
from merx.pricing import public as pricing
from merx.sales import rules
from merx.sales.events import (QuoteAccepted, QuoteApproved, QuoteCreated, QuoteExpired, QuoteLine as QuoteLineEvent,
                               QuoteRejected, QuoteSent)
from merx.sales.models import Account, Deal, Quote, QuoteLine
from merx.sales.schemas import (AcceptIn, PublicQuoteOut, QuoteCreate, QuoteLineOut, QuoteOut, QuoteSentOut,
                                RejectIn)
from merx.sales.scope import is_manager, load, scoped

# The discount (percent off the account's price list) each role may give without approval;
# None: no limit (staff and admins are the sales managers who approve).
DISCOUNT_LIMITS: dict[Role, Decimal | None] = {Role.sales_rep: Decimal("10"), Role.staff: None, Role.admin: None}
DEFAULT_VALIDITY_DAYS = 30


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _lines(uow: UnitOfWork, quote_id: int) -> list[QuoteLine]:
    return list(uow.session.scalars(sa.select(QuoteLine).where(QuoteLine.quote_id == quote_id)
                                    .order_by(QuoteLine.line_no)))


def _line_out(ln: QuoteLine, currency: str) -> QuoteLineOut:
    m = lambda minor: str(Money.from_minor(minor, currency).amount)  # noqa: E731
    return QuoteLineOut(line=ln.line_no, sku=ln.sku, name=ln.name, quantity=ln.quantity,
                        list_price=m(ln.list_price_minor), discount_percent=str(ln.discount_percent),
                        unit_price=m(ln.unit_price_minor), total=m(ln.total_minor), needs_approval=ln.needs_approval)


def quote_out(uow: UnitOfWork, q: Quote) -> QuoteOut:
    return QuoteOut(id=q.id, number=q.number, revision=q.revision, account_id=q.account_id, deal_id=q.deal_id,
                    owner_user_id=q.owner_user_id, status=q.status, currency=q.currency, valid_until=q.valid_until,
                    total=MoneyOut.of(Money.from_minor(q.total_minor, q.currency)),
                    lines=[_line_out(ln, q.currency) for ln in _lines(uow, q.id)],
                    approved_by_user_id=q.approved_by_user_id, sent_at=q.sent_at, accepted_at=q.accepted_at,
                    order_id=q.order_id, version=q.version)


def _build_lines(uow: UnitOfWork, account: Account, data: QuoteCreate) -> list[dict[str, Any]]:
    skus = [ln.sku for ln in data.lines]
    if len(set(skus)) != len(skus):
        raise ValidationProblem.for_field("lines", "each SKU appears once (merge the quantities)")
    infos = catalog.lookup_skus(uow, skus)
    errors = []
    for i, ln in enumerate(data.lines):
        info = infos.get(ln.sku)
        if info is None:
            errors.append(FieldError(f"lines[{i}].sku", f"{ln.sku} is not a known SKU", "unknown_sku"))
        elif info.status != "active":
            errors.append(FieldError(f"lines[{i}].sku", f"{ln.sku} is not for sale ({info.status})", "not_for_sale"))
    if errors:
        raise ValidationProblem("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    prices = pricing.unit_prices(uow, {s: infos[s].prices for s in skus}, currency=account.currency, channel="b2b",
                                 customer_group=account.customer_group)
    missing = [FieldError(f"lines[{i}].sku", f"{ln.sku} has no price in {account.currency}", "no_price")
               for i, ln in enumerate(data.lines) if ln.sku not in prices]
    if missing:
        raise ValidationProblem("; ".join(f"{e.field}: {e.message}" for e in missing), errors=missing)
    limit = DISCOUNT_LIMITS.get(uow.actor.role) if uow.actor.role in DISCOUNT_LIMITS else Decimal(0)
    exp = exponent(account.currency)
    out = []
    for i, ln in enumerate(data.lines, start=1):
        list_price = prices[ln.sku]
        unit = rules.line_price(list_price, ln.discount_percent, exp)
        out.append({"line_no": i, "sku": ln.sku, "name": infos[ln.sku].name, "quantity": ln.quantity,
                    "list_price_minor": Money(list_price, account.currency).minor,
                    "discount_percent": ln.discount_percent,
                    "unit_price_minor": Money(unit, account.currency).minor,
                    "total_minor": Money(unit * ln.quantity, account.currency).minor,
                    "needs_approval": rules.needs_approval(ln.discount_percent, limit)})
    return out


def create_quote(uow: UnitOfWork, data: QuoteCreate, *, revision_of: Quote | None = None,
                 valid_from: dt.date | None = None) -> QuoteOut:
    account = load(uow, Account, data.account_id, "Account")
    if data.deal_id is not None:
        deal = load(uow, Deal, data.deal_id, "Deal")
        if deal.account_id != account.id:
            raise ValidationProblem.for_field("deal_id", f"deal {deal.id} belongs to another account")
    today = valid_from or utcnow().date()
    valid_until = data.valid_until or today + dt.timedelta(days=DEFAULT_VALIDITY_DAYS)
    if valid_until < today:
        raise ValidationProblem.for_field("valid_until", "is in the past")
    lines = _build_lines(uow, account, data)
    status = "pending_approval" if any(ln["needs_approval"] for ln in lines) else "draft"
    owner = revision_of.owner_user_id if revision_of else (
        uow.actor.user_id if uow.actor.role == Role.sales_rep or not is_manager(uow) else account.owner_user_id)
    q = Quote(number=revision_of.number if revision_of else "pending", revision=revision_of.revision + 1
              if revision_of else 1, account_id=account.id, deal_id=data.deal_id, owner_user_id=owner,
              status=status, currency=account.currency, valid_until=valid_until,
              total_minor=sum(ln["total_minor"] for ln in lines), note=data.note, version=1)
    uow.session.add(q)
    uow.session.flush()
    if revision_of is None:
        q.number = f"Q{q.id:07d}"
    uow.session.add_all([QuoteLine(quote_id=q.id, **ln) for ln in lines])
    uow.session.flush()
    total = Money.from_minor(q.total_minor, q.currency)
    uow.emit(QuoteCreated(quote_id=q.id, number=q.number, revision=q.revision, account_id=account.id, status=status,
                          total=total,
                          lines=[QuoteLineEvent(sku=ln["sku"], quantity=ln["quantity"],
                                                unit_price=Money.from_minor(ln["unit_price_minor"], q.currency),
                                                discount_percent=str(ln["discount_percent"])) for ln in lines]),
             version=1)
    uow.audit("create", "sales_quote", q.id, after={"number": q.number, "revision": q.revision, "status": status,
                                                    "total": str(total.amount)})
    uow.created("sales_quote", q.id)
    out = quote_out(uow, q)
    uow.commit()
    return out


def revise_quote(uow: UnitOfWork, quote_id: int, data: QuoteCreate) -> QuoteOut:
    """A new revision (same number); the previous one is superseded and its link stops working."""
    old = load(uow, Quote, quote_id, "Quote", for_update=True)
    if old.status in ("accepted", "superseded"):
        raise Conflict(f"Quote {old.number} rev {old.revision} is {old.status}; it cannot be revised",
                       type_slug="quote-closed")
    if data.account_id != old.account_id:
        raise ValidationProblem.for_field("account_id", "a revision is for the same account")
    old.status, old.token_hash = "superseded", None
    old.version += 1
    return create_quote(uow, data, revision_of=old)


def get_quote(uow: UnitOfWork, quote_id: int) -> QuoteOut:
    return quote_out(uow, load(uow, Quote, quote_id, "Quote"))


def list_quotes(uow: UnitOfWork, *, status: str | None = None, account_id: int | None = None,
                limit: int | None = None, cursor: str | None = None) -> Page[QuoteOut]:
    stmt = scoped(uow, sa.select(Quote), Quote)
    if status:
        stmt = stmt.where(Quote.status == status)
    if account_id is not None:
        stmt = stmt.where(Quote.account_id == account_id)
    items, nxt = paginate(uow.session, stmt, Quote.id, limit=check_limit(limit, 50, 200), cursor=cursor,
                          convert=lambda q: quote_out(uow, q), descending=True)
    return Page(items=items, next_cursor=nxt)


def approve_quote(uow: UnitOfWork, quote_id: int) -> QuoteOut:
    if not is_manager(uow):
        raise Forbidden("Only a sales manager (staff) approves discounts")
    q = load(uow, Quote, quote_id, "Quote", for_update=True)
    if q.status != "pending_approval":
        raise Conflict(f"Quote {q.number} is {q.status}; only a quote pending approval is approved",
                       type_slug="invalid-quote-status")
    q.status, q.approved_by_user_id, q.approved_at = "approved", uow.actor.user_id, utcnow()
    q.version += 1
    uow.emit(QuoteApproved(quote_id=q.id, number=q.number, revision=q.revision, account_id=q.account_id,
                           approved_by_user_id=uow.actor.user_id), version=q.version)
    uow.audit("approve", "sales_quote", q.id)
    out = quote_out(uow, q)
    uow.commit()
    return out


def send_quote(uow: UnitOfWork, quote_id: int, *, base_url: str = "") -> QuoteSentOut:
    """Release the quote to the buyer: a fresh acceptance link (shown once). A quote with an
    unapproved discount below the price floor is refused, naming its lines."""
    q = load(uow, Quote, quote_id, "Quote", for_update=True)
    if q.status == "pending_approval":
        lines = [ln for ln in _lines(uow, q.id) if ln.needs_approval]
        raise Conflict(f"Quote {q.number} has discounts below the price floor awaiting a manager's approval",
                       type_slug="quote-needs-approval",
                       errors=[FieldError(f"lines[{ln.line_no - 1}].discount_percent",
                                          f"{ln.discount_percent}% is above your limit; needs approval",
                                          "needs_approval") for ln in lines])
    if q.status not in ("draft", "approved", "sent"):
        raise Conflict(f"Quote {q.number} is {q.status}; it cannot be sent", type_slug="invalid-quote-status")
    if q.valid_until < utcnow().date():
        raise Conflict(f"Quote {q.number} expired on {q.valid_until}; revise it", type_slug="quote-expired")
    token = secrets.token_urlsafe(24)
    q.token_hash, q.status, q.sent_at = _hash(token), "sent", utcnow()
    q.version += 1
    path = f"/quote/{token}"
    account = uow.session.get(Account, q.account_id)
    uow.emit(QuoteSent(quote_id=q.id, number=q.number, revision=q.revision, account_id=q.account_id,
                       accept_path=path, valid_until=q.valid_until.isoformat(),
                       total=Money.from_minor(q.total_minor, q.currency),
                       customer_id=account.customer_id if account else None,
                       account_name=account.name if account else None), version=q.version)
    uow.audit("send", "sales_quote", q.id)
    out = QuoteSentOut(quote=quote_out(uow, q), accept_url=base_url.rstrip("/") + path)
    uow.commit()
    return out


def _by_token(uow: UnitOfWork, token: str, *, for_update: bool = False) -> Quote:
    stmt = sa.select(Quote).where(Quote.token_hash == _hash(token))
    if for_update:
        stmt = stmt.with_for_update()
    q = uow.session.scalar(stmt.execution_options(populate_existing=True))
    if q is None:
        raise NotFound("This quote link is not valid (it may have been replaced by a newer revision)")
    return q


def public_quote(uow: UnitOfWork, token: str) -> PublicQuoteOut:
    q = _by_token(uow, token)
    account = uow.session.get(Account, q.account_id)
    return PublicQuoteOut(number=q.number, revision=q.revision, account=account.name if account else "",
                          status=q.status, currency=q.currency, valid_until=q.valid_until,
                          total=str(Money.from_minor(q.total_minor, q.currency).amount),
                          lines=[_line_out(ln, q.currency) for ln in _lines(uow, q.id)], order_number=q.order_number)


def _owner_principal(uow: UnitOfWork, q: Quote) -> Principal:
    role = users.user_role(uow, q.owner_user_id)
    if role not in (Role.sales_rep, Role.staff, Role.admin):
        raise Conflict(f"Quote {q.number}'s owner is no longer an active sales rep; ask them to reissue it",
                       type_slug="quote-owner-inactive")
    return Principal(user_id=q.owner_user_id, role=role, name=f"quote {q.number} owner")


def accept_quote(uow: UnitOfWork, token: str, data: AcceptIn, *, today: dt.date | None = None) -> PublicQuoteOut:
    """The buyer accepts: in ONE transaction the quote is marked accepted and the order placed at
    the quote's prices with its stock reserved (orders.place_order_at_prices commits both). Stock
    short -> 409 naming the lines, and the quote stays open."""
    q = _by_token(uow, token, for_update=True)
    if q.status != "sent":
        raise Conflict(f"Quote {q.number} is {q.status}; it can no longer be accepted",
                       type_slug="invalid-quote-status")
    if q.valid_until < (today or utcnow().date()):
        raise Conflict(f"Quote {q.number} expired on {q.valid_until}", type_slug="quote-expired")
    account = uow.session.get(Account, q.account_id)
    if account is None or account.customer_id is None:
        raise Conflict(f"Quote {q.number}'s account has no buying contact; the seller must add one",
                       type_slug="account-without-contact")
    placed_by = _owner_principal(uow, q)
    lines = _lines(uow, q.id)
    q.status, q.accepted_at = "accepted", utcnow()
    q.version += 1
    uow.audit("accept", "sales_quote", q.id, after={"accepted_by": data.accepted_by})
    # the quote's change rides in the order's transaction; the order's id is recorded right after
    order = orders.place_order_at_prices(
        uow, customer_id=account.customer_id, currency=q.currency, customer_group=account.customer_group,
        placed_by=placed_by,
        lines=[orders.PricedLine(ln.sku, ln.quantity, Money.from_minor(ln.unit_price_minor, q.currency).amount)
               for ln in lines])
    return _link_order(uow, q.id, order["id"], order["number"], token)


def _link_order(uow: UnitOfWork, quote_id: int, order_id: int, order_number: str, token: str) -> PublicQuoteOut:
    """Record the order on the accepted quote (a second, small transaction after the order's)."""
    def run() -> PublicQuoteOut:
        q = uow.session.scalar(sa.select(Quote).where(Quote.id == quote_id).with_for_update()
                               .execution_options(populate_existing=True))
        if q.status != "accepted":  # the order's transaction was retried without the quote's change
            q.status, q.accepted_at = "accepted", utcnow()
        q.order_id, q.order_number = order_id, order_number
        q.version += 1
        uow.emit(QuoteAccepted(quote_id=q.id, number=q.number, revision=q.revision, account_id=q.account_id,
                               order_id=order_id, total=Money.from_minor(q.total_minor, q.currency)),
                 version=q.version)
        out = public_quote(uow, token)
        uow.commit()
        return out

    return uow.run_in_transaction(run)


def reject_quote(uow: UnitOfWork, token: str, data: RejectIn) -> PublicQuoteOut:
    q = _by_token(uow, token, for_update=True)
    if q.status != "sent":
        raise Conflict(f"Quote {q.number} is {q.status}; it can no longer be declined", type_slug="invalid-quote-status")
    q.status = "rejected"
    q.version += 1
    uow.emit(QuoteRejected(quote_id=q.id, number=q.number, revision=q.revision, account_id=q.account_id,
                           reason=data.reason), version=q.version)
    uow.audit("reject", "sales_quote", q.id, after={"reason": data.reason})
    out = public_quote(uow, token)
    uow.commit()
    return out


def quote_pdf(uow: UnitOfWork, quote_id: int) -> bytes:
    from merx.sales.pdf import render_quote

    q = load(uow, Quote, quote_id, "Quote")
    account = uow.session.get(Account, q.account_id)
    return render_quote(quote_out(uow, q), account.name if account else "")


def expire_quotes(uow: UnitOfWork, today: dt.date) -> int:
    """Open quotes past their validity date become `expired` (no commit: the daily pass commits)."""
    stale = uow.session.scalars(sa.select(Quote).where(Quote.status.in_(("draft", "pending_approval", "approved", "sent")),
                                                       Quote.valid_until < today).order_by(Quote.id)).all()
    for q in stale:
        q.status, q.token_hash = "expired", None
        q.version += 1
        uow.emit(QuoteExpired(quote_id=q.id, number=q.number, revision=q.revision, account_id=q.account_id,
                              valid_until=q.valid_until.isoformat()), version=q.version)
    return len(stale)

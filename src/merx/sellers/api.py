"""Routes of the sellers context: offers and the buy box, seller orders (accept per line,
ship, incidents), the ledger, commissions, payouts and statements, ratings and violations.
Which records a seller sees (its own; others' are 404) is the service's (sellers/access.py).
A seller's calls share one rate budget per seller ("seller_api"), whatever key it uses."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core.auth import Principal, Role
from merx.core.ratelimit import limiter_of
from merx.core.schemas import MoneyOut, Page
from merx.core.uow import UnitOfWork
from merx.core.validation import DbId
from merx.core.web import get_read_uow, get_uow, require
from merx.sellers import service
from merx.sellers.schemas import (AcceptIn, AdjustmentIn, BuyBoxOut, CommissionRuleIn, CommissionRuleOut, IncidentIn,
                                  IncidentOut, LedgerEntryOut, OfferCreate, OfferOut, OfferUpdate, PayoutCycleOut,
                                  PayoutOut, PayoutRunIn, ProposalDecisionIn, ProposalIn, ProposalOut, RatingOut,
                                  SellerOrderOut, ShipIn, ViolationIn, ViolationOut)
from merx.core.idempotency import register_replay
from pydantic import Field

from merx.core.schemas import StrictModel

STAFF = (Role.admin, Role.staff)


def seller_rate(request: Request, principal: Principal = Depends(require(*STAFF, Role.seller))) -> Principal:
    """Authorise staff and sellers; count a seller's call against its seller's budget."""
    if principal.role == Role.seller:
        limiter_of(request).hit("seller_api", f"seller:{principal.seller_id}")
    return principal


SELLER_OR_STAFF = Depends(seller_rate)
STAFF_ONLY = Depends(require(*STAFF))
router = APIRouter(tags=["sellers"])


class ReplyIn(StrictModel):
    reply: str = Field(min_length=1, max_length=1000)


# -- offers ----------------------------------------------------------------------------------

@router.get("/offers/buy-box", response_model=BuyBoxOut)
def buy_box(sku: str, currency: str | None = None, uow: UnitOfWork = Depends(get_read_uow)) -> BuyBoxOut:
    """Public: a SKU's offers ranked by the buy-box rule, the winner first, each with its parts."""
    return service.buy_box(uow, sku, currency)


@router.post("/offers", response_model=OfferOut, status_code=201)
def create_offer(body: OfferCreate, uow: UnitOfWork = Depends(get_uow), _: Principal = SELLER_OR_STAFF) -> OfferOut:
    return service.create_offer(uow, body)


@router.get("/offers", response_model=Page[OfferOut])
def list_offers(sku: str | None = None, seller_id: DbId | None = None, limit: int | None = None,
                cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = SELLER_OR_STAFF) -> Page[OfferOut]:
    return service.list_offers(uow, sku=sku, seller_id=seller_id, limit=limit, cursor=cursor)


@router.get("/offers/{offer_id}", response_model=OfferOut)
def get_offer(offer_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = SELLER_OR_STAFF) -> OfferOut:
    return service.get_offer(uow, offer_id)


@router.patch("/offers/{offer_id}", response_model=OfferOut)
def update_offer(offer_id: DbId, body: OfferUpdate, uow: UnitOfWork = Depends(get_uow),
                 _: Principal = SELLER_OR_STAFF) -> OfferOut:
    return service.update_offer(uow, offer_id, body)


# -- seller orders ---------------------------------------------------------------------------

@router.get("/seller-orders", response_model=Page[SellerOrderOut])
def list_seller_orders(status: str | None = None, order_id: DbId | None = None, seller_id: DbId | None = None,
                       limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                       _: Principal = SELLER_OR_STAFF) -> Page[SellerOrderOut]:
    return service.list_seller_orders(uow, status=status, order_id=order_id, seller_id=seller_id, limit=limit,
                                      cursor=cursor)


@router.get("/seller-orders/{seller_order_id}", response_model=SellerOrderOut)
def get_seller_order(seller_order_id: DbId, uow: UnitOfWork = Depends(get_read_uow),
                     _: Principal = SELLER_OR_STAFF) -> SellerOrderOut:
    return service.get_seller_order(uow, seller_order_id)


@router.put("/seller-orders/{seller_order_id}/accept", response_model=SellerOrderOut)
def accept(seller_order_id: DbId, body: AcceptIn, uow: UnitOfWork = Depends(get_uow),
           _: Principal = SELLER_OR_STAFF) -> SellerOrderOut:
    """Per-line decisions: `{"lines": [{"line_id", "accepted", "reason"}]}`; refused lines are
    cancelled and refunded to the customer."""
    return service.accept(uow, seller_order_id, body)


@router.put("/seller-orders/{seller_order_id}/ship", response_model=SellerOrderOut)
def ship(seller_order_id: DbId, body: ShipIn, uow: UnitOfWork = Depends(get_uow),
         _: Principal = SELLER_OR_STAFF) -> SellerOrderOut:
    return service.ship(uow, seller_order_id, body)


@router.post("/seller-orders/{seller_order_id}/incidents", response_model=IncidentOut, status_code=201)
def open_incident(seller_order_id: DbId, body: IncidentIn, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = STAFF_ONLY) -> IncidentOut:
    return service.open_incident(uow, seller_order_id, body)


@router.get("/seller-incidents", response_model=Page[IncidentOut])
def list_incidents(status: str | None = None, limit: int | None = None, cursor: str | None = None,
                   uow: UnitOfWork = Depends(get_read_uow), _: Principal = SELLER_OR_STAFF) -> Page[IncidentOut]:
    return service.incident_page(uow, status=status, limit=limit, cursor=cursor)


@router.put("/seller-incidents/{incident_id}/reply", response_model=IncidentOut)
def reply_incident(incident_id: DbId, body: ReplyIn, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = SELLER_OR_STAFF) -> IncidentOut:
    return service.reply_incident(uow, incident_id, body.reply)


@router.post("/seller-incidents/{incident_id}/refund", response_model=IncidentOut)
def refund_incident(incident_id: DbId, uow: UnitOfWork = Depends(get_uow), _: Principal = STAFF_ONLY) -> IncidentOut:
    return service.refund_incident(uow, incident_id)


# -- money -----------------------------------------------------------------------------------

@router.get("/seller-commissions", response_model=Page[CommissionRuleOut])
def list_commissions(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                     _: Principal = SELLER_OR_STAFF) -> Page[CommissionRuleOut]:
    return service.commission_page(uow, limit=limit, cursor=cursor)


@router.put("/seller-commissions", response_model=CommissionRuleOut)
def set_commission(body: CommissionRuleIn, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = STAFF_ONLY) -> CommissionRuleOut:
    return service.set_commission_rule(uow, body)


@router.get("/seller-ledger", response_model=Page[LedgerEntryOut])
def list_ledger(seller_id: DbId | None = None, limit: int | None = None, cursor: str | None = None,
                uow: UnitOfWork = Depends(get_read_uow), _: Principal = SELLER_OR_STAFF) -> Page[LedgerEntryOut]:
    return service.list_ledger(uow, seller_id=seller_id, limit=limit, cursor=cursor)


@router.post("/seller-ledger/adjustments", response_model=LedgerEntryOut, status_code=201)
def add_adjustment(body: AdjustmentIn, uow: UnitOfWork = Depends(get_uow), _: Principal = STAFF_ONLY) -> LedgerEntryOut:
    return service.add_adjustment(uow, body)


@router.post("/payouts/cycles", response_model=PayoutCycleOut, status_code=201)
def run_cycle(body: PayoutRunIn, uow: UnitOfWork = Depends(get_uow), _: Principal = STAFF_ONLY) -> PayoutCycleOut:
    """Close the payout cycle ending at `period_end`; a cycle that already ran is 409 and
    moves nothing."""
    return service.run_payout_cycle(uow, body.period_end)


@router.get("/payouts/cycles", response_model=Page[PayoutCycleOut])
def list_cycles(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = STAFF_ONLY) -> Page[PayoutCycleOut]:
    return service.cycle_page(uow, limit=limit, cursor=cursor)


@router.get("/payouts", response_model=Page[PayoutOut])
def list_payouts(seller_id: DbId | None = None, limit: int | None = None, cursor: str | None = None,
                 uow: UnitOfWork = Depends(get_read_uow), _: Principal = SELLER_OR_STAFF) -> Page[PayoutOut]:
    return service.list_payouts(uow, seller_id=seller_id, limit=limit, cursor=cursor)


@router.get("/payouts/{payout_id}", response_model=PayoutOut)
def get_payout(payout_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = SELLER_OR_STAFF) -> PayoutOut:
    return service.get_payout(uow, payout_id)


@router.get("/payouts/{payout_id}/statement.csv", response_class=Response)
def payout_statement(payout_id: DbId, uow: UnitOfWork = Depends(get_read_uow),
                     _: Principal = SELLER_OR_STAFF) -> Response:
    return Response(service.statement_csv(uow, payout_id), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="payout-{payout_id}.csv"'})


@router.get("/payouts/{payout_id}/statement.pdf", response_class=Response)
def payout_statement_pdf(payout_id: DbId, uow: UnitOfWork = Depends(get_read_uow),
                         _: Principal = SELLER_OR_STAFF) -> Response:
    return Response(service.statement_pdf(uow, payout_id), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="payout-{payout_id}.pdf"'})


@router.get("/seller-balance", response_model=dict[str, MoneyOut])
def balance(seller_id: DbId | None = None, uow: UnitOfWork = Depends(get_read_uow),
            principal: Principal = SELLER_OR_STAFF) -> dict[str, MoneyOut]:
    """The open (not yet paid out) balance per currency: a seller's own, or staff's choice (all when none)."""
    return service.balances(uow, principal.seller_id if principal.role == Role.seller else seller_id)


# -- rating ----------------------------------------------------------------------------------

@router.get("/sellers/{seller_id}/rating", response_model=RatingOut)
def get_rating(seller_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = SELLER_OR_STAFF) -> RatingOut:
    return service.get_rating(uow, seller_id)


@router.post("/sellers/{seller_id}/rating/recompute", response_model=RatingOut)
def recompute_rating(seller_id: DbId, uow: UnitOfWork = Depends(get_uow), _: Principal = STAFF_ONLY) -> RatingOut:
    return service.recompute_now(uow, seller_id)


@router.get("/seller-violations", response_model=Page[ViolationOut])
def list_violations(seller_id: DbId | None = None, limit: int | None = None, cursor: str | None = None,
                    uow: UnitOfWork = Depends(get_read_uow), _: Principal = SELLER_OR_STAFF) -> Page[ViolationOut]:
    return service.violation_page(uow, seller_id=seller_id, limit=limit, cursor=cursor)


@router.post("/seller-violations", response_model=ViolationOut, status_code=201)
def record_violation(body: ViolationIn, uow: UnitOfWork = Depends(get_uow), _: Principal = STAFF_ONLY) -> ViolationOut:
    return service.record_violation(uow, body)


# -- product proposals (moderated) -----------------------------------------------------------

@router.post("/product-proposals", response_model=ProposalOut, status_code=201)
def propose_product(body: ProposalIn, uow: UnitOfWork = Depends(get_uow), _: Principal = SELLER_OR_STAFF) -> ProposalOut:
    """A seller proposes a new catalog product (staff name the seller); staff approve or reject it."""
    return service.propose(uow, body)


@router.get("/product-proposals", response_model=Page[ProposalOut])
def list_product_proposals(status: str | None = None, seller_id: DbId | None = None, limit: int | None = None,
                           cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                           _: Principal = SELLER_OR_STAFF) -> Page[ProposalOut]:
    return service.list_proposals(uow, status=status, seller_id=seller_id, limit=limit, cursor=cursor)


@router.get("/product-proposals/{proposal_id}", response_model=ProposalOut)
def get_product_proposal(proposal_id: DbId, uow: UnitOfWork = Depends(get_read_uow),
                         _: Principal = SELLER_OR_STAFF) -> ProposalOut:
    return service.get_proposal(uow, proposal_id)


@router.post("/product-proposals/{proposal_id}/approve", response_model=ProposalOut)
def approve_product_proposal(proposal_id: DbId, uow: UnitOfWork = Depends(get_uow),
                             _: Principal = STAFF_ONLY) -> ProposalOut:
    """Staff: create the active catalog product from the proposal (any seller may then offer it)."""
    return service.approve_proposal(uow, proposal_id)


@router.post("/product-proposals/{proposal_id}/reject", response_model=ProposalOut)
def reject_product_proposal(proposal_id: DbId, body: ProposalDecisionIn, uow: UnitOfWork = Depends(get_uow),
                            _: Principal = STAFF_ONLY) -> ProposalOut:
    """Staff: refuse the proposal with a `reason` the seller sees."""
    return service.reject_proposal(uow, proposal_id, body)


def _replay_proposal(uow: UnitOfWork, proposal_id: str) -> ProposalOut:
    return service.get_proposal(uow, int(proposal_id))


register_replay("product_proposal", _replay_proposal)

"""CRM routes: event collection and identify (open to the storefront, rate- and size-limited
when anonymous), the customer 360 and profile operations, segments, RFM and other analyses,
loyalty, referrals, consent and data rights. Reads are back-office only; a sales rep sees only
its own customers and a customer only itself: the services enforce that (customers.get_customer)
and commit; these routes parse, authorise by role and call them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from merx.core.auth import BACK_OFFICE_ROLES, Principal, Role
from merx.core.errors import FieldError, Forbidden, NotFound, ValidationProblem
from merx.core.ratelimit import check_rate
from merx.core.pagination import check_limit, page_list
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.web import get_principal, get_read_uow, get_uow, require
from merx.crm import clusters, consent, identity, insights, loyalty, profiles, referrals, rfm, service
from merx.crm.events_vocab import describe_vocabulary
from merx.crm.schemas import (AdjustIn, ClusterIn, ConsentIn, EventBatch, EventOut, IdentifyIn, IdentifyOut, IdentityIn,
                              IngestOut, MergeIn, MergeOut, ProgramIn, ProgramOut, ReferralIn, RedeemIn, RfmRunIn,
                              SegmentIn, SegmentOut, SegmentPreviewIn, SegmentUpdate, TierIn)
from merx.crm.segments import service as segments

router = APIRouter(tags=["crm"])
static_router = APIRouter(tags=["crm"])
EXTRA_ROUTERS = (static_router,)

READERS = (Role.admin, Role.staff, Role.sales_rep, Role.support_agent)
MARKETING = (Role.admin, Role.staff)
PROFILE_ADMINS = (Role.admin, Role.staff, Role.support_agent)

# Anonymous (storefront) posting: smaller batches, and the "events" rate limit per client
# address (each event of a batch counts; core.ratelimit).
ANONYMOUS_MAX_BATCH = 100
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


# -- events and identify -------------------------------------------------------------------------


@router.post("/events", response_model=IngestOut, responses={207: {"model": IngestOut}})
def post_events(body: EventBatch, request: Request, uow: UnitOfWork = Depends(get_uow),
                principal: Principal = Depends(get_principal)) -> Any:
    """Collect a batch of up to 1,000 tracked events (100 without an API key). 200 when all
    were stored, 207 when some were rejected (each reported by index with its errors), 422
    when none were."""
    if principal.is_anonymous or principal.role in (Role.customer, Role.seller):
        if principal.role == Role.seller:
            raise Forbidden("Sellers do not post tracking events")
        if len(body.events) > ANONYMOUS_MAX_BATCH:
            raise ValidationProblem.for_field("events", f"at most {ANONYMOUS_MAX_BATCH} events per batch without an API key")
        check_rate(request, "events", principal=principal, per="principal", cost=max(1, len(body.events)))
    if len(body.events) > service.MAX_BATCH:
        raise ValidationProblem.for_field("events", f"at most {service.MAX_BATCH} events per batch")
    result = service.ingest_events(uow, body.events)
    if result.accepted == 0 and result.rejected:
        errors = [FieldError(f"events[{r['index']}].{e['field']}".rstrip("."), e["message"])
                  for r in result.rejected for e in r["errors"]]
        raise ValidationProblem("No event in the batch is valid", errors=errors, extra=result.body())
    return JSONResponse(result.body(), status_code=207 if result.rejected else 200)


@router.get("/events/vocabulary")
def event_vocabulary() -> dict[str, Any]:
    """The versioned event vocabulary: types, their properties, channels and identifiers."""
    return describe_vocabulary()


@router.get("/tracked-events", response_model=Page[EventOut])
def list_events(customer_id: int | None = None, anonymous_id: str | None = None, type: str | None = None,
                limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = Depends(require(*READERS))) -> Page[EventOut]:
    """Tracked events (GET /events is the integration hub's outbox of domain events)."""
    return service.tracked_events(uow, customer_id=customer_id, anonymous_id=anonymous_id, type=type, limit=limit,
                                  cursor=cursor)


@router.post("/identify", response_model=IdentifyOut)
def identify(body: IdentifyIn, request: Request, uow: UnitOfWork = Depends(get_uow),
             principal: Principal = Depends(get_principal)) -> IdentifyOut:
    """Link an anonymous id to a profile (created if needed), re-keying its past events.
    Without an API key only a `link_token` links to a known customer; other identifiers are
    unverified claims and the answer does not depend on whether anyone holds them."""
    if principal.role == Role.seller:
        raise Forbidden("Sellers do not identify visitors")
    if body.verified and principal.role not in BACK_OFFICE_ROLES:
        raise Forbidden("Only back-office keys may mark identifiers as verified")
    if principal.is_anonymous or principal.role == Role.customer:
        check_rate(request, "identify", principal=principal, per="principal")
    result = identity.identify_caller(uow, anonymous_id=body.anonymous_id, identifiers=body.identifiers(),
                                      verified=body.verified, traits=body.traits(), link_token=body.link_token)
    return IdentifyOut(**result.__dict__)


@router.post("/customers/{customer_id}/link-token")
def link_token(customer_id: int, uow: UnitOfWork = Depends(get_read_uow),
               _: Principal = Depends(require(*PROFILE_ADMINS, Role.customer))) -> dict[str, Any]:
    """A signed token proving the holder is this customer, for the storefront's identify
    call after the shop signed the shopper in (or for a verified-email link). A customer key
    gets one for itself only."""
    return {"link_token": identity.issue_link_token(uow, customer_id),
            "expires_in": identity.LINK_TOKEN_MAX_AGE_SECONDS}


# -- customer 360 and profile operations -------------------------------------------------------------

_LOOKUP_KINDS = ("email", "phone", "loyalty_card", "store_customer", "marketplace_buyer", "messaging_openid",
                 "anonymous_id")


@router.get("/crm/lookup")
def lookup(email: str | None = None, phone: str | None = None, loyalty_card: str | None = None,
           store_customer: str | None = None, marketplace_buyer: str | None = None,
           messaging_openid: str | None = None, anonymous_id: str | None = None,
           uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*READERS))) -> Any:
    """The profile holding an identifier of any kind (also: GET /customers?identifier=kind:value)."""
    given = dict(email=email, phone=phone, loyalty_card=loyalty_card, store_customer=store_customer,
                 marketplace_buyer=marketplace_buyer, messaging_openid=messaging_openid, anonymous=anonymous_id)
    return service.lookup(uow, {k: v for k, v in given.items() if v}).model_dump(mode="json")


@router.get("/customers/{customer_id}/overview")
def overview(customer_id: int, timeline_limit: int = Query(500, ge=1, le=5000), uow: UnitOfWork = Depends(get_read_uow),
             _: Principal = Depends(require(*READERS, Role.customer))) -> dict[str, Any]:
    """Customer 360: identifiers, consent, lifetime value, orders, timeline, last activity,
    funnel stage and path, RFM, segments, loyalty, open tickets, next follow-up."""
    return profiles.overview(uow, customer_id, timeline_limit=timeline_limit)


@router.get("/customers/{customer_id}/identities")
def list_identities(customer_id: int, uow: UnitOfWork = Depends(get_read_uow),
                    _: Principal = Depends(require(*READERS))) -> list[dict[str, Any]]:
    return [{"kind": i.kind, "value": i.value, "verified": i.verified, "source": i.source, "added_at": i.created_at}
            for i in identity.identities_of(uow, customer_id)]


@router.post("/customers/{customer_id}/identities", status_code=201, response_model=IdentifyOut)
def add_identity(customer_id: int, body: IdentityIn, uow: UnitOfWork = Depends(get_uow),
                 _: Principal = Depends(require(*PROFILE_ADMINS))) -> IdentifyOut:
    """Attach an identifier by hand (verified by default). When a verified email or phone
    belongs to another profile, the profiles are merged under the deterministic rules."""
    result = identity.add_identifier(uow, customer_id, body.kind, body.value, verified=body.verified)
    return IdentifyOut(**result.__dict__)


@router.post("/customers/{customer_id}/merge", response_model=MergeOut)
def merge(customer_id: int, body: MergeIn, uow: UnitOfWork = Depends(get_uow),
          _: Principal = Depends(require(*PROFILE_ADMINS))) -> MergeOut:
    """Merge the duplicate profile into this one: every context moves its records (identities,
    events, orders, carts, sales history, searches, loyalty points, consents, referrals); the
    duplicate is hidden, not deleted. `moved` lists the moved ids per context."""
    return identity.merge_into(uow, customer_id, body.duplicate_id)


@router.post("/customers/{customer_id}/unmerge", response_model=MergeOut)
def unmerge(customer_id: int, uow: UnitOfWork = Depends(get_uow),
            _: Principal = Depends(require(*PROFILE_ADMINS))) -> MergeOut:
    """Undo the latest merge of this (merged-away) profile: what it brought goes back to it."""
    return identity.merge_out(identity.unmerge(uow, customer_id))


@router.get("/customers/{customer_id}/merges", response_model=list[MergeOut])
def merges(customer_id: int, uow: UnitOfWork = Depends(get_read_uow),
           _: Principal = Depends(require(*PROFILE_ADMINS))) -> list[MergeOut]:
    return [identity.merge_out(m) for m in identity.merges_of(uow, customer_id)]


@router.post("/customers/{customer_id}/consents", status_code=201)
def add_consent(customer_id: int, body: ConsentIn, uow: UnitOfWork = Depends(get_uow),
                _: Principal = Depends(require(*READERS, Role.customer))) -> dict[str, Any]:
    consent.record_consent(uow, customer_id, channel=body.channel, granted=body.granted, source=body.source)
    return consent.current_consents(uow, customer_id)


@router.get("/customers/{customer_id}/consents")
def get_consents(customer_id: int, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(*READERS, Role.customer))) -> dict[str, Any]:
    return consent.consents_of(uow, customer_id)


@router.get("/customers/{customer_id}/export")
def export_customer(customer_id: int, uow: UnitOfWork = Depends(get_read_uow),
                    _: Principal = Depends(require(*PROFILE_ADMINS, Role.customer))) -> Any:
    """Everything Merx holds about the customer, as JSON (right of access and portability)."""
    from fastapi.encoders import jsonable_encoder

    data = consent.export_customer(uow, customer_id)
    return JSONResponse(jsonable_encoder(data),
                        headers={"Content-Disposition": f'attachment; filename="customer-{customer_id}.json"'})


@router.post("/customers/{customer_id}/erase")
def erase_customer(customer_id: int, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(require(Role.admin, Role.staff, Role.customer))) -> dict[str, Any]:
    """Anonymise the customer; order amounts stay for accounting. A signed-in shopper may erase
    themselves (and only themselves: another record is a 404); their sessions end with it."""
    return {"customer_id": customer_id, "erased": consent.erase_customer(uow, customer_id)}


@router.get("/customers/{customer_id}/loyalty")
def customer_loyalty(customer_id: int, uow: UnitOfWork = Depends(get_read_uow),
                     _: Principal = Depends(require(*READERS, Role.customer))) -> dict[str, Any]:
    return loyalty.customer_loyalty(uow, customer_id)


@router.post("/customers/{customer_id}/referral-code")
def referral_code(customer_id: int, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*READERS, Role.customer))) -> dict[str, Any]:
    code = referrals.referral_code(uow, customer_id)
    return {"customer_id": customer_id, "code": code.code}


@router.post("/referrals", status_code=201)
def apply_referral(body: ReferralIn, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(require(*PROFILE_ADMINS, Role.customer))) -> dict[str, Any]:
    r = referrals.apply_code(uow, body.code, body.referred_customer_id)
    return {"id": r.id, "code": r.code, "referrer_id": r.referrer_id, "referred_id": r.referred_id, "status": r.status}


# -- segments ----------------------------------------------------------------------------------------

def _segment_out(s: Any) -> SegmentOut:
    return SegmentOut.model_validate(s, from_attributes=True)


@router.get("/segments/fields")
def segment_fields(_: Principal = Depends(require(*MARKETING))) -> dict[str, Any]:
    """The fields of the segment language and their types."""
    return {"fields": profiles.FIELDS}


@router.post("/segments/preview")
def preview_segment(body: SegmentPreviewIn, uow: UnitOfWork = Depends(get_read_uow),
                    _: Principal = Depends(require(*MARKETING))) -> dict[str, Any]:
    return segments.preview(uow, body.expression)


@router.post("/segments", response_model=SegmentOut, status_code=201)
def create_segment(body: SegmentIn, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(require(*MARKETING))) -> SegmentOut:
    return _segment_out(segments.create_segment(uow, name=body.name, expression=body.expression,
                                                description=body.description))


@router.get("/segments", response_model=Page[SegmentOut])
def list_segments(limit: int | None = Query(None), cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(require(*MARKETING))) -> Page[SegmentOut]:
    items, nxt = page_list([_segment_out(s) for s in segments.list_segments(uow)], lambda s: s.id,
                           limit=_limit(uow, limit), cursor=cursor)
    return Page[SegmentOut](items=items, next_cursor=nxt)


@router.get("/segments/{segment_id}", response_model=SegmentOut)
def get_segment(segment_id: int, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = Depends(require(*MARKETING))) -> SegmentOut:
    return _segment_out(segments.get_segment(uow, segment_id))


@router.patch("/segments/{segment_id}", response_model=SegmentOut)
def update_segment(segment_id: int, body: SegmentUpdate, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(require(*MARKETING))) -> SegmentOut:
    return _segment_out(segments.update_segment(uow, segment_id, name=body.name, expression=body.expression,
                                                description=body.description))


@router.delete("/segments/{segment_id}", status_code=204)
def delete_segment(segment_id: int, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*MARKETING))) -> None:
    segments.delete_segment(uow, segment_id)


@router.post("/segments/{segment_id}/evaluate", response_model=SegmentOut)
def evaluate_segment(segment_id: int, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(*MARKETING))) -> SegmentOut:
    return _segment_out(segments.evaluate_segment(uow, segment_id))


@router.get("/segments/{segment_id}/members")
def segment_members(segment_id: int, limit: int | None = None, cursor: str | None = None,
                    uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*MARKETING))) -> Page[int]:
    return segments.segment_members(uow, segment_id, limit=limit, cursor=cursor)


@router.get("/segments/{segment_id}/export")
def export_segment(segment_id: int, format: str = Query("csv", pattern="^(csv|xlsx)$"),
                   uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*MARKETING))) -> Response:
    content, media_type, filename = segments.export_segment(uow, segment_id, format)
    return Response(content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- RFM, tiers, clusters, Pareto -----------------------------------------------------------------------

@router.post("/crm/rfm/run")
def run_rfm(body: RfmRunIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*MARKETING))) -> dict[str, Any]:
    """Score every customer (quintiles, ties share the lower rank) and store the scores; see
    GET /crm/rfm/method for the reference date, quintile method and segment map."""
    run = rfm.run_rfm(uow, reference_date=body.reference_date, until=body.until, save_segments=body.save_segments)
    return run.__dict__


@router.get("/crm/rfm/method")
def rfm_method() -> dict[str, Any]:
    return {"method": rfm.__doc__, "segments": list(rfm.SEGMENTS), "map": rfm.segment_map()}


@router.get("/crm/rfm")
def rfm_scores(segment: str | None = None, limit: int | None = None, cursor: str | None = None,
               uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*MARKETING))) -> Page[dict[str, Any]]:
    return rfm.rfm_scores(uow, segment=segment, limit=limit, cursor=cursor)


@router.post("/crm/value-tiers")
def value_tiers(body: TierIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*MARKETING))) -> dict[str, Any]:
    config = clusters.TierConfig(active_days=body.active_days, returning_min_orders=body.returning_min_orders,
                                 high_value_share=body.high_value_share)
    return insights.run_value_tiers(uow, config, as_of=body.as_of, save_segments=body.save_segments)


@router.post("/crm/clusters")
def run_clusters(body: ClusterIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*MARKETING))) -> dict[str, Any]:
    return insights.run_clusters(uow, k_min=body.k_min, k_max=body.k_max, as_of=body.as_of,
                                 save_segments=body.save_segments)


@router.get("/crm/pareto")
def pareto(top_share: float = Query(0.2, gt=0, lt=1), uow: UnitOfWork = Depends(get_read_uow),
           _: Principal = Depends(require(*MARKETING))) -> dict[str, Any]:
    return insights.pareto_report(uow, top_share=top_share)


# -- loyalty ------------------------------------------------------------------------------------------

def _program_out(p: Any) -> ProgramOut:
    return ProgramOut.model_validate(p, from_attributes=True)


@router.post("/loyalty/programs", response_model=ProgramOut, status_code=201)
def create_program(body: ProgramIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*MARKETING))) -> ProgramOut:
    return _program_out(loyalty.create_program(
        uow, code=body.code, name=body.name, currency=body.currency, points_per_unit=body.points_per_unit,
        point_value=body.point_value, category_multipliers=body.category_multipliers, bonus_events=body.bonus_events,
        expiry_days=body.expiry_days, tiers=[t.model_dump() for t in body.tiers],
        referral_reward_points=body.referral_reward_points, redeem_min_points=body.redeem_min_points,
        redeem_max_share=body.redeem_max_share))


@router.get("/loyalty/programs", response_model=Page[ProgramOut])
def list_programs(limit: int | None = Query(None), cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(require(*READERS))) -> Page[ProgramOut]:
    items, nxt = page_list([_program_out(p) for p in loyalty.list_programs(uow)], lambda p: p.id,
                           limit=_limit(uow, limit), cursor=cursor)
    return Page[ProgramOut](items=items, next_cursor=nxt)


@router.post("/loyalty/redeem")
def redeem(body: RedeemIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*PROFILE_ADMINS))) -> dict[str, Any]:
    """Spend points for a discount (orders call crm.loyalty.redeem_points inside their own transaction)."""
    discount = loyalty.redeem_for_customer(uow, body.customer_id, body.points, body.order_ref, body.program)
    return {"customer_id": body.customer_id, "points": body.points, "discount": discount.as_dict()}


@router.post("/loyalty/adjust")
def adjust(body: AdjustIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*MARKETING))) -> dict[str, Any]:
    return {"accounts": loyalty.adjust_points(uow, body.customer_id, body.points, reason=body.reason,
                                              program_code=body.program)}


@router.post("/loyalty/expire")
def expire(uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*MARKETING))) -> dict[str, Any]:
    points = loyalty.expire_due_points(uow)
    return {"expired_points": points}


# -- the storefront tracking script --------------------------------------------------------------------

@static_router.get("/static/merx.js", include_in_schema=False)
def tracking_script() -> Response:
    path = STATIC_DIR / "merx.js"
    if not path.exists():
        raise NotFound("The tracking script is not installed")
    return FileResponse(path, media_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"})


def _limit(uow: UnitOfWork, limit: int | None) -> int:
    return check_limit(limit, uow.settings.page_size_default, uow.settings.page_size_max)

"""Marketing routes: campaigns, journeys, templates, the message log, QR codes, giveaways,
suppressions and inbound provider webhooks under /api/v1 (marketers: admin, staff,
marketer); the public tracking routes outside it: `/q/{code}` (QR redirect), `/m/c/{token}`
(click), `/m/o/{token}` (open pixel), `/m/u/{token}` (unsubscribe page, RFC 8058 one-click POST)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import escape

from merx.core.auth import Principal, Role
from merx.core.db import utcnow
from merx.core.errors import NotFound, Problem, Unauthorized, ValidationProblem
from merx.core.idempotency import register_replay
from merx.core.pagination import check_limit, page_list
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.web import get_read_uow, get_uow, require
from merx.marketing import autoreply, recipients
from merx.marketing import (campaigns, giveaways, journeys, providers, reading, reporting, service, templates_service,
                            tracking)
from merx.marketing.schemas import IncomingMessage, RecipientIn, RecipientOut
from merx.marketing.schemas import (CampaignIn, CampaignOut, CampaignPatch, CampaignReport, CampaignStartIn, DrawIn, EnrolmentOut,
                                    GiveawayEntryIn, GiveawayIn, GiveawayOut, InboundEvent, JourneyIn, JourneyOut,
                                    JourneyPatch, MessageOut, PreviewIn, QrIn, QrOut, SuppressionIn, TemplateIn,
                                    TestSendIn)
from merx.marketing.settings import get_marketing_settings
from merx.marketing.tracking import VISITOR_COOKIE

router = APIRouter(tags=["marketing"])
public_router = APIRouter(tags=["marketing"], include_in_schema=False)
EXTRA_ROUTERS = (public_router,)
MARKETERS = (Role.admin, Role.staff, Role.marketer)


register_replay("campaign", lambda uow, cid: reading.get_campaign(uow, int(cid)))
register_replay("qr_code", lambda uow, qid: reading.qr_detail(uow, tracking.get_qr(uow, int(qid))))
register_replay("giveaway", lambda uow, gid: GiveawayOut(**giveaways.giveaway_out(uow, giveaways._giveaway(uow, int(gid)))))


# -- campaigns ------------------------------------------------------------------------------------

@router.get("/campaigns", response_model=Page[CampaignOut])
def list_campaigns(status: str | None = Query(None, max_length=16), limit: int | None = Query(None),
                   cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                   _: Principal = Depends(require(*MARKETERS))) -> Page[CampaignOut]:
    return reading.list_campaigns(uow, status=status, limit=limit, cursor=cursor)


@router.post("/campaigns", response_model=CampaignOut, status_code=201)
def create_campaign(body: CampaignIn, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(*MARKETERS))) -> CampaignOut:
    c = campaigns.create_campaign(uow, name=body.name, segment_id=body.segment_id, template=body.template,
                                  channel=body.channel, template_b=body.template_b,
                                  ab_test_fraction=body.ab_test_fraction)
    return reading.campaign_out(c)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
def get_campaign(campaign_id: int, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(*MARKETERS))) -> CampaignOut:
    return reading.get_campaign(uow, campaign_id)


@router.patch("/campaigns/{campaign_id}", response_model=CampaignOut)
def update_campaign(campaign_id: int, body: CampaignPatch, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(*MARKETERS))) -> CampaignOut:
    """Edit a draft (409 once it is scheduled or started: its audience and messages are fixed)."""
    changes = {k: getattr(body, k) for k in body.model_fields_set
               if getattr(body, k) is not None or k == "template_b"}
    return reading.campaign_out(campaigns.update_campaign(uow, campaign_id, changes))


@router.post("/campaigns/{campaign_id}/start", response_model=CampaignOut)
def start_campaign(campaign_id: int, body: CampaignStartIn | None = None, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(require(*MARKETERS))) -> CampaignOut:
    """Now, or at `at`; the `marketing.campaigns` job prepares it in batches."""
    return reading.campaign_out(campaigns.schedule(uow, campaign_id, body.at if body else None, utcnow()))


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignOut)
def cancel_campaign(campaign_id: int, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(*MARKETERS))) -> CampaignOut:
    return reading.campaign_out(campaigns.cancel(uow, campaign_id))


@router.post("/campaigns/{campaign_id}/pick-winner", response_model=CampaignOut)
def pick_winner(campaign_id: int, uow: UnitOfWork = Depends(get_uow),
                _: Principal = Depends(require(*MARKETERS))) -> CampaignOut:
    """The A/B test's two-proportion z-test on click rates; 409 while not significant."""
    return reading.campaign_out(campaigns.pick_winner(uow, campaign_id))


@router.get("/campaigns/{campaign_id}/report", response_model=CampaignReport)
def campaign_report(campaign_id: int, uow: UnitOfWork = Depends(get_read_uow),
                    _: Principal = Depends(require(*MARKETERS))) -> CampaignReport:
    reading.get_campaign(uow, campaign_id)
    return CampaignReport(**reporting.campaign_report(uow, campaign_id)[0])


@router.get("/marketing/report", response_model=list[CampaignReport])
def all_reports(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*MARKETERS))) -> Any:
    return [CampaignReport(**r) for r in reporting.campaign_report(uow)]


@router.get("/marketing/sources")
def source_report(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*MARKETERS))) -> Any:
    return {"items": reporting.source_report(uow)}


# -- journeys -------------------------------------------------------------------------------------

@router.get("/journeys", response_model=Page[JourneyOut])
def list_journeys(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(require(*MARKETERS))) -> Any:
    items, nxt = page_list(sorted(reading.list_journeys(uow), key=lambda j: j.id), lambda j: j.id, limit=check_limit(limit, uow.settings.page_size_default, uow.settings.page_size_max), cursor=cursor)
    return Page[JourneyOut](items=items, next_cursor=nxt)


@router.post("/journeys", response_model=JourneyOut, status_code=201)
def create_journey(body: JourneyIn, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(require(*MARKETERS))) -> JourneyOut:
    j = journeys.create_journey(uow, key=body.key, name=body.name, trigger=body.trigger,
                                steps=[s.model_dump(exclude_none=True) for s in body.steps], segment_id=body.segment_id,
                                active=body.active)
    return reading.get_journey(uow, j.id)


@router.patch("/journeys/{journey_id}", response_model=JourneyOut)
def patch_journey(journey_id: int, body: JourneyPatch, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*MARKETERS))) -> JourneyOut:
    journeys.set_active(uow, journey_id, body.active)
    return reading.get_journey(uow, journey_id)


@router.get("/journeys/{journey_id}/enrolments", response_model=Page[EnrolmentOut])
def journey_enrolments(journey_id: int, state: str | None = Query(None, max_length=16),
                       customer_id: int | None = Query(None, ge=1), limit: int | None = Query(None),
                       cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                       _: Principal = Depends(require(*MARKETERS))) -> Page[EnrolmentOut]:
    """Each person's position in the journey (step, state, when the next step is due)."""
    return reading.enrolments(uow, journey_id, state=state, customer_id=customer_id, limit=limit, cursor=cursor)


# -- recipients (their own time zone) ------------------------------------------------------------

@router.get("/recipients/{customer_id}", response_model=RecipientOut)
def get_recipient(customer_id: int, uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(require(*MARKETERS))) -> Any:
    return recipients.recipient_out(uow, customer_id)


@router.put("/recipients/{customer_id}", response_model=RecipientOut)
def put_recipient(customer_id: int, body: RecipientIn, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*MARKETERS))) -> Any:
    return recipients.set_timezone(uow, customer_id, body.timezone)


# -- templates ------------------------------------------------------------------------------------

@router.get("/templates")
def list_templates(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*MARKETERS))) -> Any:
    return {"items": templates_service.list_templates(uow)}


@router.get("/templates/{key}/{locale}")
def get_template(key: str, locale: str, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(*MARKETERS))) -> Any:
    return templates_service.get_template(uow, key, locale)


@router.put("/templates/{key}/{locale}")
def put_template(key: str, locale: str, body: TemplateIn, uow: UnitOfWork = Depends(get_uow),
                 _: Principal = Depends(require(*MARKETERS))) -> Any:
    if not key.replace("_", "").isalnum() or len(key) > 64:
        raise ValidationProblem.for_field("key", "letters, digits and _ only")
    return templates_service.save_template(uow, key, locale, subject=body.subject, body_text=body.body_text,
                                           body_html=body.body_html)


@router.post("/templates/{key}/preview")
def preview_template(key: str, body: PreviewIn, uow: UnitOfWork = Depends(get_read_uow),
                     _: Principal = Depends(require(*MARKETERS))) -> Any:
    return templates_service.preview(uow, key, body.locale, body.customer_id)


@router.post("/templates/{key}/test-send", status_code=202)
def test_send(key: str, body: TestSendIn, uow: UnitOfWork = Depends(get_uow),
              _: Principal = Depends(require(*MARKETERS))) -> Any:
    return templates_service.test_send(uow, key, body.locale, body.to, body.customer_id)


# -- messages, suppressions, inbound --------------------------------------------------------------

@router.get("/messages", response_model=Page[MessageOut])
def list_messages(status: str | None = Query(None, max_length=16), customer_id: int | None = Query(None, ge=1),
                  campaign_id: int | None = Query(None, ge=1), kind: str | None = Query(None, max_length=16),
                  limit: int | None = Query(None), cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(require(*MARKETERS))) -> Page[MessageOut]:
    """The message log, newest first, with each message's status and reason."""
    if status and status not in reading.MESSAGE_STATUSES:
        raise ValidationProblem.for_field("status", f"one of {', '.join(reading.MESSAGE_STATUSES)}")
    return reading.list_messages(uow, status=status, customer_id=customer_id, campaign_id=campaign_id, kind=kind,
                                 limit=limit, cursor=cursor)


@router.get("/messages/{message_id}")
def get_message(message_id: int, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = Depends(require(*MARKETERS))) -> Any:
    return reading.get_message(uow, message_id)


@router.get("/marketing/suppressions")
def list_suppressions(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*MARKETERS))) -> Any:
    return {"items": service.list_suppressions(uow)}


@router.post("/marketing/suppressions", status_code=201)
def add_suppression(body: SuppressionIn, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(*MARKETERS))) -> Any:
    return {"added": service.add_suppression(uow, body.channel, body.address, body.reason)}


@router.delete("/marketing/suppressions/{channel}/{address}", status_code=204)
def remove_suppression(channel: str, address: str, uow: UnitOfWork = Depends(get_uow),
                       _: Principal = Depends(require(Role.admin))) -> Response:
    service.remove_suppression(uow, channel, address)
    return Response(status_code=204)


@router.post("/marketing/inbound")
async def inbound(request: Request) -> Any:
    """Bounce and complaint reports from the mail provider or the SMS gateway, signed with the
    shared secret (Standard Webhooks headers: webhook-id, webhook-timestamp, webhook-signature)."""
    secret = get_marketing_settings().gateway_secret
    if secret is None:
        # switched off until a shared secret is configured: answers as if it did not exist
        raise NotFound("Inbound webhooks are off: set MERX_MARKETING_GATEWAY_SECRET to receive them")
    body = await request.body()
    if not providers.verify(secret.get_secret_value(), {k.lower(): v for k, v in request.headers.items()}, body):
        raise Unauthorized("Bad or missing webhook signature")
    try:
        event = InboundEvent(**json.loads(body or b"{}"))
    except (ValueError, TypeError) as e:
        raise ValidationProblem.for_field("body", f"not an inbound event: {str(e)[:300]}") from None
    from starlette.concurrency import run_in_threadpool

    def _apply() -> Any:
        with UnitOfWork(request.app.state.db) as uow:
            return service.inbound(uow, event)

    return await run_in_threadpool(_apply)


@router.post("/marketing/inbound-messages")
async def inbound_message(request: Request) -> Any:
    """An incoming SMS or messaging-app message from the gateway, signed like the reports above:
    support's auto-reply rules (keywords, intents) answer it through the gateway; one they do not
    answer becomes a support ticket. A redelivery (same `id`) changes nothing."""
    secret = get_marketing_settings().gateway_secret
    if secret is None:
        raise NotFound("Inbound webhooks are off: set MERX_MARKETING_GATEWAY_SECRET to receive them")
    body = await request.body()
    if not providers.verify(secret.get_secret_value(), {k.lower(): v for k, v in request.headers.items()}, body):
        raise Unauthorized("Bad or missing webhook signature")
    try:
        incoming = IncomingMessage(**json.loads(body or b"{}"))
    except (ValueError, TypeError) as e:
        raise ValidationProblem.for_field("body", f"not an incoming message: {str(e)[:300]}") from None
    from starlette.concurrency import run_in_threadpool

    def _apply() -> Any:
        with UnitOfWork(request.app.state.db) as uow:
            return autoreply.receive(uow, channel=incoming.channel, sender=incoming.sender, text=incoming.text,
                                     gateway_id=incoming.id)

    return await run_in_threadpool(_apply)


# -- QR codes -------------------------------------------------------------------------------------

@router.get("/qr-codes", response_model=Page[QrOut])
def list_qr(limit: int | None = Query(None), cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
            _: Principal = Depends(require(*MARKETERS))) -> Page[QrOut]:
    return reading.list_qr(uow, limit=limit, cursor=cursor)


@router.post("/qr-codes", response_model=QrOut, status_code=201)
def create_qr(body: QrIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*MARKETERS))) -> QrOut:
    q = tracking.create_qr(uow, label=body.label, source=body.source, target_url=body.target_url,
                           campaign_id=body.campaign_id)
    return reading.qr_detail(uow, q)


@router.get("/qr-codes/{qr_id}", response_model=QrOut)
def get_qr(qr_id: int, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(require(*MARKETERS))) -> QrOut:
    return reading.qr_detail(uow, tracking.get_qr(uow, qr_id))


@router.get("/qr-codes/{qr_id}/image.{fmt}")
def qr_image(qr_id: int, fmt: str, scale: int = Query(8, ge=1, le=40), uow: UnitOfWork = Depends(get_read_uow),
             _: Principal = Depends(require(*MARKETERS))) -> Response:
    data, media = tracking.qr_image(tracking.get_qr(uow, qr_id), fmt, scale)
    return Response(data, media_type=media)


# -- giveaways ------------------------------------------------------------------------------------

@router.get("/giveaways", response_model=Page[GiveawayOut])
def list_giveaways(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                   _: Principal = Depends(require(*MARKETERS))) -> Any:
    """Newest first."""
    items, nxt = page_list([GiveawayOut(**g) for g in giveaways.list_out(uow)], lambda g: g.id, limit=check_limit(limit, uow.settings.page_size_default, uow.settings.page_size_max), cursor=cursor, descending=True)
    return Page[GiveawayOut](items=items, next_cursor=nxt)


@router.post("/giveaways", response_model=GiveawayOut, status_code=201)
def create_giveaway(body: GiveawayIn, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(require(*MARKETERS))) -> GiveawayOut:
    g = giveaways.create_giveaway(uow, name=body.name, rule=body.rule, starts_at=body.starts_at, ends_at=body.ends_at,
                                  winners=body.winners)
    return GiveawayOut(**giveaways.giveaway_out(uow, g))


@router.post("/giveaways/{giveaway_id}/entries", status_code=201)
def add_entry(giveaway_id: int, body: GiveawayEntryIn, uow: UnitOfWork = Depends(get_uow),
              _: Principal = Depends(require(*MARKETERS))) -> Any:
    e = giveaways.add_entry(uow, giveaway_id, body.customer_id, body.evidence)
    return {"giveaway_id": giveaway_id, "customer_id": e.customer_id}


@router.post("/giveaways/{giveaway_id}/draw", response_model=GiveawayOut)
def draw(giveaway_id: int, body: DrawIn | None = None, uow: UnitOfWork = Depends(get_uow),
         _: Principal = Depends(require(*MARKETERS))) -> GiveawayOut:
    """A reproducible draw: the seed and the entries' SHA-256 are recorded and audited."""
    g = giveaways.draw(uow, giveaway_id, seed=body.seed if body else None)
    return GiveawayOut(**giveaways.giveaway_out(uow, g))


# -- public tracking routes -----------------------------------------------------------------------

def _visitor(request: Request) -> tuple[str, bool]:
    value = request.cookies.get(VISITOR_COOKIE)
    if value and len(value) <= 40 and value.replace("-", "").replace("_", "").isalnum():
        return value, False
    return secrets.token_urlsafe(16), True


def _redirect(url: str, visitor: str, new: bool) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if new:
        response.set_cookie(VISITOR_COOKIE, visitor, max_age=60 * 60 * 24 * 90, httponly=True, samesite="lax")
    return response


@public_router.get("/q/{code}")
def qr_redirect(code: str, request: Request, uow: UnitOfWork = Depends(get_uow)) -> Response:
    """A scanned QR code: records `qr_scan` with its source and lands on its target."""
    if len(code) > 16 or not code.isalnum():
        raise Problem("This code is not one of ours.", status=404, title="Not found")
    visitor, new = _visitor(request)
    return _redirect(tracking.record_scan(uow, code, visitor), visitor, new)


@public_router.get("/m/c/{token}")
def click(token: str, request: Request, uow: UnitOfWork = Depends(get_uow)) -> Response:
    visitor, new = _visitor(request)
    return _redirect(tracking.record_click(uow, token, visitor), visitor, new)


_PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


@public_router.get("/m/o/{token}")
def open_pixel(token: str, uow: UnitOfWork = Depends(get_uow)) -> Response:
    tracking.record_open(uow, token)
    return Response(_PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


@public_router.get("/m/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, uow: UnitOfWork = Depends(get_read_uow)) -> Response:
    """A page with a button (a GET never unsubscribes: link scanners follow GETs)."""
    data = tracking.unsubscribe_target(uow, token)
    return HTMLResponse(f"""<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head>
<body style="font-family:sans-serif;max-width:32rem;margin:3rem auto"><h1>Unsubscribe</h1>
<p>Stop {escape(data['ch'])} messages from {escape(get_marketing_settings().shop_name)}?</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form></body></html>""")


@public_router.post("/m/u/{token}")
def unsubscribe(token: str, request: Request, uow: UnitOfWork = Depends(get_uow)) -> Response:
    """RFC 8058 one-click: the mail client POSTs `List-Unsubscribe=One-Click`; honoured at once."""
    data = tracking.unsubscribe(uow, token)
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse("<!doctype html><html><body style=\"font-family:sans-serif;max-width:32rem;margin:3rem "
                            f"auto\"><h1>Unsubscribed</h1><p>You will get no more {escape(data['ch'])} marketing "
                            "messages from us.</p></body></html>")
    return JSONResponse({"unsubscribed": True, "channel": data["ch"]})

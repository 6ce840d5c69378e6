"""Routes of the sales context: /accounts, /leads, /deals, /activities, /quotes, /contracts, and
the buyer's quote link (/quote-links/{token}: no login, the token is the credential). Reps see
their own records (404 for another rep's); staff and admins manage the team's."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from merx.core.auth import Principal
from merx.core.errors import ValidationProblem
from merx.core.ratelimit import rate_limited
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.validation import DbId
from merx.core.web import get_read_uow, get_uow, require
from merx.sales import accounts, activities, contracts, deals, leads, quotes, replays
from merx.sales.schemas import (AcceptIn, AccountCreate, AccountOut, AccountUpdate, ActivityIn, ActivityOut,
                                AssignmentRuleIn, AssignmentRuleOut, ClausesIn, ContactIn, ContractCreate, ContractOut,
                                ContractStatusIn, ConvertLead, DealCreate, DealMove, DealOut, DealPatch, ImportReport,
                                LeadIn, LeadIntake, LeadOut, PipelineReport, PublicQuoteOut, QrScanIn, QuoteCreate, QuoteOut,
                                QuoteSentOut, RejectIn, ScoringModelOut, StageOut, StagesIn)
from merx.sales.scope import MANAGERS, SALES_ROLES

router = APIRouter(tags=["sales"])
SALES = require(*SALES_ROLES)
MANAGER = require(*MANAGERS)
PUBLIC_FORM_LIMIT = rate_limited("guest_checkout", anonymous_only=True)

replays.register()  # a retried create whose answer was lost gets the record it created


# -- accounts ------------------------------------------------------------------------------------

@router.post("/accounts", response_model=AccountOut, status_code=201)
def create_account(body: AccountCreate, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(SALES)) -> AccountOut:
    return accounts.create_account(uow, body)


@router.get("/accounts", response_model=Page[AccountOut])
def list_accounts(q: str | None = None, owner_user_id: int | None = None, limit: int | None = None,
                  cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(SALES)) -> Page[AccountOut]:
    return accounts.list_accounts(uow, q=q, owner_user_id=owner_user_id, limit=limit, cursor=cursor)


@router.get("/accounts/{account_id}", response_model=AccountOut)
def get_account(account_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> AccountOut:
    return accounts.get_account(uow, account_id)


@router.patch("/accounts/{account_id}", response_model=AccountOut)
def update_account(account_id: DbId, body: AccountUpdate, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(SALES)) -> AccountOut:
    return accounts.update_account(uow, account_id, body)


@router.post("/accounts/{account_id}/contacts", response_model=AccountOut, status_code=201)
def add_contact(account_id: DbId, body: ContactIn, uow: UnitOfWork = Depends(get_uow),
                _: Principal = Depends(SALES)) -> AccountOut:
    return accounts.add_account_contact(uow, account_id, body)


# -- leads -------------------------------------------------------------------------------------------

@router.post("/leads", response_model=LeadIntake, status_code=201)
def create_lead(body: LeadIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(SALES)) -> LeadIntake:
    """One lead from any channel; a duplicate is merged into the known lead (`merged`, `matched_on`)."""
    return leads.intake(uow, body)


@router.post("/leads/web-form", response_model=dict, status_code=202)
def web_form_lead(body: LeadIn, uow: UnitOfWork = Depends(get_uow), _: None = Depends(PUBLIC_FORM_LIMIT)) -> dict:
    """The public contact form (no login): the answer says only that it was received."""
    leads.intake(uow, body.model_copy(update={"source": "web_form"}))
    return {"received": True}


@router.post("/leads/qr-scan", response_model=dict, status_code=202)
def qr_scan_lead(body: QrScanIn, uow: UnitOfWork = Depends(get_uow), _: None = Depends(PUBLIC_FORM_LIMIT)) -> dict:
    """The form behind a flyer's QR code (no login); `campaign` is the flyer or campaign id."""
    leads.intake(uow, LeadIn(source="qr_scan", **body.model_dump()))
    return {"received": True}


@router.post("/leads/import", response_model=ImportReport)
async def import_leads(request: Request, source: str = "import", campaign: str | None = None,
                       channel: str | None = None, uow: UnitOfWork = Depends(get_uow),
                       _: Principal = Depends(SALES)) -> ImportReport:
    """A CSV or XLSX file (multipart field `file`, or the raw body: text/csv). All rows or none:
    a bad row is a 422 naming it; duplicates are merged and reported row by row."""
    ctype = request.headers.get("content-type", "")
    filename = "leads.csv"
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationProblem.for_field("file", "send the file in a multipart field named 'file'")
        raw = await upload.read()
        filename = upload.filename or filename
    else:
        raw = await request.body()
        if "spreadsheetml" in ctype:
            filename = "leads.xlsx"
    if not raw:
        raise ValidationProblem.for_field("file", "is empty")
    return await run_in_threadpool(leads.import_leads, uow, filename, raw, source=source, campaign=campaign,
                                   channel=channel)


@router.get("/leads/scoring-model", response_model=ScoringModelOut)
def scoring_model(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> ScoringModelOut:
    """Which model scores new leads: the points model, or the learned one with its AUC."""
    return leads.scoring_model(uow)


@router.post("/leads/scoring-model", response_model=ScoringModelOut, status_code=201)
def train_scoring_model(uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> ScoringModelOut:
    """Train the learned model on the won and lost deals from leads (409 while there are too few)."""
    return leads.train_scoring_model(uow)


@router.get("/leads/assignment-rules", response_model=list[AssignmentRuleOut])
def list_rules(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(MANAGER)) -> list[AssignmentRuleOut]:
    return leads.list_rules(uow)


@router.post("/leads/assignment-rules", response_model=AssignmentRuleOut, status_code=201)
def add_rule(body: AssignmentRuleIn, uow: UnitOfWork = Depends(get_uow),
             _: Principal = Depends(MANAGER)) -> AssignmentRuleOut:
    return leads.add_rule(uow, body)


@router.get("/leads", response_model=Page[LeadOut])
def list_leads(status: str | None = None, source: str | None = None, limit: int | None = None,
               cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
               _: Principal = Depends(SALES)) -> Page[LeadOut]:
    return leads.list_leads(uow, status=status, source=source, limit=limit, cursor=cursor)


@router.get("/leads/{lead_id}", response_model=LeadOut)
def get_lead(lead_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> LeadOut:
    return leads.get_lead(uow, lead_id)


@router.post("/leads/{lead_id}/convert", response_model=dict, status_code=201)
def convert_lead(lead_id: DbId, body: ConvertLead, uow: UnitOfWork = Depends(get_uow),
                 _: Principal = Depends(SALES)) -> dict:
    """The lead becomes a deal: on the given account, or on a new account made from the lead."""
    return leads.convert_lead(uow, lead_id, body)


# -- deals -------------------------------------------------------------------------------------------

@router.get("/deals/stages", response_model=list[StageOut])
def list_stages(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> list[StageOut]:
    return deals.stages_out(uow)


@router.put("/deals/stages", response_model=list[StageOut])
def set_stages(body: StagesIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> list[StageOut]:
    return deals.set_stages(uow, body)


@router.get("/deals/pipeline", response_model=PipelineReport)
def pipeline(currency: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
             _: Principal = Depends(SALES)) -> PipelineReport:
    """Pipeline and weighted value per stage, forecast by month, stage conversion and time in stage."""
    return deals.pipeline_report(uow, currency=currency)


@router.post("/deals", response_model=DealOut, status_code=201)
def create_deal(body: DealCreate, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(SALES)) -> DealOut:
    return deals.create_deal(uow, body)


@router.get("/deals", response_model=Page[DealOut])
def list_deals(stage: str | None = None, account_id: int | None = None, limit: int | None = None,
               cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
               _: Principal = Depends(SALES)) -> Page[DealOut]:
    return deals.list_deals(uow, stage=stage, account_id=account_id, limit=limit, cursor=cursor)


@router.get("/deals/{deal_id}", response_model=DealOut)
def get_deal(deal_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> DealOut:
    return deals.get_deal(uow, deal_id)


@router.patch("/deals/{deal_id}", response_model=DealOut)
def update_deal(deal_id: DbId, body: DealPatch, uow: UnitOfWork = Depends(get_uow),
                _: Principal = Depends(SALES)) -> DealOut:
    """Change title, amount (the deal's currency), expected close, owner or stage. A rep edits only
    their own deals (another's: 404) and may not give one away (403 naming `owner_user_id`); a
    stage change follows the moves `/move` allows (409 naming `stage`); `version`: 409 when the
    deal changed since."""
    return deals.update_deal(uow, deal_id, body)


@router.post("/deals/{deal_id}/move", response_model=DealOut)
def move_deal(deal_id: DbId, body: DealMove, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(SALES)) -> DealOut:
    """Move to another stage (409 naming `stage` when it cannot be reached; `lost_reason` for lost)."""
    return deals.move_deal(uow, deal_id, body)


# -- activities ----------------------------------------------------------------------------------------

@router.post("/activities", response_model=ActivityOut, status_code=201)
def log_activity(body: ActivityIn, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(SALES)) -> ActivityOut:
    return activities.log_activity(uow, body)


@router.get("/activities", response_model=Page[ActivityOut])
def list_activities(account_id: int | None = None, deal_id: int | None = None,
                    kind: Literal["call", "visit", "email", "note", "task"] | None = None, open_tasks: bool = False,
                    limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                    _: Principal = Depends(SALES)) -> Page[ActivityOut]:
    return activities.list_activities(uow, account_id=account_id, deal_id=deal_id, kind=kind, open_tasks=open_tasks,
                                      limit=limit, cursor=cursor)


@router.post("/activities/{activity_id}/complete", response_model=ActivityOut)
def complete_task(activity_id: DbId, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(SALES)) -> ActivityOut:
    return activities.complete_task(uow, activity_id)


# -- quotes ------------------------------------------------------------------------------------------------

@router.post("/quotes", response_model=QuoteOut, status_code=201)
def create_quote(body: QuoteCreate, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(SALES)) -> QuoteOut:
    """From the account's price list; a discount above the author's limit makes it pending_approval."""
    return quotes.create_quote(uow, body)


@router.get("/quotes", response_model=Page[QuoteOut])
def list_quotes(status: str | None = None, account_id: int | None = None, limit: int | None = None,
                cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = Depends(SALES)) -> Page[QuoteOut]:
    return quotes.list_quotes(uow, status=status, account_id=account_id, limit=limit, cursor=cursor)


@router.get("/quotes/{quote_id}", response_model=QuoteOut)
def get_quote(quote_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> QuoteOut:
    return quotes.get_quote(uow, quote_id)


@router.get("/quotes/{quote_id}/pdf")
def quote_pdf(quote_id: DbId, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(SALES)) -> Response:
    return Response(quotes.quote_pdf(uow, quote_id), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="quote-{quote_id}.pdf"'})


@router.post("/quotes/{quote_id}/revise", response_model=QuoteOut, status_code=201)
def revise_quote(quote_id: DbId, body: QuoteCreate, uow: UnitOfWork = Depends(get_uow),
                 _: Principal = Depends(SALES)) -> QuoteOut:
    return quotes.revise_quote(uow, quote_id, body)


@router.post("/quotes/{quote_id}/approve", response_model=QuoteOut)
def approve_quote(quote_id: DbId, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(MANAGER)) -> QuoteOut:
    return quotes.approve_quote(uow, quote_id)


@router.post("/quotes/{quote_id}/send", response_model=QuoteSentOut)
def send_quote(quote_id: DbId, request: Request, uow: UnitOfWork = Depends(get_uow),
               _: Principal = Depends(SALES)) -> QuoteSentOut:
    """Creates the buyer's acceptance link (returned once) and emits quote.sent; no email is sent
    by Merx."""
    return quotes.send_quote(uow, quote_id, base_url=str(request.base_url))


@router.get("/quote-links/{token}", response_model=PublicQuoteOut)
def view_quote_link(token: str, uow: UnitOfWork = Depends(get_read_uow)) -> PublicQuoteOut:
    return quotes.public_quote(uow, token)


@router.post("/quote-links/{token}/accept", response_model=PublicQuoteOut)
def accept_quote_link(token: str, body: AcceptIn, uow: UnitOfWork = Depends(get_uow),
                      _: None = Depends(PUBLIC_FORM_LIMIT)) -> PublicQuoteOut:
    """The buyer accepts (no login): the order is placed at the quote's prices, stock reserved."""
    return quotes.accept_quote(uow, token, body)


@router.post("/quote-links/{token}/reject", response_model=PublicQuoteOut)
def reject_quote_link(token: str, body: RejectIn, uow: UnitOfWork = Depends(get_uow),
                      _: None = Depends(PUBLIC_FORM_LIMIT)) -> PublicQuoteOut:
    return quotes.reject_quote(uow, token, body)


# -- contracts ---------------------------------------------------------------------------------------------

@router.post("/contracts", response_model=ContractOut, status_code=201)
def create_contract(body: ContractCreate, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(SALES)) -> ContractOut:
    return contracts.create_contract(uow, body)


@router.get("/contracts", response_model=Page[ContractOut])
def list_contracts(status: str | None = None, account_id: int | None = None, risk_level: str | None = None,
                   limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                   _: Principal = Depends(SALES)) -> Page[ContractOut]:
    return contracts.list_contracts(uow, status=status, account_id=account_id, risk_level=risk_level, limit=limit,
                                    cursor=cursor)


@router.get("/contracts/{contract_id}", response_model=ContractOut)
def get_contract(contract_id: DbId, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(SALES)) -> ContractOut:
    return contracts.get_contract(uow, contract_id)


@router.put("/contracts/{contract_id}/clauses", response_model=ContractOut)
def set_clauses(contract_id: DbId, body: ClausesIn, uow: UnitOfWork = Depends(get_uow),
                _: Principal = Depends(SALES)) -> ContractOut:
    return contracts.set_clauses(uow, contract_id, body)


@router.post("/contracts/{contract_id}/status", response_model=ContractOut)
def contract_status(contract_id: DbId, body: ContractStatusIn, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(SALES)) -> ContractOut:
    """Lifecycle moves; signing needs the required clauses (422 naming the missing ones)."""
    return contracts.change_status(uow, contract_id, body)


@router.post("/contracts/{contract_id}/milestones/{milestone_id}/complete", response_model=ContractOut)
def complete_milestone(contract_id: DbId, milestone_id: DbId, order_id: int | None = None,
                       uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(SALES)) -> ContractOut:
    return contracts.complete_milestone(uow, contract_id, milestone_id, order_id=order_id)


from merx.sales import performance_api  # noqa: E402 - targets, commissions, KPIs, dealers, rebates (/sales/...)

router.include_router(performance_api.router)

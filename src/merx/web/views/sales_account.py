"""The sales console's everyday forms: a new account (with its first contact), and on the account
page a new deal, an activity or task, completing a task, a quote from a deal and a contract's next
status. Each form calls the sales context's public use case as the signed-in user, so a rep acts
only on their own records (another's is a 404, as in the API). A refused form comes back as the
same page with the message next to the field (422), never a 500.

The account page also lists the contacts' open support tickets: sales may not import support
(lint-imports), the web layer may."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core import accounts as users
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.orders import public as orders
from merx.sales import public as sales
from merx.support import public as support
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none, utc_or_text

router = APIRouter(route_class=PageRoute)
SALES_ROLES = (Role.admin, Role.staff, Role.sales_rep)
TICKET_ROLES = (Role.admin, Role.staff, Role.support_agent)  # who opens /console/support/tickets/...


def field_errors(e: Problem | ValidationError, prefix: str = "") -> dict[str, str]:
    """A refusal as {field: message} for the form: pydantic's location or the problem's fields;
    what names no field of the form goes under `_form` (shown above the form)."""
    out: dict[str, str] = {}
    if isinstance(e, ValidationError):
        for err in e.errors():
            loc = [str(p) for p in err.get("loc", ())]
            key = loc[0] if loc else "_form"
            if key == "contacts" and loc:
                key = f"contact_{loc[-1]}"
            out.setdefault(prefix + key, str(err.get("msg", "is not valid")).removeprefix("Value error, "))
        return out
    for fe in e.errors or []:
        key = fe.field.split(".")[0].split("[")[0]
        out.setdefault(prefix + key, fe.message)
    if not out:
        out[prefix + "_form"] = e.detail or e.title
    return out


def _money(values: dict[str, Any], currency: str) -> dict[str, Any] | None:
    amount = text_or_none(values.get("amount"))
    return {"currency": text_or_none(values.get("currency")) or currency, "amount": amount} if amount else None


# -- a new account ---------------------------------------------------------------------------------

@router.get("/console/sales/accounts/new")
def new_account_page(request: Request) -> Response:
    me = console_user(request, *SALES_ROLES)
    return render(request, "console/sales_account_new.html", {"values": {}, "errors": {}}, principal=me)


@router.post("/console/sales/accounts/new")
def new_account(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *SALES_ROLES)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        contact = text_or_none(values.get("contact_name"))
        data = sales.AccountCreate(
            name=values.get("name", "").strip(), tax_id=text_or_none(values.get("tax_id")),
            territory=text_or_none(values.get("territory")), payment_terms=values.get("payment_terms") or "net30",
            tier=values.get("tier") or "standard", currency=text_or_none(values.get("currency")),
            contacts=[{"name": contact, "email": text_or_none(values.get("contact_email")),
                       "phone": text_or_none(values.get("contact_phone")),
                       "position": text_or_none(values.get("contact_position"))}] if contact else [])
        with unit_of_work(request, me) as uow:
            created = sales.create_account(uow, data)
    except (ValidationError, Problem) as e:
        if isinstance(e, Problem) and e.status >= 500:
            raise
        return render(request, "console/sales_account_new.html", {"values": values, "errors": field_errors(e)},
                      status=422, principal=me)
    return redirect(f"/console/sales/accounts/{created.id}", flash=f"Account {created.name} created.")


# -- the account page ---------------------------------------------------------------------------------

def _account_page(request: Request, me: Any, account_id: int, *, errors: dict[str, str] | None = None,
                  values: dict[str, Any] | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        account = sales.get_account(uow, account_id)
        deals = sales.list_deals(uow, account_id=account_id, limit=100).items
        quotes = sales.list_quotes(uow, account_id=account_id, limit=100).items
        contracts = sales.list_contracts(uow, account_id=account_id, limit=100).items
        activities = sales.list_activities(uow, account_id=account_id, limit=50).items
        stages = [s for s in sales.stages_out(uow) if s.kind == "open"]
        order_rows: list[Any] = []
        tickets: list[Any] = []
        for c in account.contacts:
            rows, _ = orders.list_orders(uow, customer_id=c.customer_id, newest_first=True, limit=20)
            order_rows.extend(rows)
            tickets.extend(support.open_tickets_of(uow, c.customer_id))
        names = users.user_names(uow, [account.owner_user_id])
    return render(request, "console/sales_account.html", {
        "account": account, "deals": deals, "quotes": quotes, "contracts": contracts, "activities": activities,
        "orders": order_rows, "names": names, "stages": stages, "tickets": tickets,
        "ticket_links": me.role in TICKET_ROLES, "next_status": sales.CONTRACT_TRANSITIONS,
        "errors": errors or {}, "values": values or {}}, status=status, principal=me)


@router.get("/console/sales/accounts/{account_id}")
def account_page(request: Request, account_id: int) -> Response:
    return _account_page(request, console_user(request, *SALES_ROLES), account_id)


def _account_form(request: Request, account_id: int, form: dict[str, Any], prefix: str, action: Any,
                  done: str) -> Response:
    """Run one of the account page's forms; a refusal re-renders the page with its messages."""
    me = console_user(request, *SALES_ROLES)
    values = {prefix + k: v for k, v in form.items() if isinstance(v, str)}
    try:
        with unit_of_work(request, me) as uow:
            message = action(uow, {k: v for k, v in form.items() if isinstance(v, str)})
    except (ValidationError, Problem) as e:
        if isinstance(e, Problem) and (e.status >= 500 or e.status == 404):
            raise
        return _account_page(request, me, account_id, errors=field_errors(e, prefix), values=values, status=422)
    return redirect(f"/console/sales/accounts/{account_id}{done}", flash=message)


@router.post("/console/sales/accounts/{account_id}/deals")
def add_deal(request: Request, account_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any, v: dict[str, str]) -> str:
        account = sales.get_account(uow, account_id)
        deal = sales.create_deal(uow, sales.DealCreate(
            title=v.get("title", "").strip(), account_id=account.id, amount=_money(v, account.currency),
            stage=text_or_none(v.get("stage")), expected_close=text_or_none(v.get("expected_close"))))
        return f"Deal {deal.title} created in {deal.stage.replace('_', ' ')}."
    return _account_form(request, account_id, form, "deal.", run, "#deals")


@router.post("/console/sales/accounts/{account_id}/activities")
def add_activity(request: Request, account_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any, v: dict[str, str]) -> str:
        a = sales.log_activity(uow, sales.ActivityIn(
            kind=v.get("kind") or "note", subject=v.get("subject", "").strip(), body=text_or_none(v.get("body")),
            account_id=account_id, deal_id=int_or_none(v.get("deal_id")), location=text_or_none(v.get("location")),
            due_at=utc_or_text(v.get("due_at"))))
        return f"Task “{a.subject}” scheduled." if a.kind == "task" else f"{a.kind.title()} logged."
    return _account_form(request, account_id, form, "activity.", run, "#activities")


@router.post("/console/sales/accounts/{account_id}/activities/{activity_id}/complete")
def finish_task(request: Request, account_id: int, activity_id: int,
                form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any, v: dict[str, str]) -> str:
        a = sales.complete_task(uow, activity_id)
        return f"Task “{a.subject}” done."
    return _account_form(request, account_id, form, f"task{activity_id}.", run, "#activities")


QUOTE_FORM_ROWS = 3  # line rows on the new-quote form; a revision's form has its lines and one more
MAX_QUOTE_ROWS = 200  # QuoteCreate's own limit


def _quote_lines(v: dict[str, str]) -> list[dict[str, str]]:
    """The form's line rows (sku<i>, quantity<i>, discount<i>; `rows` says how many); blank rows are skipped."""
    rows = min(int_or_none(v.get("rows")) or QUOTE_FORM_ROWS, MAX_QUOTE_ROWS)
    lines = []
    for i in range(rows):
        sku = text_or_none(v.get(f"sku{i}"))
        if sku:
            lines.append({"sku": sku, "quantity": v.get(f"quantity{i}") or "1",
                          "discount_percent": text_or_none(v.get(f"discount{i}")) or "0"})
    return lines


@router.post("/console/sales/accounts/{account_id}/quotes")
def add_quote(request: Request, account_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any, v: dict[str, str]) -> str:
        q = sales.create_quote(uow, sales.QuoteCreate(
            account_id=account_id, deal_id=int_or_none(v.get("deal_id")), lines=_quote_lines(v),
            valid_until=text_or_none(v.get("valid_until")), note=text_or_none(v.get("note"))))
        return f"Quote {q.number} created ({q.status.replace('_', ' ')})."
    return _account_form(request, account_id, form, "quote.", run, "#quotes")


@router.post("/console/sales/accounts/{account_id}/quotes/{quote_id}/revise")
def revise_quote(request: Request, account_id: int, quote_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """A new revision of the quote (same number, its lines as edited); the previous revision is
    superseded and its buyer link stops working (`POST /api/v1/sales/quotes/{id}/revise`)."""
    def run(uow: Any, v: dict[str, str]) -> str:
        old = sales.get_quote(uow, quote_id)
        q = sales.revise_quote(uow, quote_id, sales.QuoteCreate(
            account_id=account_id, deal_id=old.deal_id, lines=_quote_lines(v),
            valid_until=text_or_none(v.get("valid_until")), note=text_or_none(v.get("note"))))
        return (f"Quote {q.number} revised: rev {q.revision} ({q.status.replace('_', ' ')}); "
                f"rev {old.revision} is superseded.")
    return _account_form(request, account_id, form, f"revise{quote_id}.", run, "#quotes")


@router.post("/console/sales/accounts/{account_id}/contracts/{contract_id}/status")
def contract_status(request: Request, account_id: int, contract_id: int,
                    form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any, v: dict[str, str]) -> str:
        c = sales.change_status(uow, contract_id, sales.ContractStatusIn(status=v.get("status") or ""))
        return f"Contract {c.number} is now {c.status}."
    return _account_form(request, account_id, form, f"contract{contract_id}.", run, "#contracts")

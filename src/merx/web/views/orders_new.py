"""A staff member places an order for a customer from the console (issue #20: the "draft order"
of the Shopify admin): lines by SKU, shipping to an address or pickup in a store, a coupon,
paid later (the `manual` provider: the order waits for payment, as a phone or assisted order
does). "Preview" shows the prices, promotions, shipping and tax checkout would charge without
writing anything (`POST /api/v1/orders/preview`); "Place order" places it
(`POST /api/v1/orders` with `customer.id`). Admin and staff.

A double click or a resent form must not place two orders: each form carries a key, claimed
through the same idempotency records as the API's `Idempotency-Key`, so a second submission
of the same form answers with the order the first one placed. A refused form comes back with
the message beside the field (422) and a fresh key; the refused key is forgotten."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core import idempotency
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.core.observability import request_id_var
from merx.core.uow import UnitOfWork
from merx.customers import public as customers
from merx.inventory import public as inventory
from merx.orders import public as orders
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none

router = APIRouter(route_class=PageRoute)
ORDER_ROLES = (Role.admin, Role.staff)
ROWS = 5
CHANNELS = ("web", "store", "b2b")
ADDRESS = ("name", "line1", "line2", "city", "postal_code", "country")
PATH = "/console/new-order"  # not /console/orders/new: the order page /console/orders/{id} would take it


def _errors(e: Problem | ValidationError) -> dict[str, str]:
    """A refusal as {form field: message}: a line's message beside its row, an address part
    beside its input, the customer beside the customer number."""
    if isinstance(e, ValidationError):
        found = [(".".join(str(p) for p in err.get("loc", ())), str(err.get("msg", "is not valid"))
                  .removeprefix("Value error, ")) for err in e.errors()]
    else:
        found = [(fe.field.replace("[", ".").replace("]", ""), fe.message) for fe in e.errors or []]
    out: dict[str, str] = {}
    for path, message in found:
        parts = path.split(".")
        if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit():
            key = f"line{parts[1]}"
        elif parts[:2] == ["fulfilment", "address"] and len(parts) > 2:
            key = f"address.{parts[2]}"
        elif parts[0] == "fulfilment":
            key = "fulfilment." + (parts[1] if len(parts) > 1 else "type")
        elif parts[0] == "customer":
            key = "customer_id"
        else:
            key = parts[0] or "_form"
        out.setdefault(key, message)
    if not out and isinstance(e, Problem):
        out["_form"] = e.detail or e.title
    return out


def _order_data(values: dict[str, str]) -> orders.OrderCreate:
    lines = []
    for i in range(ROWS):
        sku = text_or_none(values.get(f"sku{i}"))
        if sku:
            lines.append({"sku": sku, "quantity": values.get(f"qty{i}") or "1"})
    kind = values.get("fulfilment", "ship")
    fulfilment: dict[str, Any] = {"type": kind}
    if kind == "pickup":
        fulfilment["location"] = text_or_none(values.get("location"))
    else:
        address = {k: text_or_none(values.get(f"address.{k}")) for k in ADDRESS}
        if address["country"]:
            address["country"] = address["country"].upper()
        if any(address.values()):
            fulfilment["address"] = {k: v for k, v in address.items() if v is not None}
        fulfilment["shipping_method"] = text_or_none(values.get("shipping_method"))
    return orders.OrderCreate(channel=values.get("channel") or "web", currency=text_or_none(values.get("currency")),
                              customer={"id": int_or_none(values.get("customer_id"))}, lines=lines,
                              fulfilment=fulfilment, payment={"provider": "manual"},
                              coupon=text_or_none(values.get("coupon")))


def _page(request: Request, me: Any, values: dict[str, Any], *, errors: dict[str, str] | None = None,
          preview: dict[str, Any] | None = None, status: int = 200) -> Response:
    customer = None
    cid = int_or_none(values.get("customer_id"))
    with unit_of_work(request, me, readonly=True) as uow:
        locations, _ = inventory.list_locations(uow, limit=100)
        if cid is not None:
            try:
                customer = customers.get_customer(uow, cid)
            except Problem:
                customer = None
    pickups = [loc for loc in locations if loc.get("pickup")]
    return render(request, "console/order_new.html", {
        "values": values, "errors": errors or {}, "preview": preview, "customer": customer, "pickups": pickups,
        "rows": ROWS, "channels": CHANNELS, "form_key": secrets.token_urlsafe(16)}, status=status, principal=me)


@router.get(PATH)
def new_order_page(request: Request, customer_id: int | None = None) -> Response:
    me = console_user(request, *ORDER_ROLES)
    return _page(request, me, {"customer_id": str(customer_id or ""), "fulfilment": "ship", "channel": "web"})


def _fingerprint(values: dict[str, str]) -> str:
    body = "&".join(f"{k}={values[k]}" for k in sorted(values) if k not in ("csrf_token", "form_key", "action"))
    return idempotency.request_fingerprint("POST", PATH, "application/x-www-form-urlencoded", body.encode())


@router.post(PATH)
def place_or_preview(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *ORDER_ROLES)
    values = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    if int_or_none(values.get("customer_id")) is None:
        return _page(request, me, values, errors={"customer_id": "Give the number of the customer the order is for."},
                     status=422)
    try:
        data = _order_data(values)
    except ValidationError as e:
        return _page(request, me, values, errors=_errors(e), status=422)
    if values.get("action") != "place":
        try:
            with unit_of_work(request, me) as uow:
                shown = orders.preview_order(uow, data)
        except Problem as e:
            if e.status >= 500:
                raise
            return _page(request, me, values, errors=_errors(e), status=422)
        return _page(request, me, values, preview=shown)
    return _place(request, me, values, data)


def _place(request: Request, me: Any, values: dict[str, str], data: Any) -> Response:
    db = request.app.state.db
    key = values.get("form_key") or secrets.token_urlsafe(16)
    outcome = idempotency.claim(db, scope_key=f"user:{me.user_id}", key=f"console-order:{key}", method="POST",
                                path=PATH, fingerprint=_fingerprint(values),
                                stale_after=dt.timedelta(seconds=db.settings.idempotency_stale_seconds))
    if isinstance(outcome, idempotency.Replay):  # this form was sent before: show what it did
        location = dict(outcome.headers).get("location")
        if location:
            return redirect(location, flash="This order was already placed; here it is.")
        return _page(request, me, values, errors={"_form": "This form was already sent; look the customer's orders up "
                                                           "before placing it again."}, status=409)
    if isinstance(outcome, Problem):  # still running, or the key's answer was lost
        return _page(request, me, values, errors={"_form": outcome.detail}, status=outcome.status)
    try:
        with UnitOfWork(db, me, request_id=request_id_var.get(), idempotency=outcome) as uow:
            placed = orders.place_order(uow, data)
    except Problem as e:
        # a refusal is forgotten (nothing was written): the same form, sent again, runs again
        idempotency.finish(db, outcome, None, [], b"")
        if e.status >= 500:
            raise
        return _page(request, me, values, errors=_errors(e), status=422)
    except BaseException:
        idempotency.finish(db, outcome, None, [], b"")
        raise
    url = f"/console/orders/{placed['id']}"
    idempotency.finish(db, outcome, 303, [("location", url)], b"")
    return redirect(url, flash=f"Order {placed['number']} placed for customer {values['customer_id']}; "
                               f"it waits for payment.")

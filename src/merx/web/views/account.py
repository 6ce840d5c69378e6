"""The storefront's shopper account: sign-up, email confirmation, sign-in and sign-out,
password reset, and "My account" (orders with status, tracking and invoice PDFs, the address
book, saved carts, marketing consent, data export and erasure).

The shopper signs in with their own cookie (web/auth/shopper.py), never the console's. Every
read and write here runs as the shopper's customer-role principal, so orders, invoices,
addresses, carts and CRM data answer with the shopper's own records only (another
shopper's is a 404 page). Pages use the storefront layout and keep its `?lang=`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from merx.core.errors import NotFound, ValidationProblem
from merx.core.ratelimit import RateLimited, check_rate
from merx.crm import public as crm
from merx.customers import public as customers
from merx.invoicing import public as invoicing
from merx.orders import public as orders
from merx.web.auth import shopper as shopper_auth
from merx.web.common import PageRoute, csrf_form, problem_sentence, redirect, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none, validation_sentence
from merx.web.views.store import _cart, _render, _save_cart

router = APIRouter(route_class=PageRoute)
CONSENT_CHANNELS = (("email", "Email newsletters and offers"), ("sms", "Text messages (SMS) with offers"))


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would let a phishing link borrow the sign-in page.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/account"
    return target


def _link_base(request: Request) -> str:
    return customers.link_base(request.app.state.settings, str(request.base_url))


def _signed_in(request: Request) -> customers.Shopper | None:
    return shopper_auth.current_shopper(request)


def _to_sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"/account/sign-in?next={quote(target)}")


def _limited(request: Request, name: str, template: str, ctx: dict[str, Any]) -> Response | None:
    try:
        check_rate(request, name)
    except RateLimited as e:
        page = _render(request, template, ctx | {"error": f"Too many attempts; try again in {e.retry_after} s."},
                       status=429)
        page.headers["Retry-After"] = str(e.retry_after)
        return page
    return None


# --------------------------------------------------------------------------------------------
# Sign-up, confirmation, sign-in, sign-out, reset
# --------------------------------------------------------------------------------------------


@router.get("/account/sign-up")
def sign_up_page(request: Request) -> Response:
    if _signed_in(request):
        return redirect("/account")
    return _render(request, "store/account/sign_up.html", {"form": {}})


@router.post("/account/sign-up")
def sign_up(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    fields = {k: str(form.get(k, "")).strip() for k in ("email", "first_name", "last_name")}
    ctx = {"form": fields}
    if str(form.get("password", "")) != str(form.get("password_again", "")):
        return _render(request, "store/account/sign_up.html", ctx | {"error": "The two passwords differ."}, status=422)
    if (limited := _limited(request, "account_mail", "store/account/sign_up.html", ctx)) is not None:
        return limited
    try:
        data = customers.AccountSignUp(email=fields["email"], password=str(form.get("password", "")),
                                       first_name=fields["first_name"] or None, last_name=fields["last_name"] or None,
                                       locale=request.cookies.get("merx_lang") or request.query_params.get("lang"))
        with unit_of_work(request) as uow:
            if data.locale and data.locale not in uow.settings.locales:
                data = data.model_copy(update={"locale": None})
            customers.sign_up(uow, data, link_base=_link_base(request))
    except ValidationError as e:
        return _render(request, "store/account/sign_up.html", ctx | {"error": validation_sentence(e)}, status=422)
    except ValidationProblem as e:
        return _render(request, "store/account/sign_up.html", ctx | {"error": problem_sentence(e)}, status=422)
    return _render(request, "store/account/check_mail.html", {"email": fields["email"], "purpose": "verify"})


@router.get("/account/verify")
def verify_page(request: Request, token: str = "") -> Response:
    with unit_of_work(request, readonly=True) as uow:
        try:
            email = customers.check_token(uow, token, "verify")
        except ValidationProblem as e:
            return _render(request, "store/account/link_problem.html", {"error": problem_sentence(e),
                                                                         "purpose": "verify"}, status=422)
    return _render(request, "store/account/verify.html", {"token": token, "email": email})


@router.post("/account/verify")
def verify(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    token = str(form.get("token", ""))
    ctx = {"token": token, "email": str(form.get("email", ""))}
    if (limited := _limited(request, "shopper_login", "store/account/verify.html", ctx)) is not None:
        return limited
    try:
        with unit_of_work(request) as uow:
            signed = customers.verify_email(uow, token, str(form.get("password", "")))
    except customers.LockedOut as e:
        return _render(request, "store/account/verify.html", ctx | {"error": problem_sentence(e)}, status=429)
    except ValidationProblem as e:
        if e.errors and e.errors[0].field == "token":
            return _render(request, "store/account/link_problem.html", {"error": problem_sentence(e),
                                                                         "purpose": "verify"}, status=422)
        return _render(request, "store/account/verify.html", ctx | {"error": "That is not the password you chose "
                                                                              "when you signed up."}, status=422)
    with unit_of_work(request, customers.Shopper(signed.account.id, signed.account.customer_id,  # type: ignore[arg-type]
                                                 signed.account.email, None).principal, readonly=True) as uow:
        claimed = len(orders.list_orders(uow, limit=200)[0])
    note = "Your email is confirmed and you are signed in."
    if claimed:
        note += f" {claimed} earlier order{'s are' if claimed != 1 else ' is'} now in your account."
    response = redirect("/account", flash=note)
    shopper_auth.start(request, response, signed)
    return response


@router.post("/account/verify/resend")
def resend(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    email = str(form.get("email", "")).strip()
    if (limited := _limited(request, "account_mail", "store/account/sign_in.html", {"email": email})) is not None:
        return limited
    with unit_of_work(request) as uow:
        customers.resend_verification(uow, email, link_base=_link_base(request))
    return _render(request, "store/account/check_mail.html", {"email": email, "purpose": "verify"})


@router.get("/account/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    if _signed_in(request):
        return redirect(_safe_next(next))
    return _render(request, "store/account/sign_in.html", {"next": _safe_next(next)})


@router.post("/account/sign-in")
def sign_in(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    email = str(form.get("email", "")).strip()
    ctx = {"email": email, "next": _safe_next(str(form.get("next") or ""))}
    if (limited := _limited(request, "shopper_login", "store/account/sign_in.html", ctx)) is not None:
        return limited
    try:
        with unit_of_work(request) as uow:
            signed = customers.sign_in(uow, email, str(form.get("password", "")))
    except customers.LockedOut as e:
        page = _render(request, "store/account/sign_in.html", ctx | {"error": problem_sentence(e)}, status=429)
        page.headers["Retry-After"] = str(e.retry_after)
        return page
    except customers.NotVerified as e:
        return _render(request, "store/account/sign_in.html", ctx | {"error": problem_sentence(e), "unverified": True},
                       status=403)
    except customers.WrongCredentials as e:
        return _render(request, "store/account/sign_in.html", ctx | {"error": problem_sentence(e)}, status=401)
    response = redirect(ctx["next"], flash="You are signed in.")
    shopper_auth.start(request, response, signed)
    return response


@router.post("/account/sign-out")
def sign_out(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    response = redirect("/", flash="You are signed out.")
    shopper_auth.end(request, response)
    return response


@router.get("/account/forgot")
def forgot_page(request: Request) -> Response:
    return _render(request, "store/account/forgot.html", {})


@router.post("/account/forgot")
def forgot(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    email = str(form.get("email", "")).strip()
    if (limited := _limited(request, "account_mail", "store/account/forgot.html", {"email": email})) is not None:
        return limited
    with unit_of_work(request) as uow:
        customers.request_password_reset(uow, email, link_base=_link_base(request))
    return _render(request, "store/account/check_mail.html", {"email": email, "purpose": "reset"})


@router.get("/account/reset")
def reset_page(request: Request, token: str = "") -> Response:
    with unit_of_work(request, readonly=True) as uow:
        try:
            email = customers.check_token(uow, token, "reset")
        except ValidationProblem as e:
            return _render(request, "store/account/link_problem.html", {"error": problem_sentence(e),
                                                                         "purpose": "reset"}, status=422)
    return _render(request, "store/account/reset.html", {"token": token, "email": email})


@router.post("/account/reset")
def reset(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    token = str(form.get("token", ""))
    ctx = {"token": token, "email": str(form.get("email", ""))}
    if str(form.get("password", "")) != str(form.get("password_again", "")):
        return _render(request, "store/account/reset.html", ctx | {"error": "The two passwords differ."}, status=422)
    try:
        with unit_of_work(request) as uow:
            signed = customers.reset_password(uow, token, str(form.get("password", "")))
    except ValidationProblem as e:
        if e.errors and e.errors[0].field == "token":
            return _render(request, "store/account/link_problem.html", {"error": problem_sentence(e),
                                                                         "purpose": "reset"}, status=422)
        return _render(request, "store/account/reset.html", ctx | {"error": problem_sentence(e)}, status=422)
    response = redirect("/account", flash="Your new password is set. You are signed out everywhere else.")
    shopper_auth.end(request, response)  # this browser's old session too, if it had one
    shopper_auth.start(request, response, signed)
    return response


# --------------------------------------------------------------------------------------------
# My account
# --------------------------------------------------------------------------------------------


@router.get("/account")
def overview(request: Request) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    with unit_of_work(request, me.principal, readonly=True) as uow:
        account = customers.get_account(uow, me.account_id)
        record = customers.get_customer(uow, me.customer_id)
        recent, more = orders.list_orders(uow, newest_first=True, limit=5)
        address = customers.default_address(uow, me.customer_id, "shipping")
        carts = customers.list_saved_carts(uow, me.customer_id)
        loyalty = crm.customer_loyalty(uow, me.customer_id)["accounts"]
    return _render(request, "store/account/overview.html", {
        "account": account, "record": record, "orders": recent, "more_orders": more is not None,
        "address": address, "saved_carts": carts, "loyalty": loyalty, "section": "overview"})


@router.get("/account/orders")
def order_history(request: Request, cursor: str | None = None) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    with unit_of_work(request, me.principal, readonly=True) as uow:
        items, next_cursor = orders.list_orders(uow, newest_first=True, limit=20, cursor=cursor)
    return _render(request, "store/account/orders.html", {"orders": items, "next_cursor": next_cursor,
                                                          "section": "orders"})


@router.get("/account/orders/{order_id}")
def order_detail(request: Request, order_id: int) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    with unit_of_work(request, me.principal, readonly=True) as uow:
        order = orders.get_order(uow, order_id)  # another customer's order: NotFound, a 404 page
        documents = invoicing.documents_for_order(uow, order_id)
    return _render(request, "store/account/order.html", {"order": order, "documents": documents,
                                                         "section": "orders"})


@router.get("/account/orders/{order_id}/documents/{doc_id}.pdf")
def order_document(request: Request, order_id: int, doc_id: int) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    with unit_of_work(request, me.principal, readonly=True) as uow:
        orders.get_order(uow, order_id)  # the shopper's own order, or 404
        if not any(d.id == doc_id for d in invoicing.documents_for_order(uow, order_id)):
            raise NotFound("No such document for this order.")
        name, data = invoicing.pdf(uow, doc_id, checked=True)
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


# -- addresses --------------------------------------------------------------------------------


def _address_in(form: dict[str, Any]) -> customers.AddressIn:
    return customers.AddressIn(
        label=text_or_none(form.get("label")), name=str(form.get("name", "")).strip(),
        company=text_or_none(form.get("company")), line1=str(form.get("line1", "")).strip(),
        line2=text_or_none(form.get("line2")), city=str(form.get("city", "")).strip(),
        postal_code=text_or_none(form.get("postal_code")), country=str(form.get("country", "")).strip().upper(),
        phone=text_or_none(form.get("phone")), default_shipping=form.get("default_shipping") == "on",
        default_billing=form.get("default_billing") == "on")


def _addresses_page(request: Request, me: customers.Shopper, *, form: dict[str, Any] | None = None,
                    editing: int | None = None, error: str | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me.principal, readonly=True) as uow:
        book = customers.list_addresses(uow, me.customer_id)
        if editing is not None and form is None:
            form = customers.get_address(uow, me.customer_id, editing).model_dump()
    return _render(request, "store/account/addresses.html", {"addresses": book, "form": form or {}, "editing": editing,
                                                             "error": error, "section": "addresses"}, status=status)


@router.get("/account/addresses")
def addresses(request: Request, edit: int | None = None) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    return _addresses_page(request, me, editing=edit)


@router.post("/account/addresses")
def save_address(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    editing = int_or_none(form.get("address_id"))
    try:
        data = _address_in(form)
        with unit_of_work(request, me.principal) as uow:
            if editing is None:
                customers.add_address(uow, me.customer_id, data)
            else:
                customers.update_address(uow, me.customer_id, editing, data)
    except ValidationError as e:
        return _addresses_page(request, me, form=form, editing=editing, error=validation_sentence(e), status=422)
    except ValidationProblem as e:
        return _addresses_page(request, me, form=form, editing=editing, error=problem_sentence(e), status=422)
    return redirect("/account/addresses", flash="Address saved." if editing is None else "Address updated.")


@router.post("/account/addresses/{address_id}/default")
def default_address(request: Request, address_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    kind = str(form.get("kind", "shipping"))
    with unit_of_work(request, me.principal) as uow:
        customers.set_default(uow, me.customer_id, address_id, kind)
    return redirect("/account/addresses", flash=f"Default {kind} address set.")


@router.post("/account/addresses/{address_id}/delete")
def delete_address(request: Request, address_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    with unit_of_work(request, me.principal) as uow:
        customers.delete_address(uow, me.customer_id, address_id)
    return redirect("/account/addresses", flash="Address deleted.")


# -- saved carts ------------------------------------------------------------------------------


@router.get("/account/carts")
def saved_carts(request: Request) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    from merx.catalog import public as catalog

    with unit_of_work(request, me.principal, readonly=True) as uow:
        carts = customers.list_saved_carts(uow, me.customer_id)
        info = catalog.lookup_skus(uow, sorted({ln["sku"] for c in carts for ln in c.lines}))
    names = {sku: i.name for sku, i in info.items()}
    return _render(request, "store/account/carts.html", {"carts": carts, "names": names, "section": "carts"})


@router.post("/account/carts/save")
def save_current_cart(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    lines = _cart(request)
    if not lines:
        return redirect("/cart", flash="Your cart is empty: nothing to save.")
    try:
        with unit_of_work(request, me.principal) as uow:
            saved = customers.save_cart(uow, me.customer_id, customers.SavedCartIn(
                name=text_or_none(form.get("name")),
                lines=[customers.SavedCartLine(sku=s, quantity=min(q, 99)) for s, q in lines]))
    except ValidationProblem as e:
        return redirect("/cart", flash=problem_sentence(e))
    response = redirect("/account/carts", flash=f"Saved “{saved.name}”. Your cart is empty again.")
    if form.get("keep") != "on":
        _save_cart(request, response, [])
    return response


@router.post("/account/carts/{cart_id}/restore")
def restore_cart(request: Request, cart_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Put a saved cart's items into the cart (added to what is there; items no longer on
    sale are left out and named)."""
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    from merx.catalog import public as catalog

    with unit_of_work(request, me.principal, readonly=True) as uow:
        saved = customers.get_saved_cart(uow, me.customer_id, cart_id)
        info = catalog.lookup_skus(uow, [ln["sku"] for ln in saved.lines])
    merged = dict(_cart(request))
    gone = []
    for line in saved.lines:
        i = info.get(line["sku"])
        if i is None or i.status != "active":
            gone.append(i.name if i is not None else line["sku"])
            continue
        merged[line["sku"]] = min(99, merged.get(line["sku"], 0) + int(line["quantity"]))
    flash = f"“{saved.name}” is in your cart."
    if gone:
        flash += " No longer on sale: " + ", ".join(gone) + "."
    response = redirect("/cart", flash=flash)
    _save_cart(request, response, list(merged.items()))
    return response


@router.post("/account/carts/{cart_id}/delete")
def delete_cart(request: Request, cart_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    with unit_of_work(request, me.principal) as uow:
        customers.delete_saved_cart(uow, me.customer_id, cart_id)
    return redirect("/account/carts", flash="Saved cart deleted.")


# -- privacy: consent, export, erasure, password -------------------------------------------------


def _privacy_page(request: Request, me: customers.Shopper, *, error: str | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me.principal, readonly=True) as uow:
        current = crm.current_consents(uow, me.customer_id)
    consents = [(code, label, bool((current.get(code) or {}).get("granted"))) for code, label in CONSENT_CHANNELS]
    return _render(request, "store/account/privacy.html", {"consents": consents, "error": error,
                                                           "section": "privacy"}, status=status)


@router.get("/account/privacy")
def privacy(request: Request) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    return _privacy_page(request, me)


@router.post("/account/privacy/consent")
def save_consent(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    with unit_of_work(request, me.principal, readonly=True) as uow:
        current = crm.current_consents(uow, me.customer_id)
    changed = 0
    for code, _label in CONSENT_CHANNELS:
        wanted = form.get(f"consent_{code}") == "on"
        if bool((current.get(code) or {}).get("granted")) != wanted:
            with unit_of_work(request, me.principal) as uow:  # record_consent commits
                crm.record_consent(uow, me.customer_id, channel=code, granted=wanted, source="storefront_account")
            changed += 1
    return redirect("/account/privacy", flash="Your choices are saved." if changed else "Nothing changed.")


@router.get("/account/privacy/export.json")
def export(request: Request) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    with unit_of_work(request, me.principal, readonly=True) as uow:
        data = crm.export_customer(uow, me.customer_id)  # every context's part, through core.lifecycle
    return JSONResponse(jsonable_encoder(data), headers={
        "Content-Disposition": f'attachment; filename="my-data-{me.customer_id}.json"'})


@router.post("/account/privacy/erase")
def erase(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    if form.get("confirm") != "ERASE":
        return _privacy_page(request, me, error="Type ERASE to confirm.", status=422)
    try:
        with unit_of_work(request, me.principal) as uow:
            customers.confirm_password(uow, me.account_id, str(form.get("password", "")))
            crm.erase_customer(uow, me.customer_id)  # every context's part, through core.lifecycle
    except customers.LockedOut as e:
        return _privacy_page(request, me, error=problem_sentence(e), status=429)
    except ValidationProblem as e:
        return _privacy_page(request, me, error=problem_sentence(e), status=422)
    response = redirect("/", flash="Your account and personal data are erased. Order amounts stay in our books "
                                   "as the law requires, without your name or contact details.")
    response.delete_cookie(shopper_auth.SHOPPER_COOKIE, path="/")  # the session rows went with the account
    return response


@router.post("/account/password")
def change_password(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = _signed_in(request)
    if me is None:
        return _to_sign_in(request)
    if str(form.get("new_password", "")) != str(form.get("new_password_again", "")):
        return _privacy_page(request, me, error="The two new passwords differ.", status=422)
    try:
        with unit_of_work(request, me.principal) as uow:
            signed = customers.change_password(uow, me.account_id, str(form.get("current_password", "")),
                                               str(form.get("new_password", "")))
    except (ValidationProblem, customers.LockedOut) as e:
        return _privacy_page(request, me, error=problem_sentence(e), status=e.status)
    response = redirect("/account/privacy", flash="Your password is changed. Other sessions are signed out.")
    shopper_auth.start(request, response, signed)
    return response


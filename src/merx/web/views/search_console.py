"""Console search: try a query with explain (each stage's score, every boost and the final
score), synonyms, boost rules, pins and the zero-result report, through the search
context's service functions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.search import public as search
from merx.web.common import PageRoute, csrf_form, console_user, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none, validation_sentence

router = APIRouter(route_class=PageRoute)
SEARCH_ROLES = (Role.admin, Role.staff)
@router.get("/console/search")
def search_console(request: Request, q: str = Query("", max_length=500), lang: str | None = None) -> Response:
    me = console_user(request, *SEARCH_ROLES)
    ctx: dict[str, Any] = {"q": q, "lang": lang or "", "rule_kinds": search.RULE_KINDS,
                           "retrieval": search.retrieval_mode()}
    settings = request.app.state.settings
    with unit_of_work(request, me, readonly=True) as uow:
        if q.strip():
            search.register_data_dir(request.app.state.db, settings.data_dir, settings.default_currency)
            outcome, _ = search.search(uow, search.SearchRequest(q=q, lang=text_or_none(lang), limit=20, explain=True,
                                                                 facets=False), data_dir=settings.data_dir,
                                       log_search=False)
            ctx["outcome"] = outcome
        ctx["synonyms"] = search.list_synonyms(uow)
        ctx["rules"] = search.list_boost_rules(uow)
        ctx["pins"] = search.list_pins(uow)
        ctx["zero"] = search.zero_result_report(uow, limit=20)
    return render(request, "console/search.html", ctx, principal=me)


def _write(request: Request, form: dict[str, Any], what: str, run: Any) -> Response:
    me = console_user(request, *SEARCH_ROLES)
    try:
        with unit_of_work(request, me) as uow:
            run(uow, form)
    except ValidationError as e:
        return redirect("/console/search", flash=f"Not saved: {validation_sentence(e)}")
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/search", flash=f"Not saved: {problem_sentence(e)}")
    return redirect("/console/search", flash=what)


@router.post("/console/search/synonyms")
def add_synonym(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any, form: dict[str, Any]) -> None:
        terms = [t.strip() for t in str(form.get("terms", "")).split(",") if t.strip()]
        search.add_synonym(uow, search.SynonymIn(lang=str(form.get("lang", "en")), terms=terms,
                                          one_way=form.get("one_way") == "on"))

    return _write(request, form, "Synonyms saved: they apply to the next search.", run)


@router.post("/console/search/synonyms/{synonym_id}/delete")
def delete_synonym(request: Request, synonym_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _write(request, form, "Synonyms removed.", lambda uow, form: search.delete_synonym(uow, synonym_id))


@router.post("/console/search/rules")
def set_rule(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any, form: dict[str, Any]) -> None:
        search.set_boost_rule(uow, search.BoostRuleIn(kind=str(form.get("kind", "")), factor=str(form.get("factor", "")).strip(),
                                               product_id=int_or_none(form.get("product_id")),
                                               seller_id=int_or_none(form.get("seller_id"))))

    return _write(request, form, "Boost rule saved.", run)


@router.post("/console/search/rules/{rule_id}/delete")
def delete_rule(request: Request, rule_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _write(request, form, "Boost rule removed.", lambda uow, form: search.delete_boost_rule(uow, rule_id))


@router.post("/console/search/pins")
def add_pin(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def run(uow: Any, form: dict[str, Any]) -> None:
        hidden = form.get("hidden") == "on"
        search.add_pin(uow, search.PinIn(query=str(form.get("query", "")), lang=str(form.get("lang", "en")),
                                  product_id=int_or_none(form.get("product_id")) or 0,
                                  position=None if hidden else int_or_none(form.get("position")), hidden=hidden))

    return _write(request, form, "Pin saved.", run)


@router.post("/console/search/pins/{pin_id}/delete")
def delete_pin(request: Request, pin_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    return _write(request, form, "Pin removed.", lambda uow, form: search.delete_pin(uow, pin_id))

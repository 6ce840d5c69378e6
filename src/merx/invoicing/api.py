"""Invoice, credit note and tax report routes. Staff see every document; a customer their own
(404 for others'). Documents are issued by events (invoicing/handlers.py), never by hand, and
cannot be changed."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from merx.core.auth import Principal, Role
from merx.core.pagination import check_limit
from merx.core.schemas import Page
from merx.core.spreadsheet import safe_row
from merx.core.uow import UnitOfWork
from merx.core.web import get_read_uow, require
from merx.invoicing import service
from merx.invoicing.schemas import DocumentOut, TaxReportOut, TaxReportRow

router = APIRouter(tags=["invoicing"])
READERS = (Role.admin, Role.staff, Role.support_agent, Role.customer, Role.dealer)


@router.get("/invoices", response_model=Page[DocumentOut])
def list_documents(order_id: int | None = None, kind: Literal["invoice", "credit_note"] | None = None,
                   limit: int | None = Query(None), cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                   _: Principal = Depends(require(*READERS))) -> Page[DocumentOut]:
    """Newest first; a customer sees their own documents only."""
    items, nxt = service.document_page(uow, order_id=order_id, kind=kind, cursor=cursor,
                                       limit=check_limit(limit, uow.settings.page_size_default, uow.settings.page_size_max))
    return Page[DocumentOut](items=items, next_cursor=nxt)


@router.get("/invoices/{doc_id}", response_model=DocumentOut)
def get_document(doc_id: int, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(*READERS))) -> DocumentOut:
    return service.get_document(uow, doc_id)


@router.get("/invoices/{doc_id}/pdf", response_class=Response)
def document_pdf(doc_id: int, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(*READERS))) -> Response:
    name, data = service.pdf(uow, doc_id)
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.get("/tax-report", response_model=TaxReportOut)
def tax_report(date_from: dt.date = Query(..., alias="from"), date_to: dt.date = Query(..., alias="to"),
               format: Literal["json", "csv"] = "json", uow: UnitOfWork = Depends(get_read_uow),
               _: Principal = Depends(require(Role.admin, Role.staff))) -> TaxReportOut | Response:
    """Tax per country, class and rate of the invoices and credit notes issued in the period."""
    report = service.tax_report(uow, date_from, date_to)
    if format == "json":
        return report
    out = io.StringIO()
    w = csv.writer(out)
    fields = list(TaxReportRow.model_fields)
    w.writerow(fields)
    for row in report.rows:
        w.writerow(safe_row([getattr(row, f) for f in fields]))
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="tax-report-{date_from}-{date_to}.csv"'})

"""What other contexts and the web console may call in invoicing."""

from merx.invoicing.schemas import DocumentOut, TaxReportOut
from merx.invoicing.service import (documents_for_order, get_document, issue_account_credit_note, list_documents, pdf,
                                    tax_report)

__all__ = ["DocumentOut", "TaxReportOut", "documents_for_order", "get_document", "issue_account_credit_note",
           "list_documents", "pdf", "tax_report"]

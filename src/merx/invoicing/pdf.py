"""Invoice and credit note PDFs with reportlab (pure Python wheel, no system libraries such
as the cairo/pango WeasyPrint needs; its platypus tables suit a document of lines and totals).
Rendered from the stored, immutable document, with reportlab's invariant mode so the same
document gives the same bytes."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from merx.invoicing.schemas import DocumentOut


def _p(text: str, style: object) -> Paragraph:
    from xml.sax.saxutils import escape

    return Paragraph(escape(text or ""), style)


def render(doc: DocumentOut) -> bytes:
    buf = io.BytesIO()
    title = "Invoice" if doc.kind == "invoice" else "Credit note"
    pdf = SimpleDocTemplate(buf, pagesize=A4, title=f"{title} {doc.number}", author=doc.seller.get("name", ""),
                            leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm, bottomMargin=18 * mm,
                            invariant=1)
    st = getSampleStyleSheet()
    body, small = st["BodyText"], st["Normal"]
    story = [_p(f"{title} {doc.number}", st["Title"]),
             _p(f"Issued {doc.issued_on.isoformat()} " + (f"for order {doc.order_number}" if doc.order_number
                                                            else f"reference {doc.reference}"), body)]
    if doc.corrects:
        story.append(_p(f"Corrects invoice {doc.corrects}. Reason: {doc.reason or ''}", body))
    parties = Table([[_p("Seller", st["Heading4"]), _p("Buyer", st["Heading4"])],
                     [_p(f"{doc.seller.get('name', '')}\n", small), _p(doc.buyer.get("name") or doc.buyer.get("email") or "", small)],
                     [_p(doc.seller.get("address", ""), small), _p(doc.buyer.get("address") or "", small)],
                     [_p(f"VAT id {doc.seller.get('vat_id', '')}", small), _p(doc.buyer.get("email") or "", small)]],
                    colWidths=[87 * mm, 87 * mm])
    story += [Spacer(1, 6 * mm), parties, Spacer(1, 6 * mm)]
    rows = [["Description", "Qty", "Unit price", "Discount", f"Total ({doc.currency})"]]
    rows += [[_p(str(ln.get("description", "")), small), str(ln.get("quantity", "")), ln.get("unit_price", ""),
              ln.get("discount", ""), ln.get("total", "")] for ln in doc.lines]
    lines = Table(rows, colWidths=[84 * mm, 14 * mm, 26 * mm, 22 * mm, 28 * mm], repeatRows=1)
    lines.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                               ("ALIGN", (1, 0), (-1, -1), "RIGHT"), ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [lines, Spacer(1, 6 * mm)]
    tax_rows = [["VAT", "Net", "Tax"]] + [
        [f"{t.country} {t.tax_class} {t.rate}%" + (" reverse charge" if t.reverse_charge else ""), t.net, t.tax]
        for t in doc.tax_lines]
    tax_rows += [["Total net", doc.net, ""], ["Total tax", "", doc.tax], [f"Total {doc.currency}", "", doc.gross]]
    totals = Table(tax_rows, colWidths=[90 * mm, 42 * mm, 42 * mm])
    totals.setStyle(TableStyle([("ALIGN", (1, 0), (-1, -1), "RIGHT"), ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
                                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold")]))
    story.append(totals)
    if any(t.reverse_charge for t in doc.tax_lines):
        story += [Spacer(1, 4 * mm), _p("Reverse charge: VAT to be accounted for by the recipient "
                                        "(Art. 196 Council Directive 2006/112/EC).", small)]
    pdf.build(story)
    return buf.getvalue()

"""The quote as a PDF, drawn with reportlab: pure Python (no system libraries such as Pango or
Cairo that WeasyPrint needs), so `pip install` is enough on every machine Merx runs on."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from merx.sales.schemas import QuoteOut


def render_quote(quote: QuoteOut, account_name: str) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, title=f"Quote {quote.number} rev {quote.revision}")
    styles = getSampleStyleSheet()
    story = [Paragraph(f"Quote {quote.number} (revision {quote.revision})", styles["Title"]),
             Paragraph(f"For: {account_name}", styles["Normal"]),
             Paragraph(f"Valid until: {quote.valid_until.isoformat()}", styles["Normal"]),
             Paragraph(f"Status: {quote.status.replace('_', ' ')}", styles["Normal"]), Spacer(1, 12)]
    rows = [["#", "SKU", "Item", "Qty", "List price", "Discount", "Unit price", "Total"]]
    for ln in quote.lines:
        rows.append([str(ln.line), ln.sku, Paragraph(ln.name, styles["BodyText"]), str(ln.quantity), ln.list_price,
                     f"{ln.discount_percent}%", ln.unit_price, ln.total])
    rows.append(["", "", "", "", "", "", "Total", f"{quote.total.amount} {quote.total.currency}"])
    table = Table(rows, colWidths=[20, 70, 150, 35, 60, 50, 60, 75], repeatRows=1)
    table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
                               ("GRID", (0, 0), (-1, -2), 0.25, colors.grey),
                               ("ALIGN", (3, 1), (-1, -1), "RIGHT"), ("FONTSIZE", (0, 0), (-1, -1), 8),
                               ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold")]))
    story.append(table)
    doc.build(story)
    return buf.getvalue()

"""The quote as a PDF, drawn with reportlab: pure Python (no system libraries such as Pango or
Cairo that WeasyPrint needs), so `pip install` is enough on every machine Merx runs on. Text is
set in DejaVu Sans, the TrueType font matplotlib (a Merx dependency) ships: reportlab's built-in
Helvetica has no glyphs for names such as "Gdańsk", "Brașov" or Cyrillic."""

from __future__ import annotations

import functools
import io
import os

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from merx.sales.schemas import QuoteOut


@functools.lru_cache(maxsize=1)
def _fonts() -> tuple[str, str]:
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    pdfmetrics.registerFont(TTFont("DejaVuSans", os.path.join(folder, "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", os.path.join(folder, "DejaVuSans-Bold.ttf")))
    return "DejaVuSans", "DejaVuSans-Bold"


def render_quote(quote: QuoteOut, account_name: str) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, title=f"Quote {quote.number} rev {quote.revision}")
    regular, bold = _fonts()
    styles = getSampleStyleSheet()
    for name in ("Title", "Normal", "BodyText"):
        styles[name].fontName = bold if name == "Title" else regular
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
                               ("FONTNAME", (0, 0), (-1, -1), regular), ("FONTNAME", (0, -1), (-1, -1), bold)]))
    story.append(table)
    doc.build(story)
    return buf.getvalue()

"""What the demo walk (tests/web/test_demo_walk*.py) checks on a page: it opens cleanly (no
error status, no error box, no broken promise in its text) and, on a report or list page, it is
not empty where the demo has data. A page is "empty" when one of these shows:

- a table whose tbody has no rows, or only an empty-state row (one cell spanning the columns,
  or a cell marked `.muted` with a colspan), e.g. "No targets for 2026-11.";
- a chart (`canvas[data-chart]`, the Chart.js spec web.js draws) whose datasets hold no point
  other than null or 0;
- a leaf element whose text is an empty state: "No ...", "None yet", "Nothing ...".

Each finding is a short marker string ("table <caption>: <empty row>", "chart <label>",
"text <sentence>") so that a page's accepted, truthful empty states can be listed by name."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import shot

BROKEN_PROMISES = ("not available yet", "coming soon", "Traceback", "Internal Server Error")

EMPTY_MARKERS_JS = r"""() => {
  const main = document.querySelector('main') || document.body;
  const markers = [];
  const title = el => {
    const cap = el.querySelector('caption');
    if (cap) return cap.innerText.trim();
    if (el.id) return el.id;
    const sec = el.closest('section, .card');
    const h = sec && sec.querySelector('h2, h3');
    return h ? h.innerText.trim() : '';
  };
  const isEmptyRow = r => (r.cells.length === 1 && r.cells[0].colSpan > 1) || !!r.querySelector('td.muted[colspan]');
  for (const t of main.querySelectorAll('table')) {
    if (t.closest('form') && !t.querySelector('tbody tr')) continue;  // an input grid, not a report
    const rows = [...t.querySelectorAll('tbody tr')];
    if (!rows.some(r => !isEmptyRow(r))) {
      const why = rows.length ? rows[0].innerText.trim() : 'no rows';
      markers.push(`table ${title(t)}: ${why}`.slice(0, 160));
    }
  }
  for (const c of main.querySelectorAll('canvas[data-chart]')) {
    let spec = {};
    try { spec = JSON.parse(c.dataset.chart); } catch (e) { markers.push(`chart ${c.getAttribute('aria-label')}: bad spec`); continue; }
    const sets = (spec.data && spec.data.datasets) || [];
    const value = v => (v !== null && typeof v === 'object') ? (v.y ?? v.r ?? v.x ?? null) : v;
    const points = sets.reduce((n, d) => n + (d.data || []).filter(v => { const x = value(v); return x !== null && x !== 0 && x !== '0'; }).length, 0);
    if (points === 0) markers.push(`chart ${c.getAttribute('aria-label') || ''}`);
  }
  for (const el of main.querySelectorAll('p, li, td, span, div')) {
    if (el.children.length) continue;
    const text = el.innerText.trim();
    if (/^(No |None yet|Nothing )/.test(text) && !el.closest('table')) markers.push(`text ${text}`.slice(0, 160));
  }
  return markers;
}"""


def empty_markers(page: Any) -> list[str]:
    return list(dict.fromkeys(page.evaluate(EMPTY_MARKERS_JS)))


def shot_name(path: str) -> str:
    return re.sub(r"\W+", "-", path.strip("/")).strip("-") or "dashboard"


def visit(page: Any, path: str, name: str) -> Any:
    """Open `path`, wait for its scripts and requests, and fail on an error page; screenshot."""
    response = page.goto(path)
    assert response is not None and response.status < 400, (path, response and response.status)
    page.wait_for_load_state("networkidle")
    body = page.locator("body").inner_text()
    for phrase in BROKEN_PROMISES:
        assert phrase.lower() not in body.lower(), (path, phrase)
    assert page.locator(".error-box").count() == 0, (path, page.locator(".error-box").first.inner_text())
    shot(page, f"demo-walk-{name}")
    return response


def sign_in(page: Any, login_path: str, email: str, password: str, *, form: str = "form") -> None:
    """Through the page's own form; the password check is scrypt (slow on purpose) and the
    landing page renders its figures first, so the navigation may take long on a busy machine."""
    page.goto(login_path)
    page.fill(f"{form} input[name=email]", email)
    page.fill(f"{form} input[name=password]", password)
    with page.expect_navigation(wait_until="domcontentloaded", timeout=120_000):
        page.click(f"{form} button[type=submit]")
    assert "login" not in page.url and "sign-in" not in page.url, page.locator("main").inner_text()[:500]

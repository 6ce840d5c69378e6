"""The console's marketing pages in Chromium: the campaign report draws its chart, the QR
codes show as images, the journey view and the message log render, no script errors."""

from __future__ import annotations

import random


class _Progress:
    def add_task(self, *a, **k):  # type: ignore[no-untyped-def]
        return 0

    def advance(self, *a, **k):  # type: ignore[no-untyped-def]
        pass


def test_marketing_console_in_a_browser(page, served_shop, live_server, login, screenshot):
    from merx.marketing import demo

    demo.seed(live_server.db, random.Random(3), _Progress())
    login(page, served_shop.users["admin"])
    page.goto("/console/marketing")
    assert "Autumn collection" in page.locator("#campaign-report").inner_text()
    page.wait_for_function("[...document.querySelectorAll('canvas[data-chart]')]"
                           ".every(c => c.getAttribute('data-chart-ready') === '1')")
    bars = page.evaluate("Chart.getChart(document.querySelector('canvas[data-chart]')).data.labels.length")
    # one bar per campaign of the demo (the report table's rows): email, A/B and in-app
    assert bars == page.locator("#campaign-report tbody tr").count() >= 3
    screenshot(page, "console-marketing")
    page.goto("/console/marketing/qr-codes")
    page.wait_for_function("[...document.querySelectorAll('#qr-codes img')].every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator("#qr-codes img").count() == 3
    screenshot(page, "console-marketing-qr")
    page.goto("/console/marketing/journeys")
    assert "Abandoned cart" in page.locator("#journeys").inner_text()
    page.goto("/console/marketing/messages")
    assert page.locator("#messages tbody tr").count() >= 1
    page.goto("/console/marketing/templates?key=shipped&locale=de")
    assert "unterwegs" in page.locator("main").inner_text()
    assert page.errors == [], page.errors

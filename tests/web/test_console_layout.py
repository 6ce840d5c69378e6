"""Console layout in a real browser at common desktop widths (#20 defect 8: the product
editor's price column was clipped at 1280, 1440 and 1920 px)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("width", [1280, 1440, 1920])
def test_product_editor_price_inputs_are_inside_their_card(page, served_shop, login, width) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    login(page, served_shop.users["admin"])
    page.goto(f"/console/catalog/{served_shop.product_ids['LAMP-DESK']}")
    card = page.locator("section[aria-labelledby=h-variants]")
    box = card.bounding_box()
    inputs = card.locator("input[name^=price_]")
    assert inputs.count() >= 2
    for i in range(inputs.count()):
        field = inputs.nth(i).bounding_box()
        assert field is not None and field["width"] >= 40
        assert box["x"] <= field["x"] and field["x"] + field["width"] <= box["x"] + box["width"], (width, i)
    assert list(page.errors) == []

"""The demo's product pictures (#20 Build 1): real images drawn with Pillow in the product's
colour, served from /media/demo/ and shown on cards and product pages."""

from __future__ import annotations

import io

from PIL import Image

from merx.demo_media import COLOR_RGB, picture_url


def test_a_demo_picture_is_a_jpeg_in_the_products_colour(client) -> None:
    r = client.get(picture_url("Desk Lamp", "red"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(r.content)).convert("RGB")
    assert img.size == (360, 360)
    centre = img.getpixel((180, 160))
    assert all(abs(a - b) < 40 for a, b in zip(centre, COLOR_RGB["red"])), centre
    again = client.get(picture_url("Desk Lamp", "red"))  # the second time it comes from the cache
    assert again.content == r.content


def test_names_that_are_not_demo_pictures_are_404_and_write_nothing(client, settings) -> None:
    for name in ("../secret_key", "lamp-purple.jpg", "lamp-red.png", "a..b-red.jpg", "-red.jpg"):
        assert client.get(f"/media/demo/{name}").status_code == 404, name
    media = settings.data_dir / "media" / "demo"
    assert not media.exists() or not any(p.name.startswith(("lamp-purple", "a..b")) for p in media.iterdir())


def test_cards_and_product_page_show_the_picture(client, shop, db) -> None:
    from merx.catalog import public as catalog
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork

    pid = shop.product_ids["LAMP-DESK"]
    with UnitOfWork(db, actor=SYSTEM) as uow:
        catalog.update_product(uow, pid, catalog.ProductPatch(media=[picture_url("Desk Lamp", "black")]))
    url = picture_url("Desk Lamp", "black")
    assert f'<img class="thumb" src="{url}"' in client.get(f"/product/{pid}").text
    assert f'src="{url}"' in client.get("/").text

"""Mounts the web pages at the site root: the storefront at `/`, the console at
`/console`, their assets at `/assets/...` (the CRM context serves `/static/merx.js`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response

from merx.web.auth.session import session_present, session_reader
from merx.web.auth.shopper import shopper_present, shopper_reader
from merx.web.common import HERE, PageRoute
from merx.web.views import account  # the storefront's shopper account pages
from merx.web.views import costs_pricing  # noqa: I001  (costs & margins, competitor prices: issue 15)
from merx.web.views import connectors, marketplace_sellers  # noqa: I001  (issue 20: sellers, connector runs)
from merx.web.views import console_operations  # noqa: I001  (issue 20 build 2: promotion, audit log, dead letters...)
# issue 20 (part B): customer edit and data rights, loyalty, segments, stock, taxes and shipping, catalog
# reference data, campaigns, an order placed for a customer
from merx.web.views import catalog_reference, customers_manage, marketing_campaigns  # noqa: I001
from merx.web.views import orders_new, stock_settings, taxes_shipping  # noqa: I001
from merx.web.views import (analytics, associate, auth, brands, catalog, customers, dashboard, instore_console,
                            integration, inventory, jobs, kiosk, marketing, orders, payments, sales, search_console,
                            sellers, shop_settings, store, support, support_setup)

PREFIX = ""  # pages live at the root, not under /api/v1

router = APIRouter(include_in_schema=False, route_class=PageRoute)
STATIC_DIR = (HERE / "static").resolve()
_ASSET_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png",
                ".md": "text/plain", ".txt": "text/plain"}


@router.get("/assets/{asset_path:path}")
def asset(asset_path: str) -> Response:
    path = (STATIC_DIR / asset_path).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file() or path.suffix not in _ASSET_TYPES:
        return Response("Not found", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type=_ASSET_TYPES[path.suffix], headers={"Cache-Control": "public, max-age=3600"})


for _module in (auth, dashboard, catalog, brands, inventory, orders, customers, search_console, analytics, integration, jobs,
                sellers, shop_settings, marketing, support, sales, payments, store, associate, kiosk,
                instore_console, account, costs_pricing, support_setup, marketplace_sellers, connectors, customers_manage,
                stock_settings, taxes_shipping, catalog_reference, marketing_campaigns,
                orders_new):
    router.include_router(_module.router)
for _router in console_operations.ROUTERS:
    router.include_router(_router)


def configure_app(app: FastAPI) -> None:
    """Called by the composition root: lets the API resolve the console's signed-in user."""
    app.state.session_reader = session_reader
    app.state.session_present = session_present
    # the storefront shopper's cookie, for the API routes a shopper's browser calls (chat)
    app.state.shopper_reader = shopper_reader
    app.state.shopper_present = shopper_present


@router.get("/media/demo/{name}")
def demo_picture(request: Request, name: str) -> Response:
    """The demo shop's product pictures (merx.demo_media), drawn once and then served from
    the data directory."""
    from merx.demo_media import picture_file

    path = picture_file(Path(request.app.state.settings.data_dir) / "media", name)
    if path is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})

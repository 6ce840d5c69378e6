"""The console pages of issue #20 build 2 ("a console that manages everything the API does"),
one module each; `web/api.py` mounts them through this list."""

from __future__ import annotations

from merx.web.views import (audit_log, connector_edit, connector_new, dead_letters, deal_page, location_edit,
                            promotion_new, promotion_page, user_manage, user_roles, webhook_deliveries,
                            webhook_edit)

ROUTERS = [promotion_page.router, audit_log.router, dead_letters.router, user_roles.router, webhook_edit.router,
           deal_page.router, location_edit.router, connector_edit.router, user_manage.router,
           promotion_new.router, connector_new.router, webhook_deliveries.router]

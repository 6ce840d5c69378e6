from __future__ import annotations

import pytest
from payment_shop import PROVIDERS, PayShop


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"payment_providers": PROVIDERS})


@pytest.fixture
def shop(client, admin, db) -> PayShop:  # type: ignore[no-untyped-def]
    return PayShop(client, admin, db)

"""Catalog test fixtures: reference data created through the API, sellers through the
marketplace service (the catalog reads sellers only through that service)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("MERX_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def shared_data_file(name: str) -> Path:
    """Same rule as the root conftest: skip when missing, fail when MERX_REQUIRE_SERVICES=1."""
    path = SHARED_DATA / name
    if not path.exists():
        if os.environ.get("MERX_REQUIRE_SERVICES") == "1":
            pytest.fail(f"shared data set {path} is missing", pytrace=False)
        pytest.skip(f"shared data set {path} is missing")
    return path


@pytest.fixture
def online_retail_path() -> Path:
    return shared_data_file("online_retail_ii_2009_2010.parquet")


@pytest.fixture
def sellers(db):  # type: ignore[no-untyped-def]
    """Two marketplace sellers: their ids."""
    from merx.core.uow import UnitOfWork
    from merx.marketplace import service as marketplace

    ids = []
    for code in ("north", "south"):
        with UnitOfWork(db) as uow:
            ids.append(marketplace.create_seller(uow, code=code, name=code.title()).id)
    return ids


@pytest.fixture
def catalog_ref(client, admin):  # type: ignore[no-untyped-def]
    """Attributes, an attribute set on a parent category (inherited by its child) and a brand."""
    def post(path, body):  # type: ignore[no-untyped-def]
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 201, r.text
        return r.json()

    post("/api/v1/attributes", {"code": "color", "name": "Colour", "type": "enum", "options": ["red", "blue"]})
    post("/api/v1/attributes", {"code": "material", "name": "Material", "type": "text", "localizable": True})
    post("/api/v1/attributes", {"code": "weight", "name": "Weight", "type": "number", "unit": "kg"})
    post("/api/v1/attributes", {"code": "waterproof", "name": "Waterproof", "type": "bool"})
    post("/api/v1/attribute-sets", {"code": "home", "name": "Home", "attributes": [
        {"attribute": "color", "required": True}, {"attribute": "material", "required": True},
        {"attribute": "weight", "required": False}]})
    post("/api/v1/categories", {"code": "home", "name": "Home", "attribute_set": "home",
                                "translations": {"pl": "Dom"}})
    post("/api/v1/categories", {"code": "kitchen", "name": "Kitchen", "parent": "home",
                                "translations": {"pl": "Kuchnia"}})
    post("/api/v1/brands", {"code": "acme", "name": "Acme"})
    return None

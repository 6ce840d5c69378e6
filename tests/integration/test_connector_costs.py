"""ERP costs through an inbound connector (target `costs`): mapped rows land in the catalog's
cost history by SKU with their effective date; bad rows are reported; a re-import of the
same costs changes nothing."""

from __future__ import annotations

import datetime as dt

from catalog_fixtures import catalogue_skus

from merx.catalog import public as catalog
from merx.core.uow import UnitOfWork

ERP_MAPPING = {
    "fields": {
        "sku": {"source": "Material", "required": True, "transform": ["strip", "upper"]},
        "amount": {"source": "StdCost", "type": "decimal", "required": True, "min": 0},
        "currency": {"source": "Curr", "required": True, "transform": ["strip", "upper"]},
        "effective_from": {"source": "ValidFrom", "type": "date"},
    },
    "csv": {"delimiter": ";"},
}

ERP_FILE = ("Material;StdCost;Curr;ValidFrom\n"
            "a-1;4.1250;EUR;2026-01-01\n"   # 4 decimals: the shop keeps cents, rounded half up
            "A-2;12.00;EUR;2026-02-15\n"
            "NOPE-9;1.00;EUR;2026-01-01\n"  # not in the catalog
            "A-3;abc;EUR;2026-01-01\n"      # not a number
            "A-4;3.00;XXY;2026-01-01\n")    # not a currency


def _at(db, sku: str, when: dt.datetime):  # type: ignore[no-untyped-def]
    with UnitOfWork(db, readonly=True) as uow:
        return catalog.cost_at(uow, sku, "EUR", when)


def test_erp_costs_land_in_the_cost_history_with_their_dates(client, admin, db):
    catalogue_skus(db, ["A-1", "A-2", "A-3", "A-4"])
    r = client.post("/api/v1/connectors", headers=admin, json={"code": "erp-costs", "name": "ERP standard costs",
                                                               "target": "costs", "format": "csv",
                                                               "mapping": ERP_MAPPING})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/connectors/erp-costs/imports", headers=admin,
                    files={"file": ("costs.csv", ERP_FILE.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    job = r.json()
    assert (job["rows_created"], job["rows_failed"]) == (2, 3), job
    assert {e["row"]: e["field"] for e in job["errors"]} == {3: "sku", 4: "amount", 5: "currency"}  # data rows, header apart

    jan = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)
    assert str(_at(db, "A-1", jan)) == "4.13"
    assert _at(db, "A-1", dt.datetime(2025, 12, 31, tzinfo=dt.timezone.utc)) is None
    assert _at(db, "A-2", jan) is None and str(_at(db, "A-2", dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc))) == "12.00"
    with UnitOfWork(db, readonly=True) as uow:
        history = catalog.cost_history(uow, catalog.lookup_skus(uow, ["A-1"])["A-1"].product_id)
    assert [(h.source, h.reference) for h in history] == [("erp", "connector erp-costs")]

    # the same file again (forced): nothing new in the history
    r = client.post("/api/v1/connectors/erp-costs/imports?force=true", headers=admin,
                    files={"file": ("costs.csv", ERP_FILE.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    assert (r.json()["rows_created"], r.json()["rows_unchanged"]) == (0, 2)

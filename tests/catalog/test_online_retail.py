"""The UCI Online Retail II import against the real file: counts match the data set's
known facts (README in ../shared/data), and a second run changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


def table_counts(db):
    with db.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                for t in ("catalog_products", "catalog_variants", "catalog_variant_prices", "customers",
                          "outbox_events", "audit_log")}


@pytest.mark.slow
def test_online_retail_import_counts_and_idempotence(db, online_retail_path):
    from merx.catalog import service
    from merx.core.events import MessageBus
    from merx.core.uow import UnitOfWork
    from merx.imports.online_retail import import_online_retail

    # The events go to the outbox (asserted below); other contexts' in-process handlers
    # (search indexing, CRM timelines) are not this test's subject and would dominate its
    # time with 9,000 events, so this unit of work publishes to a bus nobody listens on.
    quiet = MessageBus()
    with UnitOfWork(db, message_bus=quiet) as uow:
        report = import_online_retail(uow, online_retail_path, with_sales_lines=False)
    assert report.lines == 525_461
    assert report.stock_codes == 4_632 and report.products_created == 4_632
    assert report.customers == 4_383 and report.customers_created == 4_383
    # every stock code is a product; the ones that cannot be sold are drafts, each class counted
    drafts = report.drafts_without_description + report.drafts_without_price + report.drafts_non_product_codes
    counts = table_counts(db)
    assert counts["catalog_products"] == counts["catalog_variants"] == 4_632
    assert counts["customers"] == 4_383
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM catalog_products WHERE status='draft'")).scalar() == drafts
        assert conn.execute(sa.text("SELECT count(*) FROM customers WHERE external_ref LIKE 'online-retail:%'")).scalar() == 4_383
        assert conn.execute(sa.text("SELECT count(*) FROM outbox_events WHERE type='product.created'")).scalar() == 4_632

    with UnitOfWork(db, readonly=True) as uow:
        found = service.lookup_skus(uow, ["85123A", "85123a", "POST"])
        # the best-known product of the data set, named by its most frequent description
        assert found["85123A"].name == "WHITE HANGING HEART T-LIGHT HOLDER"
        assert found["85123A"].status == "active" and set(found["85123A"].prices) == {"GBP"}
        assert "85123a" in found and found["85123a"].product_id != found["85123A"].product_id
        assert found["POST"].status == "draft"

    with UnitOfWork(db, message_bus=quiet) as uow:
        again = import_online_retail(uow, online_retail_path, with_sales_lines=False)
    assert (again.products_created, again.products_updated, again.products_unchanged) == (0, 0, 4_632)
    assert (again.customers_created, again.customers_updated, again.customers_unchanged) == (0, 0, 4_383)
    assert table_counts(db) == counts


def test_online_retail_refuses_a_file_that_is_not_the_data_set(db, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from merx.core.errors import ValidationProblem
    from merx.core.uow import UnitOfWork
    from merx.imports.online_retail import import_online_retail

    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"StockCode": ["A"], "Price": [1.0]}), path)
    with UnitOfWork(db) as uow, pytest.raises(ValidationProblem) as err:
        import_online_retail(uow, path)
    assert err.value.errors[0].field == "path"
    assert table_counts(db)["catalog_products"] == 0

"""Bulk product import (what `POST /api/v1/products/import` and `merx products import` run)
against the baseline a user would otherwise pick, creating products one at a time (what
each `POST /api/v1/products` runs: one transaction per product), side by side in one run on
fresh SQLite databases.

    python benchmarks/catalog_import.py                 # 1,000 products
    python benchmarks/catalog_import.py --rows 10000    # larger catalogs

The products are generated with a fixed seed (name, description, two prices, attributes and
a Polish translation). Also timed: importing the same file a second time (every row found
unchanged, nothing written) and exporting the catalog back to CSV. Both sides' resulting
catalogs are compared before the timings are printed.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path


def generate(rows: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    nouns = ["lamp", "mug", "chair", "table", "shelf", "vase", "rug", "clock"]
    out = []
    for i in range(rows):
        noun = rng.choice(nouns)
        eur = rng.randint(199, 49_999)
        out.append({"sku": f"B-{i:06d}", "name": f"{noun.title()} {i}", "description": f"A fine {noun}",
                    "price": f"{eur // 100}.{eur % 100:02d}", "currency": "EUR",
                    "price:PLN": f"{eur * 43 // 1000}.{eur * 43 // 10 % 100:02d}",
                    "attr:color": rng.choice(["red", "blue"]), "attr:weight": str(rng.randint(1, 5000) / 100),
                    "name:pl": f"{noun} {i} (pl)"})
    return out


def to_csv(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def to_json_body(row: dict[str, str]) -> dict:
    return {"sku": row["sku"], "name": row["name"], "description": row["description"],
            "prices": [{"amount": row["price"], "currency": "EUR"}, {"amount": row["price:PLN"], "currency": "PLN"}],
            "attributes": {"color": row["attr:color"], "weight": row["attr:weight"]},
            "translations": {"pl": {"name": row["name:pl"]}}}


def fresh_database(directory: Path):  # type: ignore[no-untyped-def]
    from merx.catalog import service
    from merx.catalog.schemas import AttributeCreate
    from merx.contexts import import_models
    from merx.core import migrate
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork

    import_models()
    db = Database(f"sqlite:///{directory / 'bench.db'}")
    migrate.upgrade(db)
    with UnitOfWork(db) as uow:
        service.create_attribute(uow, AttributeCreate(code="color", name="Colour", type="enum",
                                                      options=["red", "blue"]))
        service.create_attribute(uow, AttributeCreate(code="weight", name="Weight", type="number", unit="kg"))
    return db


def catalog_snapshot(db) -> list[tuple]:  # type: ignore[no-untyped-def]
    from merx.catalog import service
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db, readonly=True) as uow:
        return sorted((d.variants[0]["sku"], d.name, tuple(sorted((c, str(a)) for c, a in d.variants[0]["prices"].items())),
                       tuple(sorted(d.attributes.items())), d.translations["pl"]["name"])
                      for d in service.iter_product_documents(uow))


def main() -> None:
    from merx.catalog import importexport, service
    from merx.catalog.schemas import ProductCreate
    from merx.core.events import MessageBus
    from merx.core.settings import Settings
    from merx.core.uow import UnitOfWork

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    rows = generate(args.rows)
    data = to_csv(rows)
    # Events still go to the outbox in both runs; no in-process subscriber is attached, so
    # the figures are the catalog's own cost (search indexing etc. would add to both sides).
    quiet = MessageBus()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        settings = Settings(data_dir=base / "data", log_level="WARNING")
        (base / "bulk").mkdir()
        (base / "single").mkdir()

        db = fresh_database(base / "bulk")
        t = time.perf_counter()
        with UnitOfWork(db, message_bus=quiet) as uow:
            report = importexport.import_bytes(uow, data, "csv", settings)
        results["merx bulk import (one file)"] = time.perf_counter() - t
        assert report.created == args.rows, report
        t = time.perf_counter()
        with UnitOfWork(db, message_bus=quiet) as uow:
            report = importexport.import_bytes(uow, data, "csv", settings)
        results["merx re-import, all unchanged"] = time.perf_counter() - t
        assert report.unchanged == args.rows, report
        t = time.perf_counter()
        with UnitOfWork(db, readonly=True) as uow:
            importexport.export_bytes(uow, "csv", settings)
        results["merx export to CSV"] = time.perf_counter() - t
        bulk_catalog = catalog_snapshot(db)
        db.dispose()

        db = fresh_database(base / "single")
        bodies = [ProductCreate.model_validate(to_json_body(r)) for r in rows]
        t = time.perf_counter()
        for body in bodies:  # what POST /api/v1/products does per request: one transaction each
            with UnitOfWork(db, message_bus=quiet) as uow:
                service.create_product(uow, body, settings=settings)
        results["baseline: one create_product per product"] = time.perf_counter() - t
        single_catalog = catalog_snapshot(db)
        db.dispose()

    assert bulk_catalog == single_catalog, "the two ways produced different catalogs"
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, "
          "SQLite file database (WAL)")
    print(f"products: {args.rows} (both sides produce the same catalog: checked)")
    for name, seconds in results.items():
        print(f"  {name:<45} {seconds:8.2f} s   {args.rows / seconds:9.0f} products/s")
    ratio = results["baseline: one create_product per product"] / results["merx bulk import (one file)"]
    print(f"bulk import: {ratio:.1f}x the throughput of one transaction per product")


if __name__ == "__main__":
    main()

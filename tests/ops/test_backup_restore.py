"""`merx backup` / `merx restore` round trips on SQLite and PostgreSQL: a shop built through
the API, archived by the real command, restored into a fresh database and data directory,
answers the same catalog, orders, customers and search results through the API. A backup
taken while another thread keeps placing orders holds no half-written order. Restores into
a shop refuse without --force; an archive from a newer schema is refused."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

SEARCH = "/api/v1/search"


def _build_shop(client: Any, admin: dict[str, str]) -> None:
    for code, kind in (("WH-A", "warehouse"),):
        r = client.post("/api/v1/locations", json={"code": code, "name": code, "kind": kind}, headers=admin)
        assert r.status_code == 201, r.text
    assert client.post("/api/v1/categories", json={"code": "mugs", "name": "Mugs"}, headers=admin).status_code == 201
    for sku, name, price in (("MUG-1", "Blue enamel camping mug", "12.50"), ("MUG-2", "Red ceramic coffee mug", "9.90"),
                             ("TEA-1", "Green tea sampler box", "24.00")):
        r = client.post("/api/v1/products", json={"sku": sku, "name": name, "category": "mugs",
                                                  "price": {"amount": price, "currency": "EUR"}}, headers=admin)
        assert r.status_code == 201, r.text
        r = client.post("/api/v1/inventory/adjustments", json={"sku": sku, "location": "WH-A", "delta": 50,
                                                               "reason": "receipt"}, headers=admin)
        assert r.status_code == 200, r.text
    r = client.post("/api/v1/customers", json={"email": "ada@example.com", "first_name": "Ada",
                                               "last_name": "Lovelace"}, headers=admin)
    assert r.status_code == 201, r.text
    for lines in ([("MUG-1", 2)], [("MUG-2", 1), ("TEA-1", 1)]):
        r = client.post("/api/v1/orders", json={
            "channel": "web", "customer": {"email": "ada@example.com"}, "fulfilment": {"type": "ship"},
            "lines": [{"sku": s, "quantity": q} for s, q in lines],
            "payment": {"provider": "test", "behaviour": "succeed"}}, headers=admin)
        assert r.status_code == 201, r.text


def _answers(client: Any, admin: dict[str, str]) -> dict[str, Any]:
    """What a user sees of the shop through the API (volatile parts, like a search's id, left out)."""
    out: dict[str, Any] = {}
    for name, path in (("products", "/api/v1/products"), ("orders", "/api/v1/orders"),
                       ("customers", "/api/v1/customers")):
        r = client.get(path, headers=admin, params={"limit": 100})
        assert r.status_code == 200, r.text
        out[name] = r.json()["items"]
    r = client.get("/api/v1/inventory/stock", params={"sku": "MUG-1"}, headers=admin)
    assert r.status_code == 200, r.text
    out["stock"] = r.json()["items"]
    for q in ("mug", "tea sampler", "coffee"):
        r = client.get(SEARCH, params={"q": q, "lang": "en", "retrieval": "lexical"})
        assert r.status_code == 200, r.text
        body = r.json()
        out[f"search:{q}"] = ([(i["product_id"], i["sku"], i["name"], i.get("price")) for i in body["items"]],
                              body["total"])
    return out


def _cli(args: list[str], env: dict[str, str]) -> Any:
    from merx.cli import app
    from merx.core.settings import reset_settings_cache

    reset_settings_cache()
    try:
        return CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    finally:
        reset_settings_cache()


class _Fresh:
    """An empty target of the same backend: a new SQLite file or a new PostgreSQL database."""

    def __init__(self, backend: str, tmp: Path) -> None:
        from tests.conftest import create_pg_database, pg_url_for

        self.pg_name = None
        if backend == "sqlite":
            self.url = f"sqlite:///{tmp / 'restored' / 'merx.db'}"
        else:
            self.pg_name = create_pg_database("merx_restore")
            self.url = pg_url_for(self.pg_name)
        self.data_dir = tmp / "restored"

    def env(self) -> dict[str, str]:
        return {"MERX_DATABASE_URL": self.url, "MERX_DATA_DIR": str(self.data_dir)}

    def drop(self) -> None:
        from tests.conftest import drop_pg_database

        if self.pg_name:
            drop_pg_database(self.pg_name)


def _client_on(url: str, data_dir: Path) -> Any:
    from fastapi.testclient import TestClient

    from merx.app import create_app
    from merx.core.db import Database
    from merx.core.settings import Settings

    from tests.conftest import TEST_PAYMENT_PROVIDERS

    db = Database(url)
    settings = Settings(data_dir=data_dir, log_json=True, log_level="WARNING", payment_providers=TEST_PAYMENT_PROVIDERS)
    return TestClient(create_app(settings, db), raise_server_exceptions=False), db


@pytest.mark.backends("sqlite", "postgresql")
def test_a_restored_shop_answers_the_same_catalog_orders_and_search(db, client, admin, settings, tmp_path):
    _build_shop(client, admin)
    (settings.data_dir / "media").mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "media" / "mug-1.jpg").write_bytes(b"\xff\xd8 picture bytes")
    before = _answers(client, admin)
    assert len(before["orders"]) == 2 and before["search:mug"][1] >= 2
    assert (settings.data_dir / "search").exists()  # the source has an index: it is rebuilt, not copied

    archive = tmp_path / "shop.tar"
    source_env = {"MERX_DATABASE_URL": db.url, "MERX_DATA_DIR": str(settings.data_dir)}
    r = _cli(["backup", str(archive)], source_env)
    assert r.exit_code == 0, r.output
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["backend"] == db.dialect and manifest["counts"]["orders"] == 2
    assert manifest["counts"]["catalog_products"] == 3 and manifest["counts"]["customers"] >= 1
    assert manifest["schema_heads"] and "files/media/mug-1.jpg" in names
    assert not any(n.startswith("files/search/index") for n in names)  # derived: rebuilt at restore

    fresh = _Fresh(db.dialect, tmp_path)
    try:
        r = _cli(["restore", str(archive)], fresh.env())
        assert r.exit_code == 0, r.output
        assert (fresh.data_dir / "media" / "mug-1.jpg").read_bytes() == b"\xff\xd8 picture bytes"
        restored, restored_db = _client_on(fresh.url, fresh.data_dir)
        with restored:
            after = _answers(restored, admin)  # the API key is in the restored users table
        restored_db.dispose()
        assert after == before

        # the target now holds a shop: a second restore refuses unless --force
        r = _cli(["restore", str(archive)], fresh.env())
        assert r.exit_code == 1 and "not empty" in r.output and "--force" in r.output
        r = _cli(["restore", str(archive), "--force"], fresh.env())
        assert r.exit_code == 0, r.output
        restored, restored_db = _client_on(fresh.url, fresh.data_dir)
        with restored:
            assert _answers(restored, admin) == before
        restored_db.dispose()
    finally:
        fresh.drop()


def test_a_backup_of_a_live_sqlite_shop_holds_no_half_written_order(db, client, admin, settings, tmp_path):
    from merx.core.backup import SQLITE_MEMBER, Target, backup

    r = client.post("/api/v1/locations", json={"code": "WH-A", "name": "A", "kind": "warehouse"}, headers=admin)
    assert r.status_code == 201, r.text
    for i in range(4):
        r = client.post("/api/v1/products", json={"sku": f"LIVE-{i}", "name": f"Live product {i}",
                                                  "price": {"amount": "5.00", "currency": "EUR"}}, headers=admin)
        assert r.status_code == 201, r.text
        r = client.post("/api/v1/inventory/adjustments", json={"sku": f"LIVE-{i}", "location": "WH-A",
                                                               "delta": 100_000, "reason": "receipt"}, headers=admin)
        assert r.status_code == 200, r.text

    stop, placed, failures = threading.Event(), [], []

    def keep_ordering() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            r = client.post("/api/v1/orders", json={
                "channel": "web", "customer": {"email": f"c{n % 7}@example.com"},
                "lines": [{"sku": f"LIVE-{n % 4}", "quantity": 1}, {"sku": f"LIVE-{(n + 1) % 4}", "quantity": 2}],
                "payment": {"provider": "test", "behaviour": "succeed"}})
            (placed if r.status_code == 201 else failures).append(r.status_code)

    writer = threading.Thread(target=keep_ordering, daemon=True)
    writer.start()
    archives = []
    try:
        while len(placed) < 3:  # orders are flowing before the first backup starts
            assert writer.is_alive() and not failures, failures
            threading.Event().wait(0.05)
        for i in range(3):
            path = tmp_path / f"live-{i}.tar"
            backup(Target(db=db, data_dir=settings.data_dir), path)
            archives.append(path)
    finally:
        stop.set()
        writer.join(60)
    assert not failures, failures
    assert len(placed) > 3

    counts = []
    for path in archives:
        copy = tmp_path / (path.stem + ".db")
        with tarfile.open(path) as tar:
            copy.write_bytes(tar.extractfile(SQLITE_MEMBER).read())  # type: ignore[union-attr]
        con = sqlite3.connect(copy)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            orders = dict(con.execute("SELECT id, status FROM orders").fetchall())
            counts.append(len(orders))
            assert "paid" in orders.values()
            for oid, status in orders.items():
                lines = con.execute("SELECT count(*), coalesce(sum(quantity), 0) FROM order_lines WHERE order_id = ?",
                                    (oid,)).fetchone()
                assert lines[0] == 2 and lines[1] == 3, (path, oid, lines)
                pays = con.execute("SELECT count(*) FROM order_payments WHERE order_id = ? AND status = 'succeeded' "
                                   "AND kind = 'capture'",
                                   (oid,)).fetchone()[0]
                # checkout is a saga: the order commits first, its payment in the next transaction
                assert pays == (1 if status == "paid" else 0), (path, oid, status, pays)
                moved = con.execute("SELECT count(*) FROM inventory_movements WHERE reference = ?",
                                    (f"order:{oid}",)).fetchone()[0]
                assert moved >= 2, (path, oid, moved)
            # the outbox holds the order.placed event of exactly the orders the copy holds
            placed_events = con.execute("SELECT count(*) FROM outbox_events WHERE type = 'order.placed'").fetchone()[0]
            assert placed_events == len(orders)
        finally:
            con.close()
    assert counts[0] >= 3 and counts == sorted(counts)


def _rewrite_manifest(src: Path, dst: Path, change: Any) -> None:
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read()  # type: ignore[union-attr]
            if m.name == "manifest.json":
                raw = json.loads(data)
                change(raw)
                data = json.dumps(raw).encode()
                m.size = len(data)
            tout.addfile(m, io.BytesIO(data))


def test_restore_refuses_an_archive_from_a_newer_schema_or_the_other_backend(db, client, admin, settings, tmp_path):
    from merx.core.backup import BackupError, Target, backup, restore
    from merx.core.db import Database

    _build_shop(client, admin)
    archive = tmp_path / "shop.tar"
    backup(Target(db=db, data_dir=settings.data_dir), archive)
    target = Target(db=Database(f"sqlite:///{tmp_path / 'new' / 'merx.db'}"), data_dir=tmp_path / "new")
    try:
        newer = tmp_path / "newer.tar"
        _rewrite_manifest(archive, newer, lambda m: m["schema_heads"].append("catalog_9999"))
        with pytest.raises(BackupError, match="newer schema.*catalog_9999"):
            restore(target, newer)
        other = tmp_path / "other.tar"
        _rewrite_manifest(archive, other, lambda m: m.update(backend="postgresql"))
        with pytest.raises(BackupError, match="postgresql database and the target is sqlite"):
            restore(target, other)
        assert not (tmp_path / "new" / "merx.db").exists() or not sa.inspect(target.db.engine).get_table_names()
        from merx.core import migrate

        migrate.upgrade(target.db)  # a migrated, unused database (tables, bookkeeping rows) counts as empty
        restore(target, archive)  # the untouched archive goes in
        with target.db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM orders")).scalar() == 2
    finally:
        target.db.dispose()


def test_a_generated_secret_key_travels_with_the_sqlite_shop(db, client, admin, settings, tmp_path):
    """On SQLite without MERX_SECRET_KEY the key lives in the data dir: the archive carries it
    (mode 600 on both ends), so what it encrypted still decrypts in the restored shop."""
    import os
    import stat

    from merx.core.backup import Target, backup, fingerprint, restore
    from merx.core.db import Database
    from merx.core.settings import Settings, ensure_secret_key
    from merx.integration.secrets_box import decrypt_secret, encrypt_secret

    source = Settings(data_dir=settings.data_dir, database_url=db.url, secret_key=None)
    ensure_secret_key(source)  # generated into data_dir/secret_key, as a first `merx serve` does
    key = source.secret_key.get_secret_value()  # type: ignore[union-attr]
    token = encrypt_secret("connector-password", secret_key=key)
    archive = tmp_path / "keyed.tar"
    manifest = backup(Target(db=db, data_dir=settings.data_dir, secret_key=key), archive)
    assert manifest.secret_key_included and manifest.secret_key_fingerprint == fingerprint(key)
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600

    target = Target(db=Database(f"sqlite:///{tmp_path / 'new' / 'merx.db'}"), data_dir=tmp_path / "new")
    try:
        restore(target, archive)
    finally:
        target.db.dispose()
    restored = Settings(data_dir=tmp_path / "new", database_url=target.db.url, secret_key=None)
    ensure_secret_key(restored)  # reads the restored file, generates nothing
    assert restored.secret_key.get_secret_value() == key  # type: ignore[union-attr]
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "secret_key").st_mode) == 0o600
    assert decrypt_secret(token, secret_key=restored.secret_key.get_secret_value()) == "connector-password"  # type: ignore[union-attr]

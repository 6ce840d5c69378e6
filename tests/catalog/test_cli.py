"""`merx products export` / `merx products import` on a real SQLite file."""

from __future__ import annotations

import json

from typer.testing import CliRunner


def test_products_cli_export_then_import(tmp_path, monkeypatch):
    from merx.core.settings import reset_settings_cache

    monkeypatch.setenv("MERX_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MERX_DATA_DIR", str(tmp_path / "data"))
    reset_settings_cache()
    try:
        from merx.cli import app

        runner = CliRunner()
        src = tmp_path / "in.csv"
        src.write_text("sku,name,price,currency,status\nCLI-1,Lamp,12.50,EUR,active\nCLI-2,Bad,1.001,EUR,active\n")
        r = runner.invoke(app, ["products", "import", str(src)])
        assert r.exit_code == 1, r.output  # one row failed: a non-zero exit for scripts
        report = json.loads(r.stdout[r.stdout.index("{"):])
        assert report["created"] == 1 and report["errors"][0]["row"] == 3 and report["errors"][0]["field"] == "price"
        out = tmp_path / "out.xlsx"
        r = runner.invoke(app, ["products", "export", str(out)])
        assert r.exit_code == 0, r.output
        r = runner.invoke(app, ["products", "import", str(out)])
        assert r.exit_code == 0, r.output
        report = json.loads(r.stdout[r.stdout.index("{"):])
        assert (report["created"], report["unchanged"], report["failed"]) == (0, 1, 0)
    finally:
        reset_settings_cache()

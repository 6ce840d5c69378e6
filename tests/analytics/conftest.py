"""Fixtures for the analytics tests: Online Retail II imported once per test session through
`merx import online-retail` into its own SQLite database, and an HTTP client over it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("MERX_SHARED_DATA", ROOT.parent / "shared" / "data"))
ONLINE_RETAIL = "online_retail_ii_2009_2010.parquet"


def shared_data(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        if os.environ.get("MERX_REQUIRE_SERVICES") == "1":
            pytest.fail(f"shared data set {path} is missing", pytrace=False)
        pytest.skip(f"shared data set {path} is missing")
    return path


@pytest.fixture(scope="session")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """{"db", "data_dir", "frame" (pandas), "import_output"}: the data set loaded the way a user
    loads it, with the `merx import online-retail` command."""
    import pandas as pd
    from typer.testing import CliRunner

    from merx.cli import app as cli_app
    from merx.contexts import import_models
    from merx.core.db import Database
    from merx.core.settings import reset_settings_cache

    path = shared_data(ONLINE_RETAIL)
    import_models()
    base = tmp_path_factory.mktemp("retail")
    url = f"sqlite:///{base / 'retail.db'}"
    env = {"MERX_DATABASE_URL": url, "MERX_DATA_DIR": str(base / "data"), "MERX_LOG_LEVEL": "WARNING"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_settings_cache()
    try:
        result = CliRunner().invoke(cli_app, ["import", "online-retail", str(path)])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_settings_cache()
    assert result.exit_code == 0, result.output + repr(result.exception)
    db = Database(url)
    frame = pd.read_parquet(path)
    yield {"db": db, "data_dir": base / "data", "frame": frame, "import_output": result.output, "path": path}
    db.dispose()


@pytest.fixture(scope="session")
def retail_app(retail: dict[str, Any]):  # type: ignore[no-untyped-def]
    from merx.app import create_app
    from merx.core.settings import Settings

    settings = Settings(data_dir=retail["data_dir"], log_json=True, log_level="WARNING")
    return create_app(settings, retail["db"])


@pytest.fixture(scope="session")
def retail_client(retail_app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(retail_app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def retail_key(retail: dict[str, Any]) -> Callable[..., dict[str, str]]:
    from merx.core import accounts
    from merx.core.auth import Role
    from merx.core.uow import UnitOfWork

    def make(role: str) -> dict[str, str]:
        with UnitOfWork(retail["db"]) as uow:
            issued = accounts.create_user_with_key(uow, name=f"{role}-{secrets.token_hex(3)}", role=Role(role))
        return {"Authorization": f"Bearer {issued.key}"}

    return make


@pytest.fixture
def data_file() -> Callable[[str], Path]:
    """data_file(name) -> path of a shared data set (skips, or fails under MERX_REQUIRE_SERVICES=1)."""
    return shared_data

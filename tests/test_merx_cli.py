"""The `merx` command as users run it: a subprocess with environment settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MERX = str(Path(sys.executable).parent / "merx")


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "MERX_DATA_DIR": str(tmp_path), "MERX_LOG_LEVEL": "WARNING", **env}
    full_env.pop("MERX_DATABASE_URL", None) if "MERX_DATABASE_URL" not in env else None
    return subprocess.run([MERX, *args], env=full_env, capture_output=True, text=True, timeout=120)


def test_config_masks_secrets(tmp_path):
    done = run(["config"], tmp_path, MERX_SECRET_KEY="very-secret-value",
               MERX_DATABASE_URL="postgresql://merx:hunter2@db.local/merx")
    assert done.returncode == 0, done.stderr
    cfg = json.loads(done.stdout)
    assert "very-secret-value" not in done.stdout and "hunter2" not in done.stdout
    assert cfg["secret_key"] == "********"
    assert cfg["database_url"].startswith("postgresql://merx:***@db.local")


def test_db_upgrade_then_apikey_create_prints_the_key_last(tmp_path):
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    current = json.loads(run(["db", "current"], tmp_path).stdout)
    assert current["current"] == current["latest"]
    done = run(["apikey", "create", "--role", "staff", "--name", "erp-sync"], tmp_path)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("mx_") and " " not in key

    from fastapi.testclient import TestClient

    from merx.app import create_app
    from merx.core.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, log_level="WARNING"))
    with TestClient(app) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
    app.state.db.dispose()
    assert me["role"] == "staff" and me["name"] == "erp-sync"


def test_apikey_create_rejects_unknown_role(tmp_path):
    done = run(["apikey", "create", "--role", "overlord", "--name", "x"], tmp_path)
    assert done.returncode != 0
    assert "overlord" in done.stderr

"""The secret key (issue 23, finding 1): never a built-in default; generated on a SQLite
install, refused on PostgreSQL when unset; old keys accepted for a stated period only."""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from merx.core import accounts
from merx.core.auth import Role
from merx.core.settings import SecretKeyMissing, Settings, ensure_secret_key, reset_settings_cache
from merx.core.uow import UnitOfWork

MERX = str(Path(sys.executable).parent / "merx")
PASSWORD = "correct horse battery"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def no_env_key(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("MERX_SECRET_KEY", raising=False)


def test_a_sqlite_install_generates_a_private_key_once_and_says_so(no_env_key, tmp_path, capsys):
    settings = Settings(data_dir=tmp_path / "data")
    ensure_secret_key(settings)
    key_file = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = settings.secret_key.get_secret_value()
    assert len(key) >= 48 and key == key_file.read_text().strip()
    assert str(key_file.resolve()) in capsys.readouterr().err
    again = Settings(data_dir=tmp_path / "data")
    ensure_secret_key(again)  # the next start reads the same key, silently
    assert again.secret_key.get_secret_value() == key
    assert capsys.readouterr().err == ""
    other = Settings(data_dir=tmp_path / "other")
    ensure_secret_key(other)
    assert other.secret_key.get_secret_value() != key


def test_postgresql_without_a_key_refuses_to_start(no_env_key, tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=PG_URL)
    with pytest.raises(SecretKeyMissing, match="MERX_SECRET_KEY"):
        ensure_secret_key(settings)
    assert not (tmp_path / "secret_key").exists()
    env = {k: v for k, v in os.environ.items() if k != "MERX_SECRET_KEY"}
    done = subprocess.run([MERX, "serve", "--no-migrate", "--port", "1"], capture_output=True, text=True, timeout=60,
                          env=env | {"MERX_DATABASE_URL": PG_URL, "MERX_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "MERX_SECRET_KEY is not set" in done.stderr


def test_config_masks_the_key_and_its_fallbacks(tmp_path):
    env = os.environ | {"MERX_DATA_DIR": str(tmp_path), "MERX_SECRET_KEY": "current-secret-value",
                        "MERX_SECRET_KEY_FALLBACKS": "old-secret-one,old-secret-two",
                        "MERX_SECRET_KEY_FALLBACKS_UNTIL": "2030-01-01T00:00:00Z"}
    done = subprocess.run([MERX, "config"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "current-secret-value" not in done.stdout and "old-secret" not in done.stdout
    assert '"secret_key_fallbacks": [\n    "********",\n    "********"\n  ]' in done.stdout


def test_fallback_keys_need_an_end_date():
    with pytest.raises(ValueError, match="MERX_SECRET_KEY_FALLBACKS_UNTIL"):
        Settings(secret_key="new", secret_key_fallbacks="old")


def _rotated(tmp_path: Path, until: dt.datetime) -> Settings:
    return Settings(data_dir=tmp_path, log_level="WARNING", secret_key="new-key",
                    secret_key_fallbacks="old-key", secret_key_fallbacks_until=until)


def _signed_in_cookie(client: TestClient) -> str:
    page = client.get("/console/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/console/login", data={"email": "staff@shop.test", "password": PASSWORD, "csrf_token": token},
                follow_redirects=False)
    return client.cookies.get("merx_session")


def test_session_cookies_signed_with_the_old_key_work_until_the_stated_end(db, tmp_path):
    from merx.app import create_app

    with UnitOfWork(db) as uow:
        accounts.create_user(uow, name="staff", role=Role.staff, email="staff@shop.test", password=PASSWORD)
        uow.commit()
    old_app = create_app(Settings(data_dir=tmp_path, log_level="WARNING", secret_key="old-key"), db)
    with TestClient(old_app) as old:
        cookie = _signed_in_cookie(old)
    assert cookie

    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    with TestClient(create_app(_rotated(tmp_path, future), db)) as rotating:
        rotating.cookies.set("merx_session", cookie)
        assert rotating.get("/console", follow_redirects=False).status_code == 200
        signed_during_rotation = _signed_in_cookie(TestClient(rotating.app))
    with TestClient(create_app(_rotated(tmp_path, past), db)) as after_the_period:
        after_the_period.cookies.set("merx_session", cookie)
        assert after_the_period.get("/console", follow_redirects=False).status_code == 303
    with TestClient(create_app(Settings(data_dir=tmp_path, log_level="WARNING", secret_key="new-key"), db)) as new:
        new.cookies.set("merx_session", cookie)
        assert new.get("/console", follow_redirects=False).status_code == 303
        # New cookies were signed with the new key all along.
        new.cookies.set("merx_session", signed_during_rotation)
        assert new.get("/console", follow_redirects=False).status_code == 200


def test_webhook_secrets_stored_under_the_old_key_decrypt_during_the_period_and_move_to_the_new_key(tmp_path):
    from merx.integration.secrets_box import decrypt_secret, encrypt_secret, reencrypt_secret

    stored = encrypt_secret("whsec_c2VjcmV0LXZhbHVlLWZvci13ZWJob29rcw==", secret_key="old-key")
    during = _rotated(tmp_path, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
    assert decrypt_secret(stored, during) == "whsec_c2VjcmV0LXZhbHVlLWZvci13ZWJob29rcw=="
    moved = reencrypt_secret(stored, during)
    assert decrypt_secret(moved, secret_key="new-key") == "whsec_c2VjcmV0LXZhbHVlLWZvci13ZWJob29rcw=="
    # New encryptions use the current key only.
    assert decrypt_secret(encrypt_secret("x", during), secret_key="new-key") == "x"
    with pytest.raises(RuntimeError):
        decrypt_secret(encrypt_secret("x", during), secret_key="old-key")

    after = _rotated(tmp_path, dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    with pytest.raises(RuntimeError, match="cannot be decrypted"):
        decrypt_secret(stored, after)
    assert decrypt_secret(moved, after) == "whsec_c2VjcmV0LXZhbHVlLWZvci13ZWJob29rcw=="


def test_merx_webhooks_reencrypt_moves_stored_secrets_to_the_new_key(db, admin, tmp_path):
    import sqlalchemy as sa

    from merx.app import create_app
    from merx.integration.models import WebhookEndpoint
    from merx.integration.secrets_box import decrypt_secret, reencrypt_webhook_secrets

    old = Settings(data_dir=tmp_path, log_level="WARNING", secret_key="old-key")
    with TestClient(create_app(old, db)) as client:
        created = client.post("/api/v1/webhooks", json={"url": "https://hooks.example/merx"}, headers=admin)
    assert created.status_code == 201, created.text
    create_app(_rotated(tmp_path, dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)), db)  # served with the new key
    with UnitOfWork(db) as uow:
        assert reencrypt_webhook_secrets(uow) == 1
    with UnitOfWork(db) as uow:
        assert reencrypt_webhook_secrets(uow) == 0  # already under the new key
    with db.read_sessions() as s:
        stored = s.scalar(sa.select(WebhookEndpoint.secret_encrypted))
    assert decrypt_secret(stored, secret_key="new-key") == created.json()["secret"]

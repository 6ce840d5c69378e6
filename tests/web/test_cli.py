"""`merx user create`: a console login with a hashed password."""

from __future__ import annotations

import sqlalchemy as sa


def test_user_create_makes_a_console_login_with_a_hashed_password(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from merx.cli import app
    from merx.core.auth import verify_password
    from merx.core.settings import reset_settings_cache

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MERX_DATABASE_URL", url)
    reset_settings_cache()
    try:
        runner = CliRunner()
        ok = runner.invoke(app, ["user", "create", "--email", "Ops@Example.com", "--password", "long enough pw",
                                 "--role", "staff", "--name", "Ops"])
        assert ok.exit_code == 0, ok.output
        again = runner.invoke(app, ["user", "create", "--email", "ops@example.com", "--password", "another one!",
                                    "--role", "admin"])
        assert again.exit_code == 1 and "exists" in again.output
        short = runner.invoke(app, ["user", "create", "--email", "x@example.com", "--password", "short",
                                    "--role", "staff"])
        assert short.exit_code == 2 and "8 characters" in short.output
    finally:
        reset_settings_cache()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT email, role, password_hash FROM users")).all()
    engine.dispose()
    assert [(r.email, r.role) for r in rows] == [("ops@example.com", "staff")]
    assert "long enough pw" not in rows[0].password_hash
    assert verify_password("long enough pw", rows[0].password_hash)

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


def test_user_set_password_signs_the_user_out_everywhere(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from merx.cli import app
    from merx.core import sessions
    from merx.core.auth import verify_password
    from merx.core.db import Database
    from merx.core.models import User
    from merx.core.settings import reset_settings_cache

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MERX_DATABASE_URL", url)
    reset_settings_cache()
    db = None
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["user", "create", "--email", "ops@example.com", "--password", "first password",
                                   "--role", "staff"]).exit_code == 0
        db = Database(url)
        with db.read_sessions() as s:
            user_id = s.scalar(sa.select(User.id))
        token = sessions.start_session(db, user_id, lifetime=sessions.dt.timedelta(hours=1))
        assert sessions.session_user(db, token, idle=sessions.dt.timedelta(hours=1)) == user_id
        done = runner.invoke(app, ["user", "set-password", "--email", "OPS@example.com", "--password", "second password"])
        assert done.exit_code == 0, done.output
        assert "1 session(s) signed out" in done.output
        assert sessions.session_user(db, token, idle=sessions.dt.timedelta(hours=1)) is None
        with db.read_sessions() as s:
            assert verify_password("second password", s.scalar(sa.select(User.password_hash)))
        unknown = runner.invoke(app, ["user", "set-password", "--email", "who@example.com", "--password", "x" * 10])
        assert unknown.exit_code == 1 and "who@example.com" in unknown.output
    finally:
        if db is not None:
            db.dispose()
        reset_settings_cache()

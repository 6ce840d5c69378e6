"""Console sign-ins kept on the server, and the per-account lockout after failed sign-ins.

A session is a row in `user_sessions`: the cookie (signed by web/auth/session.py) carries a
random token whose SHA-256 is the row's key. Signing out, changing the password or passing
the lifetime or the idle timeout ends it, so a copied cookie stops working at once.

Failed sign-ins are counted per account name in `login_throttle` (in the database, so every
worker and replica sees the same count). After `login_lockout_after` failures in a row the
account is locked for one minute, doubling with each further failure up to
`login_lockout_max_minutes`; a success clears the count. Unknown emails are counted the same
way, so the lockout tells an attacker nothing about which accounts exist."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from merx.core.db import Database, utcnow
from merx.core.models import LoginThrottle, User, UserSession

# last_seen_at is written at most this often per session: the idle timeout is measured in
# minutes, and a write on every page view would turn each read into a write transaction.
LAST_SEEN_RESOLUTION = dt.timedelta(seconds=60)
FIRST_LOCKOUT = dt.timedelta(minutes=1)
# Failures further apart than this start the count afresh (a typo a month ago does not count).
FAILURE_MEMORY = dt.timedelta(hours=24)


def token_hash(token: str) -> str:
    # The token is 256 random bits: a fast hash is enough and lets the lookup use the index.
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Database, user_id: int, *, lifetime: dt.timedelta) -> str:
    """A new session for `user_id`; returns the raw token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.write_sessions() as s:
        # The user's ended sessions are dropped here: a row is only needed while it is live
        # (without a row, a cookie signs nobody in), so the table stays one row per sign-in.
        s.execute(sa.delete(UserSession).where(UserSession.user_id == user_id,
                                               sa.or_(UserSession.revoked_at.is_not(None),
                                                      UserSession.expires_at <= now)))
        s.add(UserSession(token_hash=token_hash(token), user_id=user_id, created_at=now, last_seen_at=now,
                          expires_at=now + lifetime))
        s.commit()
    return token


def session_user(db: Database, token: str, *, idle: dt.timedelta) -> int | None:
    """The user signed in by `token`, or None when the session is unknown, ended, expired,
    idle too long or its user deactivated. Notes the visit for the idle timeout."""
    now = utcnow()
    with db.read_sessions() as s:
        row = s.execute(
            sa.select(UserSession.id, UserSession.user_id, UserSession.last_seen_at, UserSession.expires_at)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == token_hash(token), UserSession.revoked_at.is_(None),
                   User.active.is_(True))
        ).first()
    if row is None or row.expires_at <= now or row.last_seen_at + idle <= now:
        return None
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        with db.write_sessions() as s:
            s.execute(sa.update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
            s.commit()
    return row.user_id


def end_session(db: Database, token: str) -> None:
    with db.write_sessions() as s:
        s.execute(sa.update(UserSession).where(UserSession.token_hash == token_hash(token),
                                               UserSession.revoked_at.is_(None)).values(revoked_at=utcnow()))
        s.commit()


def end_user_sessions(session: Session, user_id: int) -> int:
    """End every session of `user_id` inside the caller's transaction (a password change)."""
    result = session.execute(sa.update(UserSession).where(UserSession.user_id == user_id,
                                                          UserSession.revoked_at.is_(None))
                             .values(revoked_at=utcnow()))
    return result.rowcount or 0


# --------------------------------------------------------------------------------------------
# Lockout
# --------------------------------------------------------------------------------------------


def account_hash(email: str) -> str:
    return hashlib.sha256(b"merx.login\x00" + email.strip().lower().encode()).hexdigest()


@dataclass(frozen=True)
class Lockout:
    until: dt.datetime

    def retry_after_seconds(self, now: dt.datetime | None = None) -> int:
        return max(1, int((self.until - (now or utcnow())).total_seconds() + 0.999))


def current_lockout(db: Database, email: str) -> Lockout | None:
    with db.read_sessions() as s:
        until = s.scalar(sa.select(LoginThrottle.locked_until).where(LoginThrottle.account_hash == account_hash(email)))
    return Lockout(until) if until is not None and until > utcnow() else None


def lockout_length(failures: int, *, after: int, longest: dt.timedelta) -> dt.timedelta | None:
    """None below the threshold; then 1 minute at the threshold, doubling per further failure."""
    if failures < after:
        return None
    steps = min(failures - after, 32)  # 2**32 minutes is already past any sane cap
    return min(FIRST_LOCKOUT * (2 ** steps), longest)


def record_failure(db: Database, email: str, *, after: int, longest: dt.timedelta) -> Lockout | None:
    """Count one failed sign-in for `email`; the lockout it starts, if any. The count is one
    conditional UPDATE (atomic on both backends, so parallel guesses are all counted); the
    first failure inserts the row, and a racing insert falls back to the UPDATE."""
    key = account_hash(email)
    now = utcnow()
    for _ in range(2):
        with db.write_sessions() as s:
            recent = LoginThrottle.last_failure_at > now - FAILURE_MEMORY
            failures = s.scalar(sa.update(LoginThrottle).where(LoginThrottle.account_hash == key)
                                .values(failures=sa.case((recent, LoginThrottle.failures + 1), else_=1),
                                        last_failure_at=now)
                                .returning(LoginThrottle.failures))
            length = lockout_length(failures or 1, after=after, longest=longest)
            locked_until = now + length if length is not None else None
            if failures is None:
                s.add(LoginThrottle(account_hash=key, failures=1, last_failure_at=now, locked_until=locked_until))
            elif locked_until is not None:
                s.execute(sa.update(LoginThrottle).where(LoginThrottle.account_hash == key)
                          .values(locked_until=locked_until))
            try:
                s.commit()
            except IntegrityError:  # another worker inserted the first failure: count on its row
                s.rollback()
                continue
            return Lockout(locked_until) if locked_until is not None else None
    return None


def clear_failures(db: Database, email: str) -> None:
    """A successful sign-in: forget this account's failures, and every other account's that
    are past remembering and not locked (guessed emails would otherwise pile up)."""
    now = utcnow()
    with db.write_sessions() as s:
        s.execute(sa.delete(LoginThrottle).where(sa.or_(
            LoginThrottle.account_hash == account_hash(email),
            sa.and_(LoginThrottle.last_failure_at <= now - FAILURE_MEMORY,
                    sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now)))))
        s.commit()

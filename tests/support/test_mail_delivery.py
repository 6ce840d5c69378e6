"""Delivery of queued support mail: a reply written while the mail server is down stays
queued (nothing lost), goes out once the server is back with the Message-ID it was given
when written, and is never sent twice; a claim left by a crashed sender is taken over after
its lease."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from mail_server import free_port
from merx.core.auth import SYSTEM
from merx.core.settings import Settings
from merx.core.uow import UnitOfWork
from merx.support import mailout
from merx.support.models import OutgoingMail
from merx.support.schemas import TicketCreate
from merx.support.service import open_ticket, reply


def _settings(tmp_path, url):  # type: ignore[no-untyped-def]
    return Settings(data_dir=tmp_path, smtp_url=url, mail_from="Shop <help@shop.test>", mail_domain="shop.test")


def _row(db) -> OutgoingMail:  # type: ignore[no-untyped-def]
    with db.read_sessions() as s:
        return s.scalars(sa.select(OutgoingMail)).one()


def test_a_reply_survives_a_mail_outage_and_is_sent_once(db, tmp_path, smtp_server) -> None:
    down = _settings(tmp_path, f"smtp://127.0.0.1:{free_port()}")
    before, db.settings = db.settings, down
    try:
        with UnitOfWork(db, SYSTEM) as uow:
            t, _ = open_ticket(uow, TicketCreate(kind="question", subject="Opening hours?", requester_email="a@b.pl"))
        with UnitOfWork(db, SYSTEM) as uow:
            written = reply(uow, t.id, "9 to 5.").message_id
        # the after-commit handler or the job tries at once (either: the claim lets one win)
        assert _row(db).status == "queued" and mailout.send_pending(db, down)["retry"] <= 1
        row = _row(db)
        assert (row.status, row.message_id) == ("queued", written) and row.attempts == 1 and row.last_error
        assert row.next_attempt_at is not None
        up = _settings(tmp_path, smtp_server.url)
        # not yet due again: nothing is tried before the backoff has passed
        assert mailout.send_pending(db, up, now=row.next_attempt_at - dt.timedelta(seconds=1))["sent"] == 0
        assert mailout.send_pending(db, up, now=row.next_attempt_at)["sent"] == 1
        assert mailout.send_pending(db, up, now=row.next_attempt_at + dt.timedelta(hours=1)) == {
            "sent": 0, "not_sent": 0, "failed": 0, "retry": 0}
        got = smtp_server.wait_for(1)
        assert len(got) == 1 and got[0]["Message-ID"] == written
        assert _row(db).status == "sent"
    finally:
        db.settings = before


def test_a_claim_left_by_a_crashed_sender_is_taken_over_after_its_lease(db, tmp_path, smtp_server) -> None:
    settings = _settings(tmp_path, smtp_server.url)
    with UnitOfWork(db, SYSTEM) as uow:
        t, _ = open_ticket(uow, TicketCreate(kind="question", subject="Hi", requester_email="a@b.pl"), commit=False)
        from merx.support.service import queue_mail

        queue_mail(uow, to="a@b.pl", subject="Re: Hi", text="Hello", purpose="reply", ticket_id=t.id,
                   message_id="<fixed-1@shop.test>")
        uow.commit()
    now = dt.datetime.now(dt.timezone.utc)
    claimed = mailout._claim(db, now, 10)  # a sender claims it, then dies before sending
    assert len(claimed) == 1
    assert mailout.send_pending(db, settings, now=now + dt.timedelta(seconds=10))["sent"] == 0  # lease still held
    assert mailout.send_pending(db, settings, now=now + dt.timedelta(seconds=mailout.LEASE_SECONDS + 1))["sent"] == 1
    assert [m["Message-ID"] for m in smtp_server.wait_for(1)] == ["<fixed-1@shop.test>"]

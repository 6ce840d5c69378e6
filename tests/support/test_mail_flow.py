"""Email in and out through the real app and a real local SMTP server (aiosmtpd): a MIME
mail opens a ticket, the agent's reply leaves with threading headers, the customer's reply
(in ISO-8859-2) threads back onto the same ticket; bad mail gets a clear 4xx and stores
nothing."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from merx.core.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40  # a PNG signature and header chunk
RFC822 = {"Content-Type": "message/rfc822"}


@pytest.fixture
def mail_app(db, tmp_path, smtp_server):  # type: ignore[no-untyped-def]
    from merx.app import create_app

    settings = Settings(data_dir=tmp_path / "data", log_json=True, log_level="WARNING", smtp_url=smtp_server.url,
                        mail_from="Ogród Support <pomoc@ogrod.test>", mail_domain="ogrod.test",
                        max_body_bytes=256 * 1024)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
        yield client


def first_mail(*, attach: bool = True) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Anna Kowalska <anna@example.pl>"
    msg["To"] = "pomoc@ogrod.test"
    msg["Subject"] = "Uszkodzona doniczka"
    msg["Message-ID"] = "<first-1@example.pl>"
    msg.set_content("Dzień dobry, doniczka przyszła pęknięta. Zdjęcie w załączniku.")
    if attach:
        msg.add_attachment(PNG, maintype="image", subtype="png", filename="pekniecie.png")
    return msg


@pytest.mark.backends("sqlite", "postgresql")
def test_mail_opens_a_ticket_the_reply_threads_out_and_the_answer_threads_back(mail_app, make_key, smtp_server) -> None:
    agent = make_key("support_agent")
    r = mail_app.post("/api/v1/support/inbound-email", content=first_mail().as_bytes(), headers={**agent, **RFC822})
    assert r.status_code == 201, r.text
    opened = r.json()
    assert opened["created_ticket"] is True and opened["attachments"] == 1
    ticket_id = opened["ticket_id"]

    detail = mail_app.get(f"/api/v1/tickets/{ticket_id}", headers=agent).json()
    assert detail["channel"] == "email" and detail["requester_email"] == "anna@example.pl"
    assert detail["messages"][0]["kind"] == "in"
    assert "pęknięta" in detail["messages"][0]["body_text"]
    attachment = detail["attachments"][0]
    assert attachment["content_type"] == "image/png" and attachment["size"] == len(PNG)
    got = mail_app.get(f"/api/v1/tickets/{ticket_id}/attachments/{attachment['id']}", headers=agent)
    assert got.content == PNG and got.headers["content-disposition"].startswith("attachment")

    r = mail_app.post(f"/api/v1/tickets/{ticket_id}/replies", json={"body": "Przepraszamy! Wyślemy nową."},
                      headers=agent)
    assert r.status_code == 201, r.text
    reply_id = r.json()["message_id"]
    sent = smtp_server.wait_for(1)
    assert len(sent) == 1
    out = sent[0]
    assert out["Message-ID"] == reply_id and reply_id.endswith("@ogrod.test>")
    assert out["In-Reply-To"] == "<first-1@example.pl>"
    assert "<first-1@example.pl>" in out["References"]
    assert out["To"] == "anna@example.pl"
    token = detail["token"]
    assert f"[#{token}]" in out["Subject"] and out["Subject"].startswith("Re: Uszkodzona doniczka")
    assert "Wyślemy nową" in out.get_body(("plain",)).get_content()
    statuses = {m["message_id"]: m["mail_status"] for m in mail_app.get(f"/api/v1/tickets/{ticket_id}",
                                                                         headers=agent).json()["messages"]}
    assert statuses[reply_id] == "sent"

    # the customer answers from a client that writes ISO-8859-2 (quoted-printable)
    answer = EmailMessage()
    answer["From"] = "anna@example.pl"
    answer["To"] = "pomoc@ogrod.test"
    answer["Subject"] = str(out["Subject"]).replace("Re: ", "Re: Re: ", 1)
    answer["Message-ID"] = "<answer-2@example.pl>"
    answer["In-Reply-To"] = reply_id
    answer["References"] = f"<first-1@example.pl> {reply_id}"
    answer.set_content("Dziękuję, czekam. Żółta doniczka też może być.", charset="iso-8859-2", cte="quoted-printable")
    raw = answer.as_bytes()
    assert "Żółta".encode("iso-8859-2") in raw.replace(b"=\n", b"") or b"=AF" in raw  # really not UTF-8 on the wire
    r = mail_app.post("/api/v1/support/inbound-email", content=raw, headers={**agent, **RFC822})
    assert r.status_code == 201, r.text
    assert r.json()["ticket_id"] == ticket_id and r.json()["created_ticket"] is False
    assert r.json()["threaded_by"] == "in-reply-to"
    thread = mail_app.get(f"/api/v1/tickets/{ticket_id}", headers=agent).json()
    assert [m["kind"] for m in thread["messages"]] == ["in", "out", "in"]
    assert thread["messages"][2]["body_text"].strip() == "Dziękuję, czekam. Żółta doniczka też może być."
    assert thread["status"] == "waiting_on_us"  # the reply set waiting_on_customer; the answer hands it back

    # the same delivery again (a provider's retry) adds nothing
    again = mail_app.post("/api/v1/support/inbound-email", content=raw, headers={**agent, **RFC822})
    assert again.status_code == 201 and again.json()["threaded_by"] == "duplicate"
    assert len(mail_app.get(f"/api/v1/tickets/{ticket_id}", headers=agent).json()["messages"]) == 3


def test_a_fresh_mail_keeping_the_ticket_token_threads_by_token(mail_app, make_key) -> None:
    agent = make_key("support_agent")
    ticket_id = mail_app.post("/api/v1/support/inbound-email", content=first_mail(attach=False).as_bytes(),
                              headers={**agent, **RFC822}).json()["ticket_id"]
    token = mail_app.get(f"/api/v1/tickets/{ticket_id}", headers=agent).json()["token"]
    fresh = EmailMessage()
    fresh["From"] = "anna@example.pl"
    fresh["Subject"] = f"Pytanie o zamówienie [#{token}]"
    fresh["Message-ID"] = make_msgid(domain="example.pl")
    fresh.set_content("Czy już wysłane?")
    r = mail_app.post("/api/v1/support/inbound-email", content=fresh.as_bytes(), headers={**agent, **RFC822})
    assert r.json()["ticket_id"] == ticket_id and r.json()["threaded_by"] == "token"
    # someone else quoting the token does not get onto Anna's ticket
    fresh.replace_header("From", "mallory@evil.test")
    fresh.replace_header("Message-ID", make_msgid(domain="evil.test"))
    r = mail_app.post("/api/v1/support/inbound-email", content=fresh.as_bytes(), headers={**agent, **RFC822})
    assert r.json()["created_ticket"] is True and r.json()["ticket_id"] != ticket_id


def test_html_mail_is_sanitised_and_a_koi8_mail_is_decoded(mail_app, make_key) -> None:
    agent = make_key("support_agent")
    msg = EmailMessage()
    msg["From"] = "ivan@example.ru"
    msg["Subject"] = "Вопрос"
    msg["Message-ID"] = "<html-1@example.ru>"
    msg.set_content("Здравствуйте, где мой заказ?", charset="koi8-r")
    msg.add_alternative('<p onclick="steal()">Здравствуйте <script>alert(1)</script>'
                        '<a href="javascript:alert(2)">x</a><img src=x onerror="alert(3)"></p>', subtype="html")
    r = mail_app.post("/api/v1/support/inbound-email", content=msg.as_bytes(), headers={**agent, **RFC822})
    assert r.status_code == 201, r.text
    m = mail_app.get(f"/api/v1/tickets/{r.json()['ticket_id']}", headers=agent).json()["messages"][0]
    assert m["body_text"].strip() == "Здравствуйте, где мой заказ?"
    html = m["body_html"]
    assert "Здравствуйте" in html
    for bad in ("<script", "alert(1)", "onclick", "onerror", "javascript:"):
        assert bad not in html


def _ticket_count(db) -> int:  # type: ignore[no-untyped-def]
    from merx.support.models import Ticket

    with db.read_sessions() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(Ticket)))


@pytest.mark.backends("sqlite", "postgresql")
def test_bad_mail_gets_a_clear_problem_and_stores_nothing(mail_app, make_key, db) -> None:
    agent = make_key("support_agent")
    post = lambda body: mail_app.post("/api/v1/support/inbound-email", content=body,  # noqa: E731
                                      headers={**agent, **RFC822})
    r = post(b"this is not a mail at all")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    no_from = EmailMessage()
    no_from["Subject"] = "x"
    no_from.set_content("hello")
    r = post(no_from.as_bytes())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "From"

    exe = first_mail(attach=False)
    exe.add_attachment(b"MZ\x90\x00" + b"\x00" * 100, maintype="application", subtype="x-msdownload",
                       filename="faktura.exe")
    r = post(exe.as_bytes())
    assert r.status_code == 422 and "not accepted" in r.json()["errors"][0]["message"]
    disguised = first_mail(attach=False)
    disguised.add_attachment(b"<svg onload=alert(1)>", maintype="image", subtype="png", filename="x.png")
    r = post(disguised.as_bytes())
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "type_mismatch"

    big = first_mail(attach=False)
    big.add_attachment(b"%PDF-" + b"0" * (300 * 1024), maintype="application", subtype="pdf", filename="big.pdf")
    r = post(big.as_bytes())
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")
    assert _ticket_count(db) == 0


def test_roles_cross_the_lines(mail_app, make_key, db) -> None:
    from merx.core.uow import UnitOfWork
    from merx.customers.public import CustomerCreate, create_customer

    with UnitOfWork(db) as uow:
        anna = create_customer(uow, CustomerCreate(email="anna@example.pl")).id
    with UnitOfWork(db) as uow:
        other = create_customer(uow, CustomerCreate(email="olek@example.pl")).id
    agent = make_key("support_agent")
    ticket_id = mail_app.post("/api/v1/support/inbound-email", content=first_mail(attach=False).as_bytes(),
                              headers={**agent, **RFC822}).json()["ticket_id"]
    assert mail_app.get(f"/api/v1/tickets/{ticket_id}", headers=agent).json()["customer_id"] == anna
    mail_app.post(f"/api/v1/tickets/{ticket_id}/notes", json={"body": "internal: check courier"}, headers=agent)
    mine = mail_app.get(f"/api/v1/tickets/{ticket_id}", headers=make_key("customer", customer_id=anna))
    assert mine.status_code == 200 and all(m["kind"] != "note" for m in mine.json()["messages"])
    assert mail_app.get(f"/api/v1/tickets/{ticket_id}", headers=make_key("customer", customer_id=other)).status_code == 404
    assert mail_app.get("/api/v1/tickets", headers=make_key("customer", customer_id=other)).json()["items"] == []
    assert mail_app.get("/api/v1/tickets", headers=make_key("sales_rep")).status_code == 403
    assert mail_app.post("/api/v1/support/inbound-email", content=b"x", headers=RFC822).status_code == 401

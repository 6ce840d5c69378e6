"""Outgoing mail through a real local SMTP server."""

from __future__ import annotations

import pytest

from mail_server import free_port
from merx.core import mail
from merx.core.settings import Settings


def _settings(tmp_path, url=None):  # type: ignore[no-untyped-def]
    return Settings(data_dir=tmp_path, smtp_url=url, mail_from="Zielony Ogród <sklep@ogrod.test>",
                    mail_domain="ogrod.test")


def test_a_message_reaches_the_server_with_threading_headers_and_both_parts(tmp_path, smtp_server) -> None:
    settings = _settings(tmp_path, smtp_server.url)
    transport = mail.transport_for(settings)
    first = mail.build_message(settings, to="anna@example.pl", subject="Zamówienie przyjęte — dziękujemy",
                               text="Dzień dobry, Anno!", html="<p>Dzień dobry, <b>Anno</b>!</p>")
    first_id = transport.send(first)
    reply = mail.build_message(settings, to="anna@example.pl", subject="Re: Zamówienie przyjęte",
                               text="Odpowiedź", in_reply_to=first_id, references=[first_id])
    transport.send(reply)

    got = smtp_server.wait_for(2)
    assert len(got) == 2
    assert got[0]["Subject"] == "Zamówienie przyjęte — dziękujemy"
    assert got[0]["Message-ID"] == first_id and first_id.endswith("@ogrod.test>")
    assert got[0].get_body(("plain",)).get_content().strip() == "Dzień dobry, Anno!"
    assert "<b>Anno</b>" in got[0].get_body(("html",)).get_content()
    assert got[1]["In-Reply-To"] == first_id and got[1]["References"] == first_id
    assert mail.email_of(str(got[0]["From"])) == "sklep@ogrod.test"
    assert mail.delivers(transport)


def test_without_a_server_configured_mail_is_logged_not_delivered(tmp_path, caplog) -> None:
    transport = mail.transport_for(_settings(tmp_path))
    assert not mail.delivers(transport)
    msg = mail.build_message(_settings(tmp_path), to="a@b.test", subject="Hi", text="x")
    with caplog.at_level("WARNING", logger="merx.mail"):
        transport.send(msg)
    assert "MERX_SMTP_URL is not set" in caplog.text


def test_an_unreachable_server_is_a_retryable_error(tmp_path) -> None:
    settings = _settings(tmp_path, f"smtp://127.0.0.1:{free_port()}")
    msg = mail.build_message(settings, to="a@b.test", subject="Hi", text="x")
    with pytest.raises(mail.MailError) as err:
        mail.transport_for(settings).send(msg)
    assert err.value.permanent is False


def test_smtp_url_parts_are_read() -> None:
    t = mail.SmtpTransport.from_url("smtps://us%40er:p%3Ass@mail.example.com")
    assert (t.host, t.port, t.username, t.password, t.implicit_tls) == ("mail.example.com", 465, "us@er", "p:ss", True)
    with pytest.raises(ValueError):
        mail.SmtpTransport.from_url("http://x")


def test_a_kept_open_session_sends_many_messages_on_one_connection(tmp_path, smtp_server) -> None:
    settings = _settings(tmp_path, smtp_server.url)
    transport = mail.transport_for(settings, keep_open=True)
    for i in range(5):
        transport.send(mail.build_message(settings, to=f"c{i}@example.pl", subject=f"#{i}", text="x"))
    first_session = transport._client
    assert first_session is not None
    transport.send(mail.build_message(settings, to="c5@example.pl", subject="#5", text="x"))
    assert transport._client is first_session  # the same session, not a new connection
    transport.close()
    assert transport._client is None
    got = smtp_server.wait_for(6)
    assert sorted(str(m["Subject"]) for m in got) == [f"#{i}" for i in range(6)]


def test_a_dropped_session_is_reopened_before_the_next_message(tmp_path, smtp_server) -> None:
    settings = _settings(tmp_path, smtp_server.url)
    transport = mail.transport_for(settings, keep_open=True)
    transport.send(mail.build_message(settings, to="a@example.pl", subject="one", text="x"))
    transport._client.sock.close()  # the server (or a proxy) dropped the idle connection
    transport.send(mail.build_message(settings, to="b@example.pl", subject="two", text="x"))
    transport.close()
    assert sorted(str(m["Subject"]) for m in smtp_server.wait_for(2)) == ["one", "two"]

"""Outgoing mail: one transport for every context that sends (support replies, notifications,
campaigns, quotes). The standard library's `smtplib` and `email` packages are the tool made
for the job (RFC 5322 messages, MIME, STARTTLS, SMTP AUTH); this module only chooses the
transport from settings and gives every message a Message-ID that threading can rely on.

Sending is synchronous and blocking: callers run it from a durable subscriber, a job or a
worker thread, never while holding a database transaction open.

With no `MERX_SMTP_URL` the `LogTransport` writes the message's headers to the log and
keeps nothing: a shop that has not configured mail is told so, nothing pretends to deliver."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from typing import Protocol
from urllib.parse import unquote, urlsplit

from merx.core.settings import Settings

log = logging.getLogger("merx.mail")


class MailError(Exception):
    """The server refused the message or could not be reached; `permanent` when retrying
    cannot help (a 5xx reply: bad recipient, rejected content)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class MailTransport(Protocol):
    name: str

    def send(self, message: EmailMessage) -> str:
        """Deliver the message to the next hop; returns its Message-ID."""
        ...

    def close(self) -> None:
        """Ends a kept-open session (nothing for a transport that keeps none)."""
        ...


def build_message(settings: Settings, *, to: str, subject: str, text: str, html: str | None = None,
                  sender: str | None = None, reply_to: str | None = None, message_id: str | None = None,
                  in_reply_to: str | None = None, references: list[str] | None = None,
                  headers: dict[str, str] | None = None) -> EmailMessage:
    """A multipart/alternative message (plain text first, HTML when given) with a fresh
    Message-ID on the shop's mail domain unless one is passed (to keep threads stable)."""
    msg = EmailMessage()
    msg["From"] = sender or settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain=settings.mail_domain)
    if reply_to:
        msg["Reply-To"] = reply_to
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def address(name: str | None, email: str) -> str:
    return formataddr((name or "", email))


def email_of(header_value: str) -> str:
    """The bare, lower-cased address of a From/To header value ("Ann <A@x.pl>" -> "a@x.pl")."""
    return parseaddr(header_value)[1].strip().lower()


@dataclass
class SmtpTransport:
    """`keep_open=True` keeps one SMTP session for many messages (a campaign batch): a new
    connection costs the TCP and TLS handshakes, EHLO and AUTH for every message. A kept
    session is checked with NOOP before each reuse and reopened when the server dropped it;
    a send is never retried on its own (a message the server may have taken is not sent
    twice). Call `close()` when the batch is done."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    timeout: float = 30.0
    name: str = "smtp"
    keep_open: bool = False
    _client: smtplib.SMTP | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_url(cls, url: str, *, keep_open: bool = False) -> "SmtpTransport":
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"MERX_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme!r}")
        implicit = parts.scheme == "smtps"
        return cls(host=parts.hostname or "127.0.0.1", port=parts.port or (465 if implicit else 587),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None, implicit_tls=implicit,
                   keep_open=keep_open)

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if not self.implicit_tls and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if self.username:
                client.login(self.username, self.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _session(self) -> smtplib.SMTP:
        if self._client is not None:
            try:
                if self._client.noop()[0] == 250:
                    return self._client
            except (OSError, smtplib.SMTPException):
                pass
            self.close()
        self._client = self._connect()
        return self._client

    def send(self, message: EmailMessage) -> str:
        try:
            if self.keep_open:
                self._session().send_message(message)
            else:
                with self._connect() as client:
                    client.send_message(message)
        except smtplib.SMTPRecipientsRefused as e:
            raise MailError(f"recipient refused: {e.recipients}", permanent=True) from e
        except smtplib.SMTPResponseException as e:
            raise MailError(f"SMTP {e.smtp_code}: {e.smtp_error!r}", permanent=500 <= e.smtp_code < 600) from e
        except (OSError, smtplib.SMTPException) as e:
            self.close()  # a broken session is not reused
            raise MailError(f"mail server {self.host}:{self.port} unreachable: {e}", permanent=False) from e
        return str(message["Message-ID"])

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()


@dataclass
class LogTransport:
    """No mail server configured: logs who would have received what. Callers that record a
    delivery status mark such messages `not_sent` (see `delivers`)."""

    name: str = "log"

    def send(self, message: EmailMessage) -> str:
        log.warning("mail not sent (MERX_SMTP_URL is not set): to=%s subject=%r message_id=%s",
                    message["To"], message["Subject"], message["Message-ID"])
        return str(message["Message-ID"])

    def close(self) -> None:
        pass


def transport_for(settings: Settings, *, keep_open: bool = False) -> MailTransport:
    """`keep_open`: one SMTP session for a batch of messages (the caller closes it)."""
    if settings.smtp_url is None:
        return LogTransport()
    return SmtpTransport.from_url(settings.smtp_url.get_secret_value(), keep_open=keep_open)


def delivers(transport: MailTransport) -> bool:
    """Whether the transport hands mail to a server (a UI may then say "emailed")."""
    return transport.name != "log"

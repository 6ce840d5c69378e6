"""Inbound mail: a raw RFC 822 message (what Postmark, Mailgun and SES deliver to a webhook)
becomes a ticket, or a message on the ticket it answers.

Parsing is the standard library's `email` package with `policy=default` (RFC 5322/MIME,
decoded headers, `get_body`); a text part in another charset (ISO-8859-2, KOI8-R,
Windows-1250) is decoded with its declared charset, and an unknown charset falls back to
UTF-8 with replacement rather than failing. HTML bodies are sanitised with nh3 (the Python
binding of ammonia, a maintained Rust allow-list sanitiser; bleach is deprecated): scripts,
event handlers, styles and javascript: URLs are removed before anything is stored.

Threading, first match wins: In-Reply-To, then References (a Message-ID we sent or received
on the ticket), then the ticket token "[#T-XXXXXX]" in the subject (a customer who started a
fresh mail but kept the subject), else a new ticket."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

import nh3

from merx.core.db import utcnow
from merx.core.errors import PayloadTooLarge, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.support import rules, service
from merx.support.schemas import InboundResult, TicketCreate

_MSGID = re.compile(r"<[^<>\s]+>")
MAX_BODY_CHARS = 100_000
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|odp|sv)\s*:\s*)+", re.I)


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedMail:
    sender: str
    sender_name: str | None
    subject: str
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    text: str
    html: str | None
    attachments: list[ParsedAttachment] = field(default_factory=list)


def _part_text(part: EmailMessage) -> str:
    """A text part's content in its declared charset; an unknown or wrong charset decodes
    as UTF-8 with replacement characters (never an exception, never lost)."""
    try:
        content = part.get_content()
        return content if isinstance(content, str) else content.decode("utf-8", "replace")
    except (LookupError, UnicodeDecodeError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, "replace")
        except LookupError:
            return payload.decode("utf-8", "replace")


def sanitise_html(html: str) -> str:
    return nh3.clean(html, tags={"p", "br", "b", "strong", "i", "em", "u", "ul", "ol", "li", "a", "blockquote",
                                 "div", "span", "table", "thead", "tbody", "tr", "td", "th", "pre", "code",
                                 "h1", "h2", "h3", "h4", "img", "hr"},
                     url_schemes={"http", "https", "mailto", "cid"}, link_rel="noopener noreferrer nofollow")


def html_to_text(html: str) -> str:
    """Plain text of an HTML-only mail (for the ticket list and replies quoting it)."""
    text = nh3.clean(re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>", "\n", html), tags=set())
    import html as html_lib

    return re.sub(r"\n{3,}", "\n\n", html_lib.unescape(text)).strip()


def parse(raw: bytes) -> ParsedMail:
    """ValidationProblem for what is not a mail we can thread (no From address, no content)."""
    if len(raw) > rules.MAX_MAIL_BYTES:
        raise PayloadTooLarge(f"the message is larger than {rules.MAX_MAIL_BYTES // (1024 * 1024)} MiB")
    if not raw.strip():
        raise ValidationProblem.for_field("body", "empty message", "malformed")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as e:  # noqa: BLE001 - the parser is lenient; anything it raises is malformed input
        raise ValidationProblem.for_field("body", f"not an RFC 822 message: {e}", "malformed") from e
    if not isinstance(msg, EmailMessage) or not msg.keys():
        raise ValidationProblem.for_field("body", "not an RFC 822 message (no headers)", "malformed")
    try:
        name, sender = parseaddr(str(msg.get("From", "")))
    except Exception:  # noqa: BLE001 - a broken header value
        name, sender = "", ""
    if "@" not in sender or any(c.isspace() for c in sender):
        raise ValidationProblem.for_field("From", "the message has no valid From address", "malformed")
    message_id = None
    ids = _MSGID.findall(str(msg.get("Message-ID", "")))
    if ids:
        message_id = ids[0][:300]
    in_reply_to = _MSGID.findall(str(msg.get("In-Reply-To", "")))
    references = _MSGID.findall(str(msg.get("References", "")))
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    html = sanitise_html(_part_text(html_part))[:MAX_BODY_CHARS] if html_part is not None else None
    text = _part_text(text_part) if text_part is not None else (html_to_text(html) if html else "")
    attachments = []
    for part in msg.iter_attachments():
        data = part.get_payload(decode=True)
        if data is None or not isinstance(data, bytes):
            continue
        attachments.append(ParsedAttachment(filename=part.get_filename() or "attachment",
                                            content_type=part.get_content_type(), data=data))
    if not text.strip() and not attachments and not html:
        raise ValidationProblem.for_field("body", "the message has no text, HTML or attachment", "malformed")
    subject = str(msg.get("Subject", "") or "").strip() or "(no subject)"
    return ParsedMail(sender=sender.lower(), sender_name=name or None, subject=subject[:300], message_id=message_id,
                      in_reply_to=in_reply_to, references=references, text=text[:MAX_BODY_CHARS], html=html,
                      attachments=attachments)


def _addresses(value: str) -> list[str]:
    return [a.lower() for _, a in getaddresses([value]) if a]


def receive(uow: UnitOfWork, raw: bytes, *, now: dt.datetime | None = None) -> InboundResult:
    """One inbound message, in one transaction: the ticket (new or threaded), its message and
    its attachments. A forbidden attachment refuses the whole message (4xx naming it), so the
    sender's provider reports the bounce and nothing is half-stored. A message already
    received (same Message-ID, a provider's retry) is answered with the first result."""
    now = now or utcnow()
    mail = parse(raw)
    for a in mail.attachments:
        service.check_attachment(a.filename, a.content_type, a.data)
    if mail.message_id:
        seen = service.find_ticket_by_message_ids(uow, [mail.message_id])
        if seen is not None:
            from merx.support.models import TicketMessage
            import sqlalchemy as sa

            mid = uow.session.scalar(sa.select(TicketMessage.id).where(TicketMessage.message_id == mail.message_id))
            return InboundResult(ticket_id=seen.id, ticket_message_id=int(mid or 0), created_ticket=False,
                                 threaded_by="duplicate", attachments=0)
    ticket, threaded_by = None, None
    if mail.in_reply_to:
        ticket, threaded_by = service.find_ticket_by_message_ids(uow, mail.in_reply_to), "in-reply-to"
    if ticket is None and mail.references:
        ticket, threaded_by = service.find_ticket_by_message_ids(uow, mail.references), "references"
    if ticket is None:
        ticket, threaded_by = service.find_ticket_by_token(uow, rules.token_in(mail.subject)), "token"
    if ticket is not None and ticket.requester_email and ticket.requester_email.lower() != mail.sender:
        # a token or id guessed by someone else does not put their mail on a customer's ticket
        ticket, threaded_by = None, None
    if ticket is None:
        subject = rules.TOKEN_IN_SUBJECT.sub("", _REPLY_PREFIX.sub("", mail.subject)).strip() or "(no subject)"
        ticket, msg = service.open_ticket(uow, TicketCreate(kind="question", subject=subject[:300], body=mail.text,
                                                            channel="email", requester_email=mail.sender,
                                                            requester_name=mail.sender_name),
                                          body_html=mail.html, message_id=mail.message_id, now=now, commit=False)
        assert msg is not None
        created, threaded_by = True, None
    else:
        msg = service.add_inbound(uow, ticket, body_text=mail.text, body_html=mail.html, message_id=mail.message_id,
                                  author_email=mail.sender, now=now)
        created = False
    uow.session.flush()
    for a in mail.attachments:
        service.store_attachment(uow, ticket, filename=a.filename, content_type=a.content_type, data=a.data,
                                 ticket_message_id=msg.id)
    uow.commit()
    return InboundResult(ticket_id=ticket.id, ticket_message_id=msg.id, created_ticket=created,
                         threaded_by=threaded_by, attachments=len(mail.attachments))

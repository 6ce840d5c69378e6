"""The account mails (verify your email, reset your password, you already have an account),
sent through `core.mail` right after the use case committed, never from inside a transaction.

They carry one-time links, so they are not notifications in marketing's outbox-fed pipeline:
that pipeline stores each rendered message (`mkt_messages`), and a stored link would be a
stored credential. With no mail server configured (`MERX_SMTP_URL` unset) the link is
written to the log instead, the issue's "a log until then": set MERX_SMTP_URL before
shoppers sign up for real."""

from __future__ import annotations

import logging

from merx.core import mail
from merx.core.settings import Settings

log = logging.getLogger("merx.customers.mail")


def _send(settings: Settings, to: str, subject: str, text: str, link: str) -> bool:
    transport = mail.transport_for(settings)
    if not mail.delivers(transport):
        log.warning("mail not configured (MERX_SMTP_URL unset): %s for %s: %s", subject, to, link)
        return False
    try:
        transport.send(mail.build_message(settings, to=to, subject=subject, text=text))
    except mail.MailError:
        log.exception("account mail to %s failed", to)
        return False
    finally:
        transport.close()
    return True


def send_verification(settings: Settings, to: str, link: str) -> bool:
    return _send(settings, to, "Confirm your email address", (
        "Welcome!\n\n"
        "To finish opening your account, open this link and enter the password you chose:\n\n"
        f"{link}\n\n"
        "The link works once, for 48 hours. Orders you placed earlier as a guest with this email "
        "will appear in your account once it is confirmed.\n\n"
        "If you did not sign up, ignore this mail: without your confirmation nothing happens.\n"), link)


def send_reset(settings: Settings, to: str, link: str) -> bool:
    return _send(settings, to, "Reset your password", (
        "Someone (hopefully you) asked to reset the password of your account.\n\n"
        f"Choose a new password here:\n\n{link}\n\n"
        "The link works once, for one hour. Setting a new password signs you out everywhere else.\n\n"
        "If you did not ask for this, ignore this mail: your password stays as it is.\n"), link)


def send_already_registered(settings: Settings, to: str, link: str) -> bool:
    return _send(settings, to, "You already have an account", (
        "Someone (hopefully you) tried to open an account with this email, but you already have one.\n\n"
        "Sign in with your password, or if you forgot it, choose a new one here (valid for one hour):\n\n"
        f"{link}\n\n"
        "If this was not you, ignore this mail: nothing changed.\n"), link)

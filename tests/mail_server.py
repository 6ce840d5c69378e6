"""A real local SMTP server for tests (aiosmtpd): every message it receives is parsed with
the standard library and kept in `messages`. Used through the `smtp_server` fixture."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Collector:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # aiosmtpd hook
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.changed:
            self.messages.append(msg)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.changed.notify_all()
        return "250 Message accepted for delivery"


class LocalSmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self._collector = _Collector()
        self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self._collector.messages)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Blocks until `count` messages arrived (or timeout); returns what arrived."""
        deadline = time.monotonic() + timeout
        with self._collector.changed:
            while len(self._collector.messages) < count and time.monotonic() < deadline:
                self._collector.changed.wait(deadline - time.monotonic())
            return list(self._collector.messages)

    def start(self) -> "LocalSmtpServer":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

"""Publishing outbox events to NATS JetStream.

Subject `<prefix>.<aggregate>.<event>` (event type "order.placed" -> "merx.order.placed"),
header `Nats-Msg-Id` = event id so JetStream drops a re-publish inside the stream's duplicate
window, and the body is the same JSON document a webhook receives."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Sequence

_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def subject_for(prefix: str, event_type: str) -> str:
    aggregate, _, name = event_type.partition(".")
    parts = [aggregate] + (name.split(".") if name else ["event"])
    return ".".join([prefix] + [_TOKEN_UNSAFE.sub("_", p) or "_" for p in parts])


@dataclass
class OutgoingMessage:
    event_id: str
    subject: str
    body: bytes


class JetStreamPublisher:
    def __init__(self, url: str, *, stream: str, subject_prefix: str, duplicate_window_seconds: int = 120,
                 ack_timeout: float = 10.0) -> None:
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.duplicate_window_seconds = duplicate_window_seconds
        self.ack_timeout = ack_timeout
        self._nc = None
        self._js = None

    async def connect(self) -> None:
        import nats
        from nats.js.api import StreamConfig
        from nats.js.errors import NotFoundError

        self._nc = await nats.connect(self.url, connect_timeout=5, max_reconnect_attempts=-1)
        self._js = self._nc.jetstream(timeout=self.ack_timeout, publish_async_max_pending=20000)
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(StreamConfig(
                name=self.stream, subjects=[f"{self.subject_prefix}.>"],
                duplicate_window=float(self.duplicate_window_seconds)))

    async def close(self) -> None:
        if self._nc is not None:
            try:
                await self._nc.drain()
            except Exception:  # closing a broken connection: nothing left to flush
                pass
            self._nc = None

    async def publish_ordered(self, messages: Sequence[OutgoingMessage]) -> int:
        """Publish in order and wait for the acks; returns how many leading messages are
        acknowledged (the relay advances its cursors only over those)."""
        assert self._js is not None, "connect() first"
        futures = []
        try:
            for m in messages:
                futures.append(await self._js.publish_async(
                    m.subject, m.body, headers={"Nats-Msg-Id": m.event_id}, stream=self.stream))
        except Exception:
            pass  # the messages published so far are still awaited below
        if futures:
            await asyncio.wait(futures, timeout=self.ack_timeout)
        acked = 0
        for f in futures:
            if not f.done() or f.cancelled() or f.exception() is not None:
                break
            acked += 1
        for f in futures[acked:]:
            if not f.done():
                f.cancel()
        return acked

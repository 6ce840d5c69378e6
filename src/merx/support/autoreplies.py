"""The auto-reply rule set (support_auto_replies), shared: support's live chat answers with it
(chat.py) and marketing's messaging webhooks answer incoming SMS and messaging-app messages
with it (through support.public.match_auto_reply). Rules are checked in id order; the first
that matches answers (rules.rule_matches: a keyword or an intent)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from merx.core.uow import UnitOfWork
from merx.support import rules
from merx.support.models import AutoReply


@dataclass(frozen=True)
class AutoReplyMatch:
    rule_id: int
    rule: str  # the keyword, or "intent:<name>"
    reply: str


def match_auto_reply(uow: UnitOfWork, text: str) -> AutoReplyMatch | None:
    """The reply of the first active rule the message matches, or None (a person answers)."""
    words = rules.message_words(text)
    if not words:
        return None
    for ar in uow.session.scalars(sa.select(AutoReply).where(AutoReply.active.is_(True)).order_by(AutoReply.id)):
        if rules.rule_matches(ar.keyword, words):
            return AutoReplyMatch(ar.id, ar.keyword, ar.reply)
    return None

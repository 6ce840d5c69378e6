"""Pure support rules: business-hours arithmetic for SLA clocks, policy and assignment
matching, round-robin by load, ticket tokens in subjects, NPS/CSAT arithmetic and the
attachment allow-list. No database here."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, field
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

KINDS = ("complaint", "return_request", "question", "wish", "objection", "praise")
CHANNELS = ("email", "chat", "phone", "store_visit", "messaging", "web_form")
STATUSES = ("new", "open", "waiting_on_customer", "waiting_on_us", "solved", "closed")
OPEN_STATUSES = ("new", "open", "waiting_on_customer", "waiting_on_us")
PRIORITIES = ("low", "normal", "high", "urgent")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# What may be attached to a ticket: documents and pictures customers send (receipts, photos of
# damage). Anything executable or scriptable (HTML, SVG, archives, Office macros) is refused.
ALLOWED_ATTACHMENT_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "text/plain", "text/csv",
})
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_MAIL_BYTES = 25 * 1024 * 1024


# ----------------------------------------------------------------------------------------------
# Business hours
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Opening hours per weekday in a time zone, and holidays (local dates)."""

    timezone: str = "UTC"
    hours: dict[str, tuple[dt.time, dt.time]] = field(default_factory=dict)
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def of(cls, timezone: str, hours: dict[str, Sequence[str]] | None, holidays: Iterable[str] = ()) -> "Calendar":
        parsed = {}
        for day, (start, end) in (hours or {}).items():
            if day not in DAYS:
                raise ValueError(f"unknown day {day!r} (use {', '.join(DAYS)})")
            s, e = dt.time.fromisoformat(start), dt.time.fromisoformat(end)
            if e <= s:
                raise ValueError(f"{day}: closing time {end} is not after opening time {start}")
            parsed[day] = (s, e)
        ZoneInfo(timezone)  # raises for an unknown zone
        return cls(timezone, parsed, frozenset(dt.date.fromisoformat(d) for d in holidays))

    @classmethod
    def always(cls) -> "Calendar":
        """Round the clock, every day (a ticket with no team)."""
        return cls("UTC", {d: (dt.time(0), dt.time(23, 59, 59, 999999)) for d in DAYS})

    def window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The day's opening hours as UTC instants, or None when closed."""
        if day in self.holidays:
            return None
        span = self.hours.get(DAYS[day.weekday()])
        if span is None:
            return None
        tz = ZoneInfo(self.timezone)
        start = dt.datetime.combine(day, span[0], tzinfo=tz).astimezone(dt.timezone.utc)
        end = dt.datetime.combine(day, span[1], tzinfo=tz).astimezone(dt.timezone.utc)
        return start, end

    def _local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(ZoneInfo(self.timezone)).date()

    def add(self, start: dt.datetime, minutes: float) -> dt.datetime:
        """The instant `minutes` of open time after `start` (a deadline)."""
        remaining = dt.timedelta(minutes=minutes)
        cursor = start.astimezone(dt.timezone.utc)
        day = self._local_date(cursor)
        for _ in range(3 * 366):
            win = self.window(day)
            if win is not None:
                begin = max(cursor, win[0])
                if begin < win[1]:
                    available = win[1] - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += dt.timedelta(days=1)
        raise ValueError("the calendar has no open hours within three years")

    def open_minutes(self, start: dt.datetime, end: dt.datetime) -> float:
        """Minutes of open time between two instants (0 when end <= start)."""
        if end <= start:
            return 0.0
        total = dt.timedelta()
        day, last = self._local_date(start), self._local_date(end)
        while day <= last:
            win = self.window(day)
            if win is not None:
                lo, hi = max(start, win[0]), min(end, win[1])
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return total.total_seconds() / 60


# ----------------------------------------------------------------------------------------------
# Matching and assignment
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFacts:
    kind: str
    priority: str
    channel: str
    language: str | None = None
    customer_tier: str | None = None


def matches(criteria: dict[str, str | None], facts: TicketFacts) -> bool:
    """A rule or policy matches when every criterion it sets equals the ticket's fact."""
    return all(value is None or getattr(facts, name) == value for name, value in criteria.items())


def round_robin(members: Sequence[int], loads: dict[int, int], last: int | None) -> int | None:
    """The member with the fewest open tickets; among equals, the next one after `last` in
    member order (so equal loads take turns)."""
    if not members:
        return None
    least = min(loads.get(m, 0) for m in members)
    candidates = [m for m in members if loads.get(m, 0) == least]
    if last in members:
        start = members.index(last) + 1
        ordered = list(members[start:]) + list(members[:start])
        return next(m for m in ordered if m in candidates)
    return candidates[0]


# ----------------------------------------------------------------------------------------------
# Tokens, NPS, CSAT
# ----------------------------------------------------------------------------------------------

_TOKEN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TOKEN_IN_SUBJECT = re.compile(r"\[#(T-[A-Z2-9]{6})\]")


def new_ticket_token() -> str:
    return "T-" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(6))


def subject_with_token(subject: str, token: str) -> str:
    tag = f"[#{token}]"
    return subject if tag in subject else f"{subject} {tag}"


def token_in(subject: str | None) -> str | None:
    match = TOKEN_IN_SUBJECT.search(subject or "")
    return match.group(1) if match else None


def nps(scores: Iterable[int]) -> float | None:
    """Net promoter score: % promoters (9-10) minus % detractors (0-6); None without answers."""
    values = list(scores)
    if not values:
        return None
    promoters = sum(1 for s in values if s >= 9)
    detractors = sum(1 for s in values if s <= 6)
    return round(100.0 * (promoters - detractors) / len(values), 1)


def csat(scores: Iterable[int]) -> float | None:
    """Share of satisfied answers (4 or 5 of 5), in percent."""
    values = list(scores)
    if not values:
        return None
    return round(100.0 * sum(1 for s in values if s >= 4) / len(values), 1)


def is_detractor(kind: str, score: int) -> bool:
    return score <= 6 if kind == "nps" else score <= 2


# -- auto-replies: one rule set for support's chat and marketing's messaging webhooks ------------
# A rule is a keyword (every word of it in the message, whole words, any case) or an intent
# ("intent:<name>"): the message matches one of the intent's phrases (all its words present).
# The intents are the questions shops get most; the phrases are English and Polish.
INTENTS: dict[str, tuple[frozenset[str], ...]] = {
    name: tuple(frozenset(p.split()) for p in phrases) for name, phrases in {
        "order_status": ("where order", "where parcel", "where package", "order status", "track order",
                         "tracking number", "when arrive", "when delivered", "gdzie zamówienie", "gdzie paczka",
                         "status zamówienia"),
        "returns": ("return", "refund", "send back", "exchange", "zwrot", "zwrócić", "wymiana"),
        "opening_hours": ("opening hours", "when open", "open today", "open tomorrow", "hours store",
                          "godziny otwarcia", "czynne"),
        "delivery_cost": ("delivery cost", "shipping cost", "how much shipping", "how much delivery",
                          "free delivery", "free shipping", "koszt dostawy", "darmowa dostawa"),
        "human": ("talk human", "real person", "speak agent", "talk agent", "konsultant", "człowiek"),
    }.items()}
INTENT_PREFIX = "intent:"


def message_words(text: str) -> set[str]:
    return set(re.findall(r"\w+", (text or "").lower()))


def rule_matches(rule: str, words: set[str]) -> bool:
    """Whether an auto-reply rule (a keyword or "intent:<name>") answers a message of these words."""
    if rule.startswith(INTENT_PREFIX):
        return any(phrase <= words for phrase in INTENTS.get(rule[len(INTENT_PREFIX):], ()))
    wanted = set(re.findall(r"\w+", rule.lower()))
    return bool(wanted) and wanted <= words

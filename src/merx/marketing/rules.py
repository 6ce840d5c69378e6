"""Pure rules of marketing, unit-tested without a database: send windows and quiet hours in
the recipient's time zone, frequency caps (strictest applies), the A/B significance test,
first/last-touch attribution and the reproducible giveaway draw."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from dataclasses import dataclass
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Span = tuple[dt.time, dt.time]

# Country -> time zone for the countries a European shop meets most; other countries use
# the shop's MERX_MARKETING_TIMEZONE; a recipient's own time zone (mkt_recipients) comes first.
COUNTRY_TIMEZONES = {
    "PL": "Europe/Warsaw", "DE": "Europe/Berlin", "GB": "Europe/London", "IE": "Europe/Dublin",
    "FR": "Europe/Paris", "ES": "Europe/Madrid", "PT": "Europe/Lisbon", "IT": "Europe/Rome", "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels", "AT": "Europe/Vienna", "CH": "Europe/Zurich", "CZ": "Europe/Prague",
    "SK": "Europe/Bratislava", "HU": "Europe/Budapest", "RO": "Europe/Bucharest", "BG": "Europe/Sofia",
    "UA": "Europe/Kyiv", "LT": "Europe/Vilnius", "LV": "Europe/Riga", "EE": "Europe/Tallinn", "FI": "Europe/Helsinki",
    "SE": "Europe/Stockholm", "NO": "Europe/Oslo", "DK": "Europe/Copenhagen", "GR": "Europe/Athens",
    "TR": "Europe/Istanbul", "US": "America/New_York", "CA": "America/Toronto", "JP": "Asia/Tokyo",
    "CN": "Asia/Shanghai", "KR": "Asia/Seoul", "AU": "Australia/Sydney",
}


def parse_spans(text: str) -> list[Span]:
    """"08:00-09:00,18:00-20:00" -> [(08:00, 09:00), (18:00, 20:00)]; a span may cross midnight."""
    spans = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        start, _, end = part.partition("-")
        try:
            spans.append((dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())))
        except ValueError:
            raise ValueError(f"not a time span: {part!r} (use HH:MM-HH:MM)") from None
    return spans


def _inside(t: dt.time, span: Span) -> bool:
    start, end = span
    if start == end:
        return True  # "00:00-00:00": the whole day
    if start < end:
        return start <= t < end
    return t >= start or t < end  # crosses midnight


def zone_for(country: str | None, default: str, own: str | None = None) -> ZoneInfo:
    """The recipient's time zone: their own (IANA name) when known and valid, else their
    country's, else the shop's default."""
    if own:
        zone = valid_zone(own)
        if zone is not None:
            return zone
    try:
        return ZoneInfo(COUNTRY_TIMEZONES.get((country or "").upper(), default))
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")


def valid_zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone of that name, or None (unknown, malformed, or not a region's zone)."""
    if not name or len(name) > 64 or "/" not in name or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class SendPolicy:
    windows: list[Span]
    quiet: list[Span]
    daily_cap: int
    channel_caps: dict[str, int]

    def allowed_at(self, local: dt.datetime) -> bool:
        t = local.time()
        return any(_inside(t, w) for w in self.windows) and not any(_inside(t, q) for q in self.quiet)

    def cap_for(self, channel: str) -> int:
        """The strictest of the global cap and the channel's."""
        caps = [self.daily_cap] + ([self.channel_caps[channel]] if channel in self.channel_caps else [])
        return min(caps)

    def next_send_time(self, now: dt.datetime, zone: ZoneInfo, *, not_before_day: dt.date | None = None) -> dt.datetime:
        """The first moment at or after `now` (UTC) inside a send window and outside quiet
        hours, in `zone`'s local time; `not_before_day`: not before that local day (the
        person's cap for today is used up). Checked minute by minute across window starts."""
        local_now = now.astimezone(zone)
        for offset in range(0, 9):
            day = local_now.date() + dt.timedelta(days=offset)
            if not_before_day is not None and day < not_before_day:
                continue
            candidates = []
            for start, end in self.windows:
                begin = dt.datetime.combine(day, start, tzinfo=zone)
                candidates.append(begin)
                # quiet hours ending inside the window open it later
                for q_start, q_end in self.quiet:
                    candidates.append(dt.datetime.combine(day, q_end, tzinfo=zone))
            for candidate in sorted(candidates):
                moment = max(candidate, local_now)
                if moment.date() != day:
                    continue
                if self.allowed_at(moment):
                    return moment.astimezone(dt.timezone.utc)
        raise ValueError("no send window in the next 9 days: check MERX_MARKETING_SEND_WINDOWS and quiet hours")


def local_day(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


def policy_from(windows: str, quiet: str, daily_cap: int, channel_caps: dict[str, int]) -> SendPolicy:
    return SendPolicy(parse_spans(windows), parse_spans(quiet), daily_cap, dict(channel_caps))


# -- A/B test -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ABResult:
    rate_a: float
    rate_b: float
    z: float
    p_value: float
    significant: bool
    winner: str | None


def two_proportion_test(success_a: int, total_a: int, success_b: int, total_b: int,
                        alpha: float = 0.05) -> ABResult:
    """Two-sided two-proportion z-test (pooled variance). The winner is named only when the
    difference is significant at `alpha`."""
    if total_a <= 0 or total_b <= 0:
        return ABResult(0.0, 0.0, 0.0, 1.0, False, None)
    pa, pb = success_a / total_a, success_b / total_b
    pooled = (success_a + success_b) / (total_a + total_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / total_a + 1 / total_b))
    if se == 0:
        return ABResult(pa, pb, 0.0, 1.0, False, None)
    z = (pa - pb) / se
    p = math.erfc(abs(z) / math.sqrt(2))  # = 2 * (1 - Phi(|z|))
    significant = p < alpha
    return ABResult(pa, pb, z, p, significant, ("A" if pa > pb else "B") if significant else None)


# -- attribution ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TouchPoint:
    customer_id: int
    at: dt.datetime
    campaign_id: int | None
    source: str | None  # a QR code's label/source, "email" for a click


@dataclass(frozen=True)
class OrderPoint:
    order_id: int
    customer_id: int
    at: dt.datetime
    total_minor: int
    currency: str


def attribute(orders: Iterable[OrderPoint], touches: Sequence[TouchPoint], window: dt.timedelta,
              model: str = "last") -> dict[int, TouchPoint]:
    """order id -> the touch credited for it: among the customer's touches in the `window`
    before the order, the earliest ("first" touch) or the latest ("last" touch)."""
    by_customer: dict[int, list[TouchPoint]] = {}
    for t in touches:
        by_customer.setdefault(t.customer_id, []).append(t)
    out: dict[int, TouchPoint] = {}
    for order in orders:
        eligible = [t for t in by_customer.get(order.customer_id, ()) if order.at - window <= t.at <= order.at]
        if eligible:
            out[order.order_id] = (min if model == "first" else max)(eligible, key=lambda t: t.at)
    return out


# -- giveaway draw --------------------------------------------------------------------------------

def entries_digest(customer_ids: Iterable[int]) -> str:
    """SHA-256 of the sorted entries: the audit record that the draw ran over exactly these."""
    return hashlib.sha256(",".join(str(i) for i in sorted(customer_ids)).encode()).hexdigest()


def draw(customer_ids: Iterable[int], seed: int, winners: int) -> list[int]:
    """Reproducible: the same entries and seed always give the same winners (Python's
    Mersenne Twister over the sorted entries)."""
    pool = sorted(set(customer_ids))
    return random.Random(seed).sample(pool, min(winners, len(pool)))

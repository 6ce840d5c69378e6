"""The five-stage funnel over the behavioural event stream.

A person is a known customer (events carrying `customer_id`, which the CRM sets when it
stitches identities) or else an anonymous id. Only the events of the requested window count. Stages are reached in order, each at or after
the previous one:

1. awareness  - the first touch: any event of the awareness types (visit, ad click, QR scan...)
2. interest   - the N-th product view (or other interest event) after awareness (N configurable)
3. decision   - the first add to cart or checkout start after interest
4. purchase   - the first purchase after decision
5. retention  - another purchase after the first, within `retention_days`

Per stage: `count` (people who reached it), `conversion` (count / previous stage's count;
1 for awareness), `overall_conversion` (count / awareness count), `drop_off` (share of this
stage's people who did not reach the next; null for retention) and `median_time_to_next`
(seconds from reaching this stage to reaching the next, over those who did).

Breakdowns attribute each person to the channel, source, campaign, device or segment of
their first-touch event, the category of their first interest event, or the day, week or
month of their first touch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from merx.analytics.scope import naive_utc
from merx.core.errors import ValidationProblem

STAGES = ("awareness", "interest", "decision", "purchase", "retention")
BREAKDOWNS = ("channel", "source", "campaign", "device", "segment", "category", "day", "week", "month")


@dataclass(frozen=True)
class FunnelDefinition:
    awareness: tuple[str, ...] = ("page_view", "ad_click", "qr_scan", "store_visit", "email_open",
                                  "message_received", "search", "product_view")
    interest: tuple[str, ...] = ("product_view",)
    interest_min_events: int = 1
    decision: tuple[str, ...] = ("add_to_cart", "checkout_started")
    purchase: tuple[str, ...] = ("purchase",)
    retention_days: int = 90

    def validated(self) -> "FunnelDefinition":
        for name in ("awareness", "interest", "decision", "purchase"):
            types = getattr(self, name)
            if not types:
                raise ValidationProblem.for_field(name, "needs at least one event type")
            for t in types:
                if not t.replace("_", "").replace(".", "").isalnum() or len(t) > 64:
                    raise ValidationProblem.for_field(name, f"{t!r} is not an event type name")
        if not 1 <= self.interest_min_events <= 1000:
            raise ValidationProblem.for_field("min_product_views", "must be between 1 and 1000")
        if not 1 <= self.retention_days <= 3650:
            raise ValidationProblem.for_field("retention_days", "must be between 1 and 3650")
        return self

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _in_list(types: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + t.replace("'", "''") + "'" for t in types) + ")"


def _dimension_sql(by: str | None) -> str:
    if by is None:
        return "NULL"
    if by in ("day", "week", "month"):
        return f"strftime(date_trunc('{by}', first_at), '%Y-%m-%d')"
    return "dim"


# A person's key as one BIGINT (cheaper to group and join on than text): the customer id for
# known customers, a negative 63-bit hash of the anonymous id otherwise. Two anonymous ids
# colliding would need ~3 billion visitors for a one-in-a-billion chance; accepted.
PERSON_KEY = "CASE WHEN customer_id IS NOT NULL THEN customer_id ELSE -1 - CAST(hash(anonymous_id) >> 1 AS BIGINT) END"


def person_stages_sql(definition: FunnelDefinition, where: str, *, by: str | None = None,
                      with_ids: bool = False) -> str:
    """SQL yielding one row per person: the time of each stage (t0..t4), `first_at`, the
    breakdown value `dim` (when `by` is a first-touch attribute or category) and, with
    `with_ids`, the customer id and anonymous id."""
    d = definition
    first_touch = by if by in ("channel", "source", "campaign", "device", "segment") else None
    ev_cols = ["pk", "type", "occurred_at"]
    if first_touch:
        ev_cols.append(first_touch)
    if by == "category":
        ev_cols.append("category")
    if with_ids:
        ev_cols += ["customer_id", "anonymous_id"]
    all_types = tuple(dict.fromkeys(d.awareness + d.interest + d.decision + d.purchase))
    aw_extra = ""
    if first_touch:
        aw_extra += f", arg_min({first_touch}, occurred_at) AS dim"
    if with_ids:
        aw_extra += ", max(customer_id) AS customer_id, arg_min(anonymous_id, occurred_at) AS anonymous_id"
    category = ", arg_min(e.category, e.occurred_at) AS interest_category" if by == "category" else ""
    if d.interest_min_events == 1:
        interest = f"""
            SELECT e.pk, min(e.occurred_at) AS t1{category}
            FROM ev e JOIN aw USING (pk)
            WHERE e.type IN {_in_list(d.interest)} AND e.occurred_at >= aw.t0
            GROUP BY e.pk"""
    else:
        interest = f"""
            SELECT pk, occurred_at AS t1{", category AS interest_category" if by == "category" else ""} FROM (
                SELECT e.pk, e.occurred_at{", e.category" if by == "category" else ""},
                       row_number() OVER (PARTITION BY e.pk ORDER BY e.occurred_at) AS n
                FROM ev e JOIN aw USING (pk)
                WHERE e.type IN {_in_list(d.interest)} AND e.occurred_at >= aw.t0
            ) WHERE n = {int(d.interest_min_events)}"""
    dim_out = "aw.dim" if first_touch else ("it.interest_category" if by == "category" else "NULL")
    ids_out = ", aw.customer_id, aw.anonymous_id" if with_ids else ""
    return f"""
        WITH ev AS MATERIALIZED (
            SELECT {", ".join(c if c != "pk" else f"{PERSON_KEY} AS pk" for c in ev_cols)}
            FROM events
            WHERE {where} AND (customer_id IS NOT NULL OR anonymous_id IS NOT NULL)
              AND type IN {_in_list(all_types)}
        ),
        aw AS (
            SELECT pk, min(occurred_at) AS t0{aw_extra}
            FROM ev WHERE type IN {_in_list(d.awareness)} GROUP BY pk
        ),
        it AS ({interest}),
        dc AS (
            SELECT e.pk, min(e.occurred_at) AS t2
            FROM ev e JOIN it USING (pk)
            WHERE e.type IN {_in_list(d.decision)} AND e.occurred_at >= it.t1 GROUP BY e.pk
        ),
        pu AS (
            SELECT e.pk, min(e.occurred_at) AS t3
            FROM ev e JOIN dc USING (pk)
            WHERE e.type IN {_in_list(d.purchase)} AND e.occurred_at >= dc.t2 GROUP BY e.pk
        ),
        rt AS (
            SELECT e.pk, min(e.occurred_at) AS t4
            FROM ev e JOIN pu USING (pk)
            WHERE e.type IN {_in_list(d.purchase)} AND e.occurred_at > pu.t3
              AND e.occurred_at <= pu.t3 + INTERVAL {int(d.retention_days)} DAY
            GROUP BY e.pk
        )
        SELECT aw.pk, aw.t0 AS first_at, {dim_out} AS dim{ids_out}, aw.t0, it.t1, dc.t2, pu.t3, rt.t4
        FROM aw LEFT JOIN it USING (pk) LEFT JOIN dc USING (pk) LEFT JOIN pu USING (pk)
                LEFT JOIN rt USING (pk)
    """


def _window(date_from: dt.datetime | None, date_to: dt.datetime | None) -> tuple[str, list[Any]]:
    clauses, params = ["TRUE"], []
    if date_from is not None:
        clauses.append("occurred_at >= ?")
        params.append(naive_utc(date_from))
    if date_to is not None:
        clauses.append("occurred_at < ?")
        params.append(naive_utc(date_to))
    return " AND ".join(clauses), params


def funnel(con: duckdb.DuckDBPyConnection, *, date_from: dt.datetime | None = None, date_to: dt.datetime | None = None,
           by: str | None = None, definition: FunnelDefinition = FunnelDefinition()) -> dict[str, Any]:
    if by is not None and by not in BREAKDOWNS:
        raise ValidationProblem.for_field("by", f"must be one of {', '.join(BREAKDOWNS)}")
    definition = definition.validated()
    where, params = _window(date_from, date_to)
    dim = _dimension_sql(by)
    times = ["t0", "t1", "t2", "t3", "t4"]
    counts = ", ".join(f"count({t})" for t in times)
    medians = ", ".join(f"median(epoch({b}) - epoch({a}))" for a, b in zip(times, times[1:]))
    sql = f"""
        WITH p AS ({person_stages_sql(definition, where, by=by)}),
        k AS (SELECT *, {dim} AS key FROM p)
        {"SELECT grouping(key) AS is_total, key" if by else "SELECT 1 AS is_total, NULL AS key"}, {counts}, {medians}
        FROM k {"GROUP BY GROUPING SETS ((), (key)) ORDER BY is_total DESC, key NULLS FIRST" if by else ""}
    """
    rows = con.execute(sql, params).fetchall()
    total = _stages((0,) * 5, (None,) * 4)
    groups = []
    for row in rows:
        stages = _stages(row[2:7], row[7:11])
        if row[0]:
            total = stages
        else:
            groups.append({"key": row[1], "stages": stages})
    out: dict[str, Any] = {
        "from": date_from.isoformat() if date_from else None,
        "to": date_to.isoformat() if date_to else None,
        "by": by,
        "definition": definition.as_dict(),
        "stages": total,
    }
    if by:
        out["breakdown"] = groups
    return out


def _stages(counts: tuple[Any, ...], medians: tuple[Any, ...]) -> list[dict[str, Any]]:
    out = []
    first = counts[0] or 0
    for i, stage in enumerate(STAGES):
        n = int(counts[i] or 0)
        prev = int(counts[i - 1] or 0) if i else n
        nxt = int(counts[i + 1] or 0) if i + 1 < len(STAGES) else None
        out.append({
            "stage": stage,
            "count": n,
            "conversion": round(n / prev, 6) if prev else 0.0,
            "overall_conversion": round(n / first, 6) if first else 0.0,
            "drop_off": (round(1 - nxt / n, 6) if n else 0.0) if nxt is not None else None,
            "median_time_to_next": float(medians[i]) if i < 4 and medians[i] is not None else None,
        })
    return out


def person_stages(con: duckdb.DuckDBPyConnection, *, definition: FunnelDefinition = FunnelDefinition(),
                  customer_ids: list[int] | None = None, stage: str | None = None, limit: int = 100,
                  after_person: str | None = None) -> list[dict[str, Any]]:
    """Each person's current stage (the furthest reached) and when they reached it."""
    definition = definition.validated()
    where, params = "TRUE", []
    if customer_ids is not None:
        if not customer_ids:
            return []
        where = f"customer_id IN ({', '.join(str(int(c)) for c in customer_ids)})"
    stage_expr = ("CASE WHEN t4 IS NOT NULL THEN 'retention' WHEN t3 IS NOT NULL THEN 'purchase' "
                  "WHEN t2 IS NOT NULL THEN 'decision' WHEN t1 IS NOT NULL THEN 'interest' ELSE 'awareness' END")
    reached = "COALESCE(t4, t3, t2, t1, t0)"
    filters = ["TRUE"]
    if stage is not None:
        if stage not in STAGES:
            raise ValidationProblem.for_field("stage", f"must be one of {', '.join(STAGES)}")
        filters.append(f"stage = '{stage}'")
    if after_person is not None:
        filters.append("person > ?")
    sql = f"""
        WITH p AS ({person_stages_sql(definition, where, with_ids=True)})
        SELECT * FROM (
            SELECT CASE WHEN customer_id IS NOT NULL THEN 'c:' || CAST(customer_id AS VARCHAR)
                        ELSE 'a:' || anonymous_id END AS person,
                   customer_id, {stage_expr} AS stage, {reached} AS reached_at FROM p)
        WHERE {' AND '.join(filters)} ORDER BY person LIMIT {int(limit)}
    """
    rows = con.execute(sql, params + ([after_person] if after_person is not None else [])).fetchall()
    return [{"person": p, "customer_id": c, "anonymous_id": None if c is not None else p[2:], "stage": s,
             "reached_at": r.replace(tzinfo=dt.timezone.utc).isoformat() if r else None} for p, c, s, r in rows]

"""Which sales lines a report covers: a period, one currency, optionally one sales rep."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import duckdb

from merx.core.money import exponent


@dataclass(frozen=True)
class SalesScope:
    date_from: dt.datetime | None = None  # inclusive
    date_to: dt.datetime | None = None  # exclusive
    currency: str | None = None  # None: the currency with the most lines in the period
    sales_rep_user_id: int | None = None  # set for a sales rep: only their own figures
    source: str | None = None

    def where(self, alias: str = "") -> tuple[str, list[Any]]:
        p = f"{alias}." if alias else ""
        clauses, params = ["TRUE"], []
        if self.date_from is not None:
            clauses.append(f"{p}occurred_at >= ?")
            params.append(naive_utc(self.date_from))
        if self.date_to is not None:
            clauses.append(f"{p}occurred_at < ?")
            params.append(naive_utc(self.date_to))
        if self.currency is not None:
            clauses.append(f"{p}currency = ?")
            params.append(self.currency)
        if self.sales_rep_user_id is not None:
            clauses.append(f"{p}sales_rep_user_id = ?")
            params.append(self.sales_rep_user_id)
        if self.source is not None:
            clauses.append(f"{p}source = ?")
            params.append(self.source)
        return " AND ".join(clauses), params

    def resolved(self, con: duckdb.DuckDBPyConnection) -> "SalesScope":
        """Pin the currency: reports never add amounts of different currencies."""
        if self.currency is not None:
            return self
        where, params = self.where()
        row = con.execute(f"SELECT currency FROM sales WHERE {where} GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1",
                          params).fetchall()
        return replace(self, currency=row[0][0] if row else "EUR")


def naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def to_amount(minor: int | float | None, currency: str) -> Decimal:
    if minor is None:
        return Decimal(0).scaleb(-exponent(currency))
    return Decimal(int(round(minor))).scaleb(-exponent(currency))


def amount_str(minor: int | float | None, currency: str) -> str:
    return format(to_amount(minor, currency), "f")

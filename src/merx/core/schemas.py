"""API shapes shared by every context."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from merx.core.money import Money, MoneyError, check_currency, parse_amount

T = TypeVar("T")


class StrictModel(BaseModel):
    """Input models reject unknown fields: a typo in a field name is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MoneyIn(StrictModel):
    # currency first: the amount's check needs it (its decimal places depend on the currency)
    currency: str
    amount: Any

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        try:
            return check_currency(v)
        except MoneyError as e:
            raise PydanticCustomError("currency", str(e)) from None

    @field_validator("amount")
    @classmethod
    def _amount(cls, v: Any, info: Any) -> str:
        currency = info.data.get("currency")
        if currency is None:
            # currency already failed; still reject floats so both problems are reported
            if isinstance(v, float):
                raise PydanticCustomError("amount", "must be a decimal string such as \"19.99\", not a float")
            return str(v)
        try:
            return format(parse_amount(v, currency), "f")
        except MoneyError as e:
            raise PydanticCustomError("amount", str(e)) from None

    def to_money(self) -> Money:
        return Money(Decimal(self.amount), self.currency)


class MoneyOut(BaseModel):
    amount: str
    currency: str

    @classmethod
    def of(cls, money: Money) -> "MoneyOut":
        return cls(**money.as_dict())


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None

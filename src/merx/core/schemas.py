"""API shapes shared by every context."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from merx.core.money import Money, MoneyError, check_currency, parse_amount
from merx.core.validation import check_input_value

T = TypeVar("T")


class StrictModel(BaseModel):
    """Input models reject unknown fields: a typo in a field name is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, v: Any) -> Any:
        # every field of every request body: no 64-bit overflow, NaN, or control character
        # reaches a database that would refuse it with a 500 (core/validation.py)
        return check_input_value(v)


class PatchModel(StrictModel):
    """A partial update: an absent field is left alone. Fields listed in NOT_NULL may be
    omitted but not sent as null (their column has no "unknown" value)."""

    NOT_NULL: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_null_for_required(cls, v: Any, info: ValidationInfo) -> Any:
        # runs only for fields the caller sent: an omitted one keeps its default silently
        if v is None and info.field_name in cls.NOT_NULL:
            raise PydanticCustomError("not_null", "may be omitted but not null")
        return v


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

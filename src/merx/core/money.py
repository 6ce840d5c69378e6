"""Money: a Decimal amount with an ISO 4217 currency. Never a float.

Amounts are stored as integers of the currency's minor unit (cents for EUR, yen for JPY,
fils for KWD): exact on every database and cheap to sum, sort and filter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

# Active ISO 4217 codes and their minor-unit exponents.
_EXP0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXP3 = "BHD IQD JOD KWD LYD OMR TND"
_EXP4 = "CLF UYW"
_EXP2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF "
    "CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD "
    "HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT "
    "MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR "
    "SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU "
    "UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)
CURRENCY_EXPONENTS: dict[str, int] = {
    **{c: 0 for c in _EXP0.split()},
    **{c: 2 for c in _EXP2.split()},
    **{c: 3 for c in _EXP3.split()},
    **{c: 4 for c in _EXP4.split()},
}

# ASCII digits only: `\d` and Decimal() also take Arabic-Indic or full-width digits.
_AMOUNT_RE = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,8})?")


class MoneyError(ValueError):
    """Carries the sub-field that is wrong ("amount" or "currency")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_currency(code: str) -> str:
    if not isinstance(code, str) or code.upper() != code or code not in CURRENCY_EXPONENTS:
        raise MoneyError("currency", f"{code!r} is not an ISO 4217 currency code (for example EUR, PLN, USD)")
    return code


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[check_currency(currency)]


def parse_amount(value: object, currency: str, *, allow_negative: bool = False) -> Decimal:
    """A decimal string with no more fractional digits than the currency has."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise MoneyError("amount", "must be a decimal string such as \"19.99\", not a float")
    text = str(value).strip()
    if not _AMOUNT_RE.fullmatch(text):
        raise MoneyError("amount", f"{text!r} is not a decimal amount such as \"19.99\"")
    try:
        amount = Decimal(text)
    except InvalidOperation as e:  # pragma: no cover - the regex admits only valid decimals
        raise MoneyError("amount", f"{text!r} is not a decimal amount") from e
    if amount < 0 and not allow_negative:
        raise MoneyError("amount", "must not be negative")
    exp = exponent(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-exp)):
        raise MoneyError("amount", f"{currency} has {exp} decimal places; {text} would be rounded")
    return amount


@dataclass(frozen=True, order=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: object, currency: str, *, allow_negative: bool = False) -> "Money":
        check_currency(currency)
        return cls(parse_amount(amount, currency, allow_negative=allow_negative), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> "Money":
        return cls(Decimal(minor).scaleb(-exponent(currency)), currency)

    @property
    def minor(self) -> int:
        return int(self.amount.scaleb(exponent(self.currency)).to_integral_value(ROUND_HALF_UP))

    def quantized(self, rounding: str = ROUND_HALF_EVEN) -> "Money":
        return Money(self.amount.quantize(Decimal(1).scaleb(-exponent(self.currency)), rounding), self.currency)

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def _same(self, other: "Money") -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def as_dict(self) -> dict[str, str]:
        return {"amount": format_amount(self.amount, self.currency), "currency": self.currency}


def format_amount(amount: Decimal, currency: str) -> str:
    return format(amount.quantize(Decimal(1).scaleb(-exponent(currency))), "f")


def minor_to_str(minor: int, currency: str) -> str:
    return format_amount(Decimal(minor).scaleb(-exponent(currency)), currency)

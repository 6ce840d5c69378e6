"""Finding duplicate leads: normalised email, phone (E.164), tax id, and a fuzzy company name.

The company name is compared with rapidfuzz (`fuzz.token_sort_ratio` on the name key from
rules.company_key: legal forms and punctuation dropped), a C library made for this; names are
blocked by their first four letters and the numbers they contain, so a large import compares each
name with its few neighbours, not with every lead (benchmarks/lead_import.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Hashable, TypeVar

import re

from rapidfuzz import fuzz, process

_DIGITS = re.compile(r"\d+")
COMPANY_THRESHOLD = 92  # token_sort_ratio: "Green Leaf Gardens" ~ "Greenleaf Gardens" (94); "Green Acres" no

R = TypeVar("R", bound=Hashable)


@dataclass(frozen=True)
class Keys:
    email: str | None
    phone: str | None
    tax_id: str | None
    company: str | None  # rules.company_key


def _block(company: str) -> str:
    """The first four letters (spaces ignored: "Green Leaf" meets "Greenleaf") and the numbers in
    the name (which must agree anyway: see `match`)."""
    return company.replace(" ", "")[:4] + "|" + " ".join(_DIGITS.findall(company))


class LeadIndex(Generic[R]):
    """Keys of known leads -> a reference (a lead id, or a row of an import); first match wins in
    the order email, phone, tax id, company name."""

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], R] = {}
        self._blocks: dict[str, tuple[list[str], list[R]]] = {}

    def add(self, keys: Keys, ref: R) -> None:
        for kind in ("email", "phone", "tax_id"):
            value = getattr(keys, kind)
            if value:
                self._exact.setdefault((kind, value), ref)
        if keys.company:
            names, refs = self._blocks.setdefault(_block(keys.company), ([], []))
            names.append(keys.company)
            refs.append(ref)

    def match(self, keys: Keys) -> tuple[R, str] | None:
        for kind in ("email", "phone", "tax_id"):
            value = getattr(keys, kind)
            if value and (kind, value) in self._exact:
                return self._exact[(kind, value)], kind
        if keys.company:
            block = self._blocks.get(_block(keys.company))
            if block:
                # numbers name different shops or branches ("Garden 12" is not "Garden 13"): they must agree
                digits = _DIGITS.findall(keys.company)
                for _, score, i in process.extract(keys.company, block[0], scorer=fuzz.token_sort_ratio,
                                                   score_cutoff=COMPANY_THRESHOLD, limit=5):
                    if _DIGITS.findall(block[0][i]) == digits:
                        return block[1][i], f"company~{round(score)}"
        return None

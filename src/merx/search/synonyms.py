"""Query words and their alternatives: the synonym table (from the database, per language)
and the Russian/Ukrainian second reading of a query typed without the letters that tell them
apart. The pipeline (`ranking.py`) turns each group of alternatives into one clause."""

from __future__ import annotations

from typing import Iterable, Sequence

from merx.search.analysis import QueryToken, analyze, analyze_query

_RU_ONLY = frozenset("ыэъё")
_UK_ONLY = frozenset("іїєґ")


class SynonymTable:
    """Per language: analysed token sequence -> alternative token sequences. Two-way sets
    make every term an alternative of every other; one-way sets expand only the first term
    to the others (`notebook` -> `laptop` but not back)."""

    def __init__(self, entries: Iterable[tuple[str, Sequence[str], bool]] = ()) -> None:
        self.by_lang: dict[str, dict[tuple[str, ...], list[tuple[str, ...]]]] = {}
        self.max_len = 1
        for lang, terms, one_way in entries:
            self.add(lang, terms, one_way)

    def add(self, lang: str, terms: Sequence[str], one_way: bool) -> None:
        analysed = [tuple(analyze(t, lang, for_query=True, keep_stop_words=True)) for t in terms]
        analysed = [a for a in analysed if a]
        table = self.by_lang.setdefault(lang, {})
        sources = analysed[:1] if one_way else analysed
        for src in sources:
            alts = table.setdefault(src, [])
            for other in analysed:
                if other != src and other not in alts:
                    alts.append(other)
            self.max_len = max(self.max_len, len(src))

    def groups(self, lang: str, tokens: list[QueryToken]) -> list[list[tuple[QueryToken, ...]]]:
        """Query tokens -> groups of alternatives (a group is one word or phrase of the query)."""
        table = self.by_lang.get(lang, {})
        out: list[list[tuple[QueryToken, ...]]] = []
        i = 0
        while i < len(tokens):
            matched = False
            for k in range(min(self.max_len, len(tokens) - i), 0, -1):
                key = tuple(t.text for t in tokens[i:i + k])
                if key in table:
                    group = [tuple(tokens[i:i + k])]
                    group += [tuple(QueryToken(s, s, True) for s in alt) for alt in table[key]]
                    out.append(group)
                    i += k
                    matched = True
                    break
            if not matched:
                out.append([(tokens[i],)])
                i += 1
        return out


def cyrillic_alternatives(q: str, lang: str, tokens: list[QueryToken]) -> list[QueryToken | None]:
    """Russian and Ukrainian share most letters: a query without a letter only one of them has
    («навушники бездротові» has none of і ї є ґ) is lemmatised both ways, and each word may
    match either lemma, so Ukrainian catalog text is found by a query guessed as Russian."""
    if lang not in ("ru", "uk"):
        return [None] * len(tokens)
    letters = set(q.casefold())
    if letters & (_RU_ONLY | _UK_ONLY):
        return [None] * len(tokens)
    other = analyze_query(q, "uk" if lang == "ru" else "ru")
    if len(other) != len(tokens):
        return [None] * len(tokens)
    return [o if o.text != t.text else None for t, o in zip(tokens, other)]

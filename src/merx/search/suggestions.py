"""What a page that found nothing offers instead (issue 20, defect 11)."""

from __future__ import annotations

import sqlalchemy as sa

from merx.core.uow import UnitOfWork
from merx.search import models as m


def suggest_queries(uow: UnitOfWork, q: str, lang: str, *, limit: int = 5) -> list[str]:
    """What to offer on a page that found nothing: the category and brand names and the
    queries that found something in this shop, closest to what was typed first (by
    difflib's similarity ratio, word by word); without a close one, the most searched
    queries that found something."""
    import difflib

    from merx.catalog.public import list_brands, list_categories

    typed = q.strip().casefold()
    words = typed.split()
    successful = [(text, n) for text, n in uow.session.execute(
        sa.select(sa.func.min(m.SearchLog.query_text), sa.func.count().label("n"))
        .where(m.SearchLog.zero_results.is_(False), m.SearchLog.total > 0, m.SearchLog.query_key != "",
               m.SearchLog.lang == lang)
        .group_by(m.SearchLog.query_key).order_by(sa.desc("n")).limit(300))]
    names = [c.name for c in list_categories(uow)] + [b.name for b in list_brands(uow)]
    candidates: dict[str, float] = {}
    for text, popularity in [(t, n) for t, n in successful] + [(n, 0) for n in names]:
        cand = text.strip()
        folded = cand.casefold()
        if not cand or folded == typed:
            continue
        ratio = difflib.SequenceMatcher(None, typed, folded).ratio()
        for w in words:
            for cw in folded.split():
                if len(w) >= 3 and len(cw) >= 3:
                    ratio = max(ratio, difflib.SequenceMatcher(None, w, cw).ratio() * (0.95 if len(words) == 1 else 0.8))
        if ratio >= 0.6:
            candidates[cand] = max(candidates.get(cand, 0.0), ratio + min(popularity, 100) / 10_000)
    ranked = sorted(candidates, key=lambda c: (-candidates[c], c))[:limit]
    if ranked:
        return ranked
    return [t for t, _ in successful[:limit]]

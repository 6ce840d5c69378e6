"""Message templates: Jinja2's SandboxedEnvironment (a template edited by staff cannot reach
Python internals: attribute access to `__class__`, `mro` and the like raises), StrictUndefined
(a missing field is an error naming it, so that recipient is skipped with the reason, never
sent "Hello ,"), HTML escaped in the HTML part. Lookup falls back per language: the exact
locale, its language ("pt-BR" -> "pt"), the shop's default locale, then English.
`recommendations(category=..., like=..., limit=...)` inserts products from search
(marketing/recommend.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from merx.core.errors import NotFound
from merx.core.uow import UnitOfWork
from merx.marketing import defaults
from merx.marketing.models import MessageTemplate

_TEXT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_HTML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


class RenderError(Exception):
    """The template could not be rendered for this recipient (reason in the message)."""


@dataclass(frozen=True)
class Source:
    key: str
    locale: str
    channel: str
    subject: str
    text: str
    html: str | None
    edited: bool


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    locale: str


def locale_chain(locale: str | None, default: str) -> list[str]:
    chain: list[str] = []
    for candidate in (locale, (locale or "").split("-")[0].split("_")[0], default, "en"):
        if candidate and candidate not in chain:
            chain.append(candidate)
    return chain


class TemplateBook:
    """The templates of one batch: edited rows read once, built-ins, compiled once each."""

    def __init__(self, uow: UnitOfWork, channel: str = "email") -> None:
        self.channel = channel
        self.default_locale = uow.settings.default_locale
        self._edited = {(t.key, t.locale): t for t in uow.session.scalars(
            sa.select(MessageTemplate).where(MessageTemplate.channel == channel))}
        self._compiled: dict[tuple[str, str, str], Any] = {}
        from merx.marketing.recommend import Recommender

        self._recommender = recommender = Recommender(uow)

        def recommendations(category: str | None = None, like: str | None = None, limit: int = 3) -> list[Any]:
            # a plain function, not the object: a template can read an object's public
            # attributes (its unit of work), but a function has none the sandbox lets through
            return recommender(category=category, like=like, limit=limit)

        self.recommendations = recommendations

    def source(self, key: str, locale: str | None) -> Source:
        for loc in locale_chain(locale, self.default_locale):
            row = self._edited.get((key, loc))
            if row is not None:
                return Source(key, loc, self.channel, row.subject, row.body_text, row.body_html, True)
            built = defaults.BUILT_IN.get(key, {}).get(loc)
            if built is not None:
                return Source(key, loc, self.channel, built[0], built[1], defaults.html_source(built[1]), False)
        raise NotFound(f"No template {key!r} in any language")

    def _template(self, env: SandboxedEnvironment, src: Source, part: str, text: str) -> Any:
        key = (src.key + ("*" if src.edited else ""), src.locale, part)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = env.from_string(text)
        return compiled

    def render(self, key: str, locale: str | None, context: dict[str, Any],
               link: Callable[[str], str] | None = None) -> Rendered:
        src = self.source(key, locale)
        self._recommender.locale = src.locale
        ctx = dict(context, link=link or (lambda url: url), recommendations=self.recommendations)
        try:
            subject = self._template(_TEXT, src, "s", src.subject).render(ctx).strip()
            text = self._template(_TEXT, src, "t", src.text).render(ctx)
            html = self._template(_HTML, src, "h", src.html).render(ctx) if src.html else None
        except TemplateError as e:
            raise RenderError(f"template {key}/{src.locale}: {type(e).__name__}: {e}") from None
        except (TypeError, ValueError, ArithmeticError) as e:
            raise RenderError(f"template {key}/{src.locale}: {type(e).__name__}: {e}") from None
        return Rendered(subject.replace("\n", " ")[:500], text, html, src.locale)


def check_syntax(subject: str, text: str, html: str | None) -> list[tuple[str, str]]:
    """(field, problem) for each part that does not compile."""
    problems = []
    for field, source, env in (("subject", subject, _TEXT), ("body_text", text, _TEXT), ("body_html", html, _HTML)):
        if source is None:
            continue
        try:
            env.from_string(source)
        except TemplateError as e:
            problems.append((field, f"{type(e).__name__}: {e}"))
    return problems

"""Text analysis per language: the one chain that both product texts and queries go through,
so that a query word and a catalog word meet as the same token in the index.

Chain: Unicode NFKC -> case folding (Turkish-aware) -> tokenisation (Chinese by jieba word
segmentation, Japanese by character bigrams, everything else by letter/digit runs) -> stop
words -> lemmatisation or stemming -> accent folding where the language allows it.

Per-language decisions (see docs/search-quality.md):
- ru, uk: dictionary lemmatisation with pymorphy3 (`корабли` -> `корабль`), so singular and
  plural, every case, give the same token. Russian folds `ё` to `е` (writers mix them);
  Ukrainian keeps `і ї є ґ` (distinct letters) and folds nothing.
- pl: lemmatisation with simplemma (dictionary based: `krzeseł` -> `krzesło`); no accent
  folding, because `ł ą ę ś ż ź ć ń ó` are letters of their own (`laska` is not `łaska`);
  a shopper who types without them is still served by typo tolerance.
- bg, sk, lv, hr, sl, sr: simplemma lemmatisation, no folding.
- en, ro, de, fr, es, it, pt, nl, sv, da, no, fi, hu, lt, et, cs, tr: Snowball stemmers
  (`snowballstemmer`), then accent folding for ro, de, fr, es, it, pt, nl, cs, hu, lt (users
  routinely type without diacritics; stemming runs first because the stemmers expect them).
  Nordic å/ä/ö, Estonian õ and Turkish ç/ğ/ş/ı are letters of their own: not folded.
- zh: jieba. Documents are cut in "search" mode (a long word also yields its parts:
  智能手机 -> 智能, 手机, 智能手机) and queries in precise mode, so both `手机` and `智能手机`
  find a smartphone.
- ja: no morphological analyser is installed; kanji/kana runs become overlapping character
  bigrams (the usual CJK fallback). ko: whitespace words, no stemming.

Numbers and codes (`tokens with digits`) are never stemmed nor folded, and the query planner
never applies typo tolerance to them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

SNOWBALL_LANGUAGES = {
    "en": "english", "ro": "romanian", "de": "german", "fr": "french", "es": "spanish", "it": "italian",
    "pt": "portuguese", "nl": "dutch", "sv": "swedish", "da": "danish", "no": "norwegian", "fi": "finnish",
    "hu": "hungarian", "lt": "lithuanian", "et": "estonian", "cs": "czech", "tr": "turkish",
}
SIMPLEMMA_LANGUAGES = {"pl", "bg", "sk", "lv", "hr", "sl", "sr"}
MORPH_LANGUAGES = {"ru", "uk"}
ACCENT_FOLDING = {"en", "ro", "de", "fr", "es", "it", "pt", "nl", "cs", "hu", "lt", "sk", "sl", "hr"}
SUPPORTED = set(SNOWBALL_LANGUAGES) | SIMPLEMMA_LANGUAGES | MORPH_LANGUAGES | {"zh", "ja", "ko"}

# Short lists of function words: removed from documents and queries. A query made only of
# stop words keeps them (someone searching "the who" means it).
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("a an and are as at be by for from in into is it of on or the to with without".split()),
    "ru": frozenset("и в во на с со к ко по за из от до для о об у а но или не же ли бы то это".split()),
    "uk": frozenset("і й та в у на з із зі до для про по за від а але чи не що це".split()),
    "pl": frozenset("i w we z ze na do dla o od po za a ale lub czy nie to jest".split()),
    "ro": frozenset("și si în in la cu de din pe pentru sau un o este a al ale".split()),
    "de": frozenset("und oder der die das ein eine mit für von zu im in auf ist den dem des".split()),
    "fr": frozenset("et ou le la les un une des de du pour avec sans en au aux est".split()),
    "es": frozenset("y o el la los las un una de del para con sin en al es por".split()),
    "it": frozenset("e o il lo la i gli le un una di del della per con senza in al è".split()),
    "pt": frozenset("e ou o a os as um uma de do da para com sem em no na é".split()),
    "nl": frozenset("en of de het een van voor met zonder in op is".split()),
}

_WORD_RE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+", re.UNICODE)
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_JA_RUN_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_UK_LETTERS_RE = re.compile(r"[іїєґІЇЄҐ]")
_KANA_RE = re.compile(r"[\u3040-\u30ff]")
_HANGUL_RE = re.compile(r"[\uac00-\ud7af]")


def has_digit(token: str) -> bool:
    return any(ch.isdigit() for ch in token)


def normalise(text: str, lang: str = "en") -> str:
    """NFKC + case folding (Turkish and Azeri dotted/dotless i handled before folding)."""
    text = unicodedata.normalize("NFKC", text)
    if lang == "tr":
        text = text.replace("I", "ı").replace("İ", "i")
    return text.casefold()


def fold_accents(token: str) -> str:
    decomposed = unicodedata.normalize("NFD", token)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # letters that are not base+combining mark in Unicode
    return unicodedata.normalize("NFC", stripped).replace("ß", "ss").replace("æ", "ae").replace("œ", "oe")


def guess_language(text: str, default: str = "en") -> str:
    """A cheap script-based guess for queries that did not say their language."""
    if _KANA_RE.search(text):
        return "ja"
    if _HAN_RE.search(text):
        return "zh"
    if _HANGUL_RE.search(text):
        return "ko"
    if _CYRILLIC_RE.search(text):
        return "uk" if _UK_LETTERS_RE.search(text) else ("ru" if default not in ("ru", "uk", "bg") else default)
    return default if default in SUPPORTED else "en"


# ----------------------------------------------------------------------------------------------
# Word normalisers (lemmatisers and stemmers), loaded lazily once per process
# ----------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _morph(lang: str):  # type: ignore[no-untyped-def]
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang=lang)


@lru_cache(maxsize=None)
def _snowball(lang: str):  # type: ignore[no-untyped-def]
    import snowballstemmer

    return snowballstemmer.stemmer(SNOWBALL_LANGUAGES[lang])


@lru_cache(maxsize=500_000)
def _lemma_morph(lang: str, word: str) -> str:
    if not _CYRILLIC_RE.search(word):
        return word
    return _morph(lang).parse(word)[0].normal_form


@lru_cache(maxsize=500_000)
def _lemma_simplemma(lang: str, word: str) -> str:
    import simplemma

    return simplemma.lemmatize(word, lang=lang).casefold()


@lru_cache(maxsize=500_000)
def _stem_snowball(lang: str, word: str) -> str:
    return _snowball(lang).stemWord(word)


@lru_cache(maxsize=None)
def _word_normaliser(lang: str) -> Callable[[str], str]:
    if lang in MORPH_LANGUAGES:
        if lang == "ru":
            return lambda w: _lemma_morph("ru", w.replace("ё", "е")).replace("ё", "е")
        return lambda w: _lemma_morph("uk", w)
    if lang in SIMPLEMMA_LANGUAGES:
        return lambda w: _lemma_simplemma(lang, w)
    if lang in SNOWBALL_LANGUAGES:
        if lang in ACCENT_FOLDING:
            return lambda w: fold_accents(_stem_snowball(lang, w))
        return lambda w: _stem_snowball(lang, w)
    return lambda w: w


@lru_cache(maxsize=None)
def _jieba():  # type: ignore[no-untyped-def]
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


# ----------------------------------------------------------------------------------------------
# The chain
# ----------------------------------------------------------------------------------------------

def _raw_tokens(text: str, lang: str, *, for_query: bool) -> list[str]:
    if lang == "zh" or (_HAN_RE.search(text) and lang not in ("ja",)):
        out: list[str] = []
        jb = _jieba()
        for piece in _WORD_RE.findall(text):
            if _HAN_RE.search(piece):
                cut = jb.lcut(piece) if for_query else jb.lcut_for_search(piece)
                out.extend(t for t in cut if t.strip())
            else:
                out.append(piece)
        return out
    if lang == "ja":
        out = []
        for piece in _WORD_RE.findall(text):
            if _JA_RUN_RE.fullmatch(piece) and len(piece) > 1:
                out.extend(piece[i:i + 2] for i in range(len(piece) - 1))
            else:
                out.append(piece)
        return out
    return _WORD_RE.findall(text)


_DIGIT_RE = re.compile(r"\d")


@lru_cache(maxsize=None)
def _token_normaliser(lang: str) -> Callable[[str], str]:
    """Raw token -> index token for one language, memoised (catalog vocabularies repeat)."""
    word = _word_normaliser(lang)
    cache: dict[str, str] = {}

    def normalise_token(token: str) -> str:
        out = cache.get(token)
        if out is None:
            out = token.replace(",", ".") if _DIGIT_RE.search(token) else word(token)
            if len(cache) < 1_000_000:
                cache[token] = out
        return out

    return normalise_token


def analyze(text: str | None, lang: str = "en", *, for_query: bool = False, keep_stop_words: bool = False) -> list[str]:
    """Text -> index tokens, in order (duplicates kept: term frequency matters)."""
    if not text:
        return []
    if lang not in SUPPORTED:
        lang = "en"
    if len(text) <= 120:  # names, brands, categories, attribute values: they repeat across a catalog
        return list(_analyze_short(text, lang, for_query, keep_stop_words))
    return _analyze(text, lang, for_query, keep_stop_words)


@lru_cache(maxsize=300_000)
def _analyze_short(text: str, lang: str, for_query: bool, keep_stop_words: bool) -> tuple[str, ...]:
    return tuple(_analyze(text, lang, for_query, keep_stop_words))


def _analyze(text: str, lang: str, for_query: bool, keep_stop_words: bool) -> list[str]:
    raw = _raw_tokens(normalise(text, lang), lang, for_query=for_query)
    stops = STOP_WORDS.get(lang, frozenset())
    if not keep_stop_words and stops:
        kept = [t for t in raw if t not in stops]
        if kept or not for_query:
            raw = kept
    norm = _token_normaliser(lang)
    return [t for t in map(norm, raw) if t]


def analyze_many(texts: Iterable[str | None], lang: str) -> list[str]:
    out: list[str] = []
    for t in texts:
        out.extend(analyze(t, lang))
    return out


@dataclass(frozen=True)
class QueryToken:
    """One analysed query word: `text` is the index token, `original` what the shopper typed
    (its length decides typo tolerance), `exact_only` for numbers and codes."""

    text: str
    original: str
    exact_only: bool

    @property
    def max_edits(self) -> int:
        """Typo tolerance: 1 edit from 5 letters, 2 from 9, none for numbers/codes."""
        if self.exact_only:
            return 0
        n = len(self.original)
        return 2 if n >= 9 else 1 if n >= 5 else 0


def analyze_query(query: str, lang: str) -> list[QueryToken]:
    """Like `analyze`, keeping each token's original spelling for typo tolerance decisions."""
    if lang not in SUPPORTED:
        lang = "en"
    raw = _raw_tokens(normalise(query, lang), lang, for_query=True)
    stops = STOP_WORDS.get(lang, frozenset())
    kept = [t for t in raw if t not in stops] if stops else raw
    if not kept:
        kept = raw
    normalise_token = _token_normaliser(lang)
    out: list[QueryToken] = []
    for t in kept:
        norm = normalise_token(t)
        if norm:
            out.append(QueryToken(norm, t, exact_only=has_digit(t) or bool(_HAN_RE.search(t))))
    return out


def normalise_code(code: str) -> str:
    """SKUs and EANs are matched whole: trimmed and case folded, nothing else."""
    return unicodedata.normalize("NFKC", code).strip().casefold()

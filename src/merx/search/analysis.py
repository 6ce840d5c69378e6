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
never applies typo tolerance to them.

Negation: "without", "no", "bez", "без", "fără", "不" (and the like per language, NEGATIONS)
are not dropped as stop words when a word follows them: the next content word becomes the
token `¬word` in documents and queries alike, so "pads without wings" indexes `pad ¬wing`
and a query "pads without wings" excludes products with a positive `wing` while it favours
those that say `¬wing`. Stop words and NEGATION_FILLERS ("any") between the negation and its
word carry it on ("without any leather" negates leather), and "or"/"nor" (NEGATION_LISTS)
after a negated word negate the next one too ("without arms or cushions").

Typo tolerance and prefixes work on surface words (`surface_tokens`: normalised and
accent-folded, not stemmed), so the edit distance counts the letters the shopper typed and a
stem is never fuzzed into another word («căști» -> stem `cast` must not find "cat")."""

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

# Words that negate the content word after them (see the module docstring). Chinese 不 only
# as a word of its own (jieba keeps 不锈钢 "stainless steel" whole); 无 is not one (无线 is
# "wireless").
NEGATIONS: dict[str, frozenset[str]] = {
    "en": frozenset({"without", "no", "non"}), "pl": frozenset({"bez"}), "ru": frozenset({"без"}),
    "uk": frozenset({"без"}), "ro": frozenset({"fără", "fara", "fãrã"}), "zh": frozenset({"不", "不带", "不含", "没有"}),
    "de": frozenset({"ohne"}), "fr": frozenset({"sans"}), "es": frozenset({"sin"}), "it": frozenset({"senza"}),
    "pt": frozenset({"sem"}), "nl": frozenset({"zonder"}), "bg": frozenset({"без"}), "cs": frozenset({"bez"}),
    "sk": frozenset({"bez"}),
}
NEGATED = "\u00ac"  # "¬": the prefix of a negated token
# Words between a negation and the word it negates carry the negation on ("without any
# leather" must not negate "any" and ask for leather; "bez żadnych podłokietników"); stop
# words do the same ("without the wings").
NEGATION_FILLERS: dict[str, frozenset[str]] = {
    "en": frozenset({"any"}), "pl": frozenset({"żadnych", "żadnego", "żadnej", "żaden", "żadna", "żadne"}),
    "ru": frozenset({"всяких", "всякого", "всякой", "никаких", "какого", "каких"}),
    "uk": frozenset({"жодних", "жодного", "жодної", "ніяких", "будь"}), "ro": frozenset({"niciun", "nicio"}),
    "de": frozenset({"jegliche", "jeglichen", "jeglicher"}), "fr": frozenset({"aucun", "aucune"}),
    "es": frozenset({"ningún", "ninguna", "ningun"}), "it": frozenset({"alcun", "alcuna"}),
    "bg": frozenset({"никакви"}), "cs": frozenset({"jakýchkoli", "žádných"}), "sk": frozenset({"akýchkoľvek", "žiadnych"}),
}
# "without leather or velvet": a word joined by "or"/"nor" to a negated word is negated too
# (not "and": "without sugar and lemon" is as often "with lemon"; the shopper can repeat "without").
NEGATION_LISTS: dict[str, frozenset[str]] = {
    "en": frozenset({"or", "nor"}), "pl": frozenset({"ani", "lub", "czy"}), "ru": frozenset({"или", "ни"}),
    "uk": frozenset({"або", "чи", "ні"}), "ro": frozenset({"sau", "nici"}), "de": frozenset({"oder", "noch"}),
    "fr": frozenset({"ou", "ni"}), "es": frozenset({"o", "ni"}), "it": frozenset({"o", "né", "ne"}),
    "pt": frozenset({"ou", "nem"}), "nl": frozenset({"of", "noch"}), "bg": frozenset({"или", "нито"}),
    "cs": frozenset({"ani", "nebo"}), "sk": frozenset({"ani", "alebo"}), "zh": frozenset({"或", "或者"}),
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


def _zh_query_parts(raw: list[str]) -> list[str]:
    """A Chinese query word is replaced by the pieces the document segmentation also yields
    (jieba's search mode), covering it left to right without overlaps: the precise cut keeps
    «无线耳机» whole, while a document «无线蓝牙耳机» is cut into 无线 / 蓝牙 / 耳机."""
    jb = _jieba()
    out: list[str] = []
    for tok in raw:
        if len(tok) < 3 or not _HAN_RE.search(tok):
            out.append(tok)
            continue
        parts = [p for p in jb.lcut_for_search(tok) if p != tok and len(p) > 1]
        cover, pos = [], 0
        while pos < len(tok):
            best = max((p for p in parts if tok.startswith(p, pos)), key=len, default=None)
            if best is None:
                break
            cover.append(best)
            pos += len(best)
        out.extend(cover if pos == len(tok) and len(cover) > 1 else [tok])
    return out


def _negating_chain(raw: list[str], lang: str, *, drop_stops: bool) -> list[tuple[str, bool]]:
    """(raw token, negated) pairs: negation words removed, the content word after one marked
    (past stop words and NEGATION_FILLERS), and a word joined to a negated one by "or"/"nor"
    (NEGATION_LISTS) marked too."""
    stops = STOP_WORDS.get(lang, frozenset())
    negations = NEGATIONS.get(lang, frozenset())
    fillers = stops | NEGATION_FILLERS.get(lang, frozenset())
    lists = NEGATION_LISTS.get(lang, frozenset())
    out: list[tuple[str, bool]] = []
    pending = False
    after_negated = False  # the previous kept word was negated
    for i, t in enumerate(raw):
        more = i + 1 < len(raw)
        if t in negations and more:
            pending = True
            continue
        if pending and t in fillers and more:
            continue  # the negated clause goes on to its word, even where stop words are kept
        if after_negated and t in lists and more:
            pending = True
            continue
        if drop_stops and t in stops:
            continue
        out.append((t, pending))
        after_negated, pending = pending, False
    return out


def _analyze(text: str, lang: str, for_query: bool, keep_stop_words: bool) -> list[str]:
    raw = _raw_tokens(normalise(text, lang), lang, for_query=for_query)
    if for_query and lang == "zh":
        raw = _zh_query_parts(raw)
    chain = _negating_chain(raw, lang, drop_stops=not keep_stop_words)
    if not chain and for_query:
        chain = [(t, False) for t in raw]
    norm = _token_normaliser(lang)
    out = []
    for t, negated in chain:
        n = norm(t)
        if n:
            out.append(NEGATED + n if negated else n)
    return out


def surface_form(token: str, lang: str) -> str:
    """A raw (normalised) word as typo tolerance and prefixes see it: accent folded where the
    language folds, never stemmed."""
    return fold_accents(token) if lang in ACCENT_FOLDING else (token.replace("ё", "е") if lang == "ru" else token)


def surface_tokens(text: str | None, lang: str = "en") -> list[str]:
    """Text -> surface words (no stop words, negated words left out: "without wings" must not
    make "wings" a typo-tolerant match). Chinese and numbers are matched exactly elsewhere."""
    if not text:
        return []
    if lang not in SUPPORTED:
        lang = "en"
    raw = _raw_tokens(normalise(text, lang), lang, for_query=False)
    return [surface_form(t, lang) for t, negated in _negating_chain(raw, lang, drop_stops=True)
            if not negated and not _DIGIT_RE.search(t) and not _HAN_RE.search(t)]


def meaning_text(query: str, lang: str) -> str:
    """The query as the embedding model should read it: negation words and the word each
    negates left out. A sentence embedding does not understand "without" ("pads without
    wings" lands beside products with wings); the exclusion itself is the lexical clauses',
    which filter the semantic candidates too. Measured on the study's negation set
    (docs/search-quality.md): within noise of embedding the whole query."""
    raw = _raw_tokens(normalise(query, lang), lang, for_query=True)
    kept = [t for t, negated in _negating_chain(tuple(raw), lang, drop_stops=False) if not negated]
    return " ".join(kept) if kept else query


def analyze_many(texts: Iterable[str | None], lang: str) -> list[str]:
    out: list[str] = []
    for t in texts:
        out.extend(analyze(t, lang))
    return out


@dataclass(frozen=True)
class QueryToken:
    """One analysed query word: `text` is the index token, `original` what the shopper typed
    (its length decides typo tolerance), `exact_only` for numbers and codes, `surface` the
    typed word as the surface field holds it (typo tolerance and prefixes), `negated` for a
    word after "without"/"no"/... (`text` is then the plain token, without the ¬ mark)."""

    text: str
    original: str
    exact_only: bool
    surface: str = ""
    negated: bool = False
    colour: bool = False  # a colour word: weighs less than the product noun

    @property
    def max_edits(self) -> int:
        """Typo tolerance on the surface word: 1 edit from 4 letters, 2 from 9, none for
        numbers/codes."""
        if self.exact_only:
            return 0
        n = len(self.original)
        return 2 if n >= 9 else 1 if n >= 4 else 0


def analyze_query(query: str, lang: str) -> list[QueryToken]:
    """Like `analyze`, keeping each token's original spelling for typo tolerance decisions."""
    if lang not in SUPPORTED:
        lang = "en"
    raw = _raw_tokens(normalise(query, lang), lang, for_query=True)
    if lang == "zh":
        raw = _zh_query_parts(raw)
    chain = _negating_chain(raw, lang, drop_stops=True)
    if not chain:
        chain = [(t, False) for t in raw]
    normalise_token = _token_normaliser(lang)
    out: list[QueryToken] = []
    for t, negated in chain:
        norm = normalise_token(t)
        if norm:
            exact = has_digit(t) or bool(_HAN_RE.search(t))
            out.append(QueryToken(norm, t, exact_only=exact, surface="" if exact else surface_form(t, lang),
                                  negated=negated, colour=norm in colour_words(lang)))
    return out


# Colour words per language (any form: they go through the language's own chain), so that
# "czerwone krzesło" does not rank any red product above the chairs.
_COLOURS: dict[str, str] = {
    "en": "red black white blue green yellow grey gray pink brown purple orange silver gold beige navy",
    "pl": "czerwony czerwona czerwone czarny czarna czarne biały biała białe niebieski niebieska niebieskie "
          "zielony zielona zielone żółty żółta żółte szary szara szare różowy różowa różowe brązowy brązowa "
          "brązowe fioletowy fioletowa fioletowe pomarańczowy srebrny srebrna złoty złota granatowy beżowy",
    "ro": "roșu roșie roșii roşu roşie negru neagră negre alb albă albe albastru albastră albaștri verde verzi "
          "galben galbenă gri roz maro violet mov portocaliu argintiu auriu bej bleumarin",
    "ru": "красный черный чёрный белый синий голубой зеленый зелёный желтый жёлтый серый розовый коричневый "
          "фиолетовый оранжевый серебристый золотой бежевый",
    "uk": "червоний чорний білий синій блакитний зелений жовтий сірий рожевий коричневий фіолетовий "
          "помаранчевий сріблястий золотий бежевий",
    "de": "rot schwarz weiß weiss blau grün gelb grau rosa braun lila orange silber gold beige",
    "fr": "rouge noir blanc bleu vert jaune gris rose marron violet orange argent doré beige",
    "zh": "红色 黑色 白色 蓝色 绿色 黄色 灰色 粉色 棕色 紫色 橙色 银色 金色",
}


@lru_cache(maxsize=None)
def colour_words(lang: str) -> frozenset[str]:
    words = _COLOURS.get(lang, "")
    return frozenset(tok for w in words.split() for tok in _analyze(w, lang, True, True))


def normalise_code(code: str) -> str:
    """SKUs and EANs are matched whole: trimmed and case folded, nothing else."""
    return unicodedata.normalize("NFKC", code).strip().casefold()

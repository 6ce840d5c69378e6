"""The analysis chain per language: what a query word and a catalog word become."""

from __future__ import annotations

import pytest

from merx.search.analysis import analyze, analyze_query, guess_language, normalise_code


def test_russian_plural_and_singular_give_the_same_tokens():
    plural = analyze("изумрудные корабли строителя Джонсона", "ru", for_query=True)
    singular = analyze("изумрудный корабль строителя Джонсона", "ru", for_query=True)
    assert plural == singular == ["изумрудный", "корабль", "строитель", "джонсон"]


def test_russian_folds_yo_and_ukrainian_lemmatises_with_its_own_dictionary():
    assert analyze("ёлка", "ru") == analyze("елки", "ru")
    assert analyze("кораблі", "uk") == analyze("корабель", "uk")


def test_english_stems_and_drops_stop_words():
    assert analyze("Chairs for the Office", "en") == analyze("office chair", "en")[::-1]


def test_a_query_of_only_stop_words_keeps_them():
    assert analyze_query("the who", "en") != []


def test_polish_lemmatises_without_folding_its_letters():
    assert analyze("krzeseł", "pl") == analyze("krzesło", "pl") == ["krzesło"]
    assert analyze("łaska", "pl") != analyze("laska", "pl")


@pytest.mark.parametrize("lang, accented, plain", [("fr", "café", "cafe"), ("ro", "scaune", "scaune"),
                                                   ("de", "Stühle", "stuhle"), ("es", "canción", "cancion")])
def test_accent_folding_where_the_language_allows_it(lang, accented, plain):
    assert analyze(accented, lang) == analyze(plain, lang)


def test_nordic_letters_are_not_folded():
    assert analyze("sår", "sv") != analyze("sar", "sv")


def test_chinese_is_segmented_documents_finer_than_queries():
    doc_tokens = analyze("华为智能手机", "zh")
    assert {"智能", "手机", "智能手机"} <= set(doc_tokens)
    query_tokens = analyze("我想买智能手机", "zh", for_query=True)
    # a query word is cut into the pieces the document cut also has, so they meet in the index
    assert {"智能", "手机"} <= set(query_tokens) and "我想买智能手机" not in query_tokens
    assert set(analyze("无线耳机", "zh", for_query=True)) <= set(analyze("无线蓝牙耳机", "zh"))


def test_numbers_and_codes_are_kept_whole_and_never_typo_tolerant():
    tokens = analyze_query("iPhone 15 2,5 mm", "en")
    assert [t.text for t in tokens] == ["iphon", "15", "2.5", "mm"]
    by_text = {t.text: t for t in tokens}
    assert by_text["15"].max_edits == 0 and by_text["2.5"].max_edits == 0


def test_typo_tolerance_grows_with_word_length():
    edits = {t.original: t.max_edits for t in analyze_query("sofa table cabinets refrigerator", "en")}
    assert edits == {"sofa": 1, "table": 1, "cabinets": 1, "refrigerator": 2}
    assert analyze_query("tv", "en")[0].max_edits == 0 and analyze_query("mug", "en")[0].max_edits == 0


def test_language_is_guessed_from_the_script():
    assert guess_language("смартфон", "en") == "ru"
    assert guess_language("смартфони і ноутбуки", "en") == "uk"
    assert guess_language("手机", "en") == "zh"
    assert guess_language("chair", "pl") == "pl"


def test_codes_are_only_trimmed_and_case_folded():
    assert normalise_code("  AB-12.x ") == "ab-12.x"

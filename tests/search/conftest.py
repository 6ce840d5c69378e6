"""Search fixtures: an index in a temporary directory and an engine over given documents."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The suite runs with --import-mode=importlib (test directories are not on sys.path): make
# this directory's helper module importable by the tests beside it.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def search_index(tmp_path):
    from merx.search.index import SearchIndex

    return SearchIndex(tmp_path / "index")


@pytest.fixture
def build_engine(search_index):
    """build_engine(docs, signals={pid: ProductSignals}, min_candidates=...) -> Engine."""
    from merx.search.documents import build_record
    from merx.search.ranking import Engine, RankConfig

    def _build(docs, signals=None, **config):
        signals = signals or {}
        search_index.upsert([build_record(d, signals.get(d.product_id)) for d in docs])
        return Engine(search_index, config=RankConfig(**config))

    return _build


@pytest.fixture(autouse=True)
def _no_notes_from_earlier_tests():
    """Index notes of an earlier test's events must not be flushed into this test's tables."""
    from merx.search.handlers import discard_noted

    discard_noted()
    yield

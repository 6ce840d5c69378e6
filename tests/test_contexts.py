"""The composition root: every listed context must exist (a missing one stops start-up), while
a context may go without optional modules such as handlers or a CLI."""

from __future__ import annotations

import pytest

from merx import contexts


def test_a_listed_context_whose_package_is_missing_stops_the_app_from_starting(monkeypatch, db, settings):
    from merx.app import create_app

    monkeypatch.setattr(contexts, "CONTEXTS", (*contexts.CONTEXTS, "not_a_context"))
    with pytest.raises(ImportError, match="context 'not_a_context' is listed"):
        create_app(settings, db)
    with pytest.raises(ImportError, match="context 'not_a_context' is listed"):
        contexts.handler_modules()
    with pytest.raises(ImportError, match="context 'not_a_context' is listed"):
        contexts.lifecycle_modules()


def test_contexts_may_lack_optional_modules_but_every_listed_one_is_mounted():
    assert contexts.optional_module("web", "models") is None  # the console keeps no tables
    assert contexts.optional_module("pricing", "handlers") is None  # pricing reacts to no events
    mounted = {m.__name__.split(".")[1] for m in contexts.api_modules()}
    assert mounted == set(contexts.CONTEXTS)


def test_every_context_that_keeps_customer_ids_takes_part_in_the_customer_lifecycle():
    from merx.core import lifecycle

    assert [p.name for p in lifecycle.participants()] == ["customers", "orders", "crm", "support", "search", "analytics", "marketing", "sales"]

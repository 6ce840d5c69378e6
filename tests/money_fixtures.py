"""Taxes and shipping for the web tests' seeded shop (tests/web/conftest.py seed_shop): the
default VAT rates (PL, RO, DE, GB) and a PL zone priced by weight. Plain module."""

from __future__ import annotations

from typing import Any


def seed_taxes_and_shipping(db: Any) -> None:
    from merx.core.uow import UnitOfWork
    from merx.fiscal import public as fiscal
    from merx.fiscal.schemas import MethodIn, ZoneIn

    with UnitOfWork(db) as uow:
        fiscal.seed_default_rates(uow)
    with UnitOfWork(db) as uow:
        fiscal.create_zone(uow, ZoneIn(code="PL", name="Poland", countries=["PL"]))
    with UnitOfWork(db) as uow:
        fiscal.add_method(uow, "PL", MethodIn.model_validate({
            "code": "courier", "name": "Courier", "currency": "EUR", "basis": "subtotal",
            "brackets": [{"from": "0", "price": "12.30"}], "free_over": "500.00"}))
    with UnitOfWork(db) as uow:
        fiscal.create_zone(uow, ZoneIn(code="DE", name="Germany", countries=["DE"]))
    with UnitOfWork(db) as uow:
        fiscal.add_method(uow, "DE", MethodIn.model_validate({
            "code": "dhl", "name": "DHL", "currency": "EUR", "basis": "items",
            "brackets": [{"from": "0", "price": "15.00"}]}))

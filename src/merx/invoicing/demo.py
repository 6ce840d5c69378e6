"""Demo data for money: VAT rates (PL, RO, DE, GB), shipping zones, two of the demo products made reduced-rate, and
orders paid every way the shop takes money (test card incl. 3-D Secure and a delayed
confirmation, a decline, bank transfers reconciled from a camt.053 statement, cash on
delivery, a B2B reverse-charge order), a partial refund; so the invoices, credit notes, tax
report, payments and reconciliation pages all show something. Lives in invoicing because it
drives every context below it (fiscal, payments, orders) through their public modules."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from merx.core.auth import SYSTEM
from merx.core.errors import Problem
from merx.core.uow import UnitOfWork

ADDRESSES = [
    {"name": "Anna Nowak", "line1": "ul. Długa 5", "city": "Gdańsk", "postal_code": "80-827", "country": "PL"},
    {"name": "Piotr Zieliński", "line1": "ul. Floriańska 12", "city": "Kraków", "postal_code": "31-019", "country": "PL"},
    {"name": "Jonas Weber", "line1": "Kastanienallee 3", "city": "Berlin", "postal_code": "10435", "country": "DE"},
    {"name": "Ioana Popescu", "line1": "Strada Lipscani 20", "city": "București", "postal_code": "030031",
     "country": "RO"},
    {"name": "Oliver Smith", "line1": "12 Camden High St", "city": "London", "postal_code": "NW1 0JH", "country": "GB"},
]


def _camt053(entries: list[tuple[str, str, str]]) -> bytes:
    ntry = "".join(
        f"<Ntry><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-12-01</Dt></BookgDt>"
        f"<AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls><RltdPties><Dbtr><Nm>Demo payer</Nm></Dbtr></RltdPties>"
        f"<RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>" for ref, amount, text in entries)
    return ("<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">"
            f"<BkToCstmrStmt><GrpHdr><MsgId>DEMO</MsgId></GrpHdr><Stmt><Id>DEMO-1</Id>{ntry}</Stmt></BkToCstmrStmt>"
            "</Document>").encode()


def seed(db: Any, rng: random.Random, progress: Any = None) -> dict[str, int]:
    from merx.catalog import public as catalog
    from merx.fiscal import public as fiscal
    from merx.fiscal.schemas import MethodIn, ZoneIn
    from merx.inventory import public as inventory
    from merx.orders import public as orders
    from merx.payments import public as payments
    from merx.payments import gateway_pages

    task = progress.add_task("payments, taxes, invoices", total=6) if progress is not None else None
    step = (lambda: progress.advance(task)) if progress is not None else (lambda: None)
    with UnitOfWork(db) as uow:
        fiscal.seed_default_rates(uow)
    for code, name, countries, method in (
            ("PL", "Poland", ["PL"], {"code": "courier", "name": "InPost courier", "basis": "weight",
                                      "brackets": [{"from": "0", "price": "3.90"}, {"from": "2", "price": "5.90"},
                                                   {"from": "10", "price": "9.90"}], "free_over": "150.00"}),
            ("EU", "Germany and Romania", ["DE", "RO"], {"code": "post", "name": "Post parcel", "basis": "subtotal",
                                                          "brackets": [{"from": "0", "price": "14.90"},
                                                                       {"from": "100", "price": "9.90"}],
                                                          "free_over": "400.00"}),
            ("GB", "United Kingdom", ["GB"], {"code": "dhl", "name": "DHL Express", "basis": "items",
                                              "brackets": [{"from": "0", "price": "19.90"},
                                                           {"from": "3", "price": "29.90"}]})):
        with UnitOfWork(db) as uow:
            fiscal.create_zone(uow, ZoneIn(code=code, name=name, countries=countries))
        with UnitOfWork(db) as uow:
            fiscal.add_method(uow, code, MethodIn.model_validate({**method, "currency": "EUR"}))
    step()
    # A few of the demo's own products, stocked in the Poznań warehouse; two become reduced-rate
    # (the catalog's `tax_class` attribute), so the invoices and the tax report show two rates.
    with UnitOfWork(db) as uow:
        levels = inventory.stock_levels(uow, location="WH-POZ")
        skus = [r["sku"] for r in levels][:6]
        infos = catalog.lookup_skus(uow, skus)
        skus = [s for s in skus if s in infos and infos[s].status == "active" and "EUR" in infos[s].prices]
        warehouse = inventory.get_location_by_code(uow, "WH-POZ")
        for sku in skus:
            inventory.receive_stock(uow, sku, warehouse.id, 200, reason="receipt", reference="demo")
        uow.commit()
    for sku in skus[:2]:
        with UnitOfWork(db) as uow:
            catalog.update_product(uow, infos[sku].product_id, catalog.ProductPatch(attributes={"tax_class": "reduced"}))
    step()
    if not skus:
        return {"demo orders with tax": 0}

    enabled = db.settings.enabled_payment_providers if getattr(db, "settings", None) else {"manual"}
    counts = {"demo orders with tax": 0}

    def place(email: str, lines: list[tuple[str, int]], address: dict, provider: str, *, card: str | None = None,
              channel: str = "web", vat_id: str | None = None) -> dict | None:
        provider = provider if provider in enabled else "manual"
        body = {"channel": channel, "customer": {"email": email, **({"vat_id": vat_id} if vat_id else {})},
                "lines": [{"sku": s, "quantity": q} for s, q in lines],
                "fulfilment": {"type": "ship", "address": address},
                "payment": {"provider": provider, **({"card": card} if card and provider == "testcard" else {})}}
        try:
            with UnitOfWork(db, SYSTEM) as uow:
                out = orders.place_order(uow, orders.OrderCreate.model_validate(body))
        except Problem:
            return None  # a declined card: the order is cancelled, as it should be
        counts["demo orders with tax"] += 1
        return out

    paid = []
    for i in range(10):
        address = ADDRESSES[i % len(ADDRESSES)]
        lines = [(s, rng.randint(1, 2)) for s in rng.sample(skus, rng.randint(1, 3))]
        o = place(f"demo.buyer{i}@example.com", lines, address, "testcard", card="4242 4242 4242 4242")
        if o:
            paid.append(o)
    first, last = skus[0], skus[-1]
    place("declined@example.com", [(last, 1)], ADDRESSES[0], "testcard", card="4000 0000 0000 0002")
    place("threeds@example.com", [(first, 1)], ADDRESSES[1], "testcard", card="4000 0027 6000 3184")
    delayed = place("slowbank@example.com", [(first, 2)], ADDRESSES[0], "testcard", card="4000 0000 0000 0077")
    place("cod@example.com", [(last, 2)], ADDRESSES[1], "cod")
    place("einkauf@firma-weber.de", [(last, 2)], ADDRESSES[2], "testcard", card="4242 4242 4242 4242",
          channel="b2b", vat_id="DE811569869")
    step()
    # the delayed payment: the gateway's capture arrives before its authorisation (out of order)
    if delayed and delayed["payment"]["provider"] == "testcard":
        with UnitOfWork(db) as uow:
            gateway_pages.send(uow, "captured", delayed["payment"]["reference"])
        with UnitOfWork(db) as uow:
            gateway_pages.send(uow, "authorized", delayed["payment"]["reference"])  # stale: changes nothing
    step()
    transfers = [place(f"transfer{i}@example.com", [(first, 1 + i)], ADDRESSES[i % 2], "bank_transfer")
                 for i in range(3)]
    transfers = [t for t in transfers if t and t["payment"]["provider"] == "bank_transfer"]
    if transfers:
        entries = [("DEMO-BANK-1", transfers[0]["totals"]["total"], f"Zamowienie {transfers[0]['number']}")]
        if len(transfers) > 1:
            short = Decimal(transfers[1]["totals"]["total"]) - Decimal("5.00")
            entries.append(("DEMO-BANK-2", str(short), f"order {transfers[1]['number']}"))
        entries.append(("DEMO-BANK-3", "42.00", "gift for Ania"))
        with UnitOfWork(db) as uow:
            payments.import_statement(uow, "demo-statement.xml", _camt053(entries))
    step()
    # staff refund part of one paid order: a credit note follows
    refunded = 0
    for o in paid[:2]:
        with UnitOfWork(db) as uow:
            intent = payments.intent_for_order(uow, o["id"])
        if intent is not None and intent.status == "captured":
            amount = (Decimal(intent.captured) / 3).quantize(Decimal("0.01"))
            with UnitOfWork(db) as uow:
                payments.refund(uow, intent.id, amount=str(amount), idempotency_key=f"demo-refund-{o['id']}",
                                reason="damaged in transit")
            refunded += 1
    step()
    counts["demo refunds"] = refunded
    return counts

"""The demo's sales team (`merx demo`): a manager and three reps (console passwords as the demo
admin's), 40 accounts with contacts, ~200 leads from a trade-fair scanner export, chat groups and
forums (duplicates merged), QR flyers and the web form, deals in every stage, quotes in every
state (some accepted through their links, which placed orders), contracts with a few risky ones,
and activities with overdue tasks. Everything goes through the sales use cases."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from merx.core import accounts as users
from merx.core.auth import ANONYMOUS, Principal, Role
from merx.core.db import Database, utcnow
from merx.core.errors import Problem
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.orders import public as orders
from merx.sales import accounts, activities, contracts, deals, leads, quotes, risk
from merx.sales.schemas import (AcceptIn, AccountCreate, AccountUpdate, ActivityIn, AddressIn, AssignmentRuleIn,
                                ContactIn, ContractCreate, ContractStatusIn, DealCreate, DealMove, LeadIn, QuoteCreate,
                                RejectIn)

PASSWORD = "merx-demo"
TEAM = [("Sofia Manager", "sales.manager@demo.merx", Role.staff), ("Rafał Rep", "rep1@demo.merx", Role.sales_rep),
        ("Ioana Rep", "rep2@demo.merx", Role.sales_rep), ("Lena Rep", "rep3@demo.merx", Role.sales_rep)]
TRADES = ["Garden Centre", "Nursery", "Hardware", "Home & Garden", "Agro Supply", "Florist", "DIY Market",
          "Landscaping", "Farm Shop", "Outdoor Living"]
PLACES = [("Poznań", "PL"), ("Wrocław", "PL"), ("Kraków", "PL"), ("Gdańsk", "PL"), ("Cluj", "RO"), ("Iași", "RO"),
          ("Brașov", "RO"), ("Leipzig", "DE"), ("Dresden", "DE"), ("Brno", "CZ")]
NAMES = ["Zielony", "Verde", "Grün", "Kwiat", "Floare", "Lipa", "Dąb", "Stejar", "Tilia", "Sosna", "Brad", "Wierzba",
         "Salcie", "Eiche", "Lavanda", "Mak", "Rumianek", "Słonecznik", "Cedr", "Magnolia"]
PEOPLE = ["Anna Nowak", "Jan Kowalski", "Maria Popescu", "Mihai Ionescu", "Lukas Müller", "Katarzyna Wiśniewska",
          "Elena Petrova", "Tomasz Zieliński", "Ioana Radu", "Pavel Novák", "Marta Lewandowska", "Andrei Pop"]
INTERESTS = ["seedlings", "pots", "outdoor", "tools", "irrigation", "fertiliser"]
LOST = ["price too high", "went with a competitor", "budget frozen", "no reply after the visit"]


def _phone(rng: random.Random, country: str) -> str:
    return {"PL": "+48 601 {:06d}", "RO": "+40 721 {:06d}", "DE": "+49 151 {:08d}",
            "CZ": "+420 601 {:06d}"}[country].format(rng.randint(0, 999_999))


def seed(db: Database, rng: random.Random, progress: Any) -> dict[str, int]:
    task = progress.add_task("sales team", total=7)
    now = utcnow()
    today = now.date()
    team: list[Principal] = []
    with UnitOfWork(db) as uow:
        for name, email, role in TEAM:
            u = users.create_user(uow, name=name, role=role, email=email, password=PASSWORD)
            team.append(Principal(user_id=u.id, role=role, name=name))
        uow.commit()
    manager, reps = team[0], team[1:]
    with UnitOfWork(db, manager) as uow:
        for kind, value, rep in (("territory", "PL-west", reps[0]), ("territory", "RO", reps[1]),
                                 ("interest", "outdoor", reps[2])):
            leads.add_rule(uow, AssignmentRuleIn(kind=kind, value=value, user_id=rep.user_id))  # type: ignore[arg-type]
    progress.advance(task)

    # -- accounts -----------------------------------------------------------------------------
    account_ids: list[tuple[int, Principal]] = []
    used: set[str] = set()
    for i in range(40):
        rep = reps[i % 3]
        city, country = PLACES[rng.randrange(len(PLACES))]
        base = f"{rng.choice(NAMES)} {rng.choice(TRADES)}"
        while base in used:
            base = f"{rng.choice(NAMES)} {rng.choice(TRADES)} {city}"
        used.add(base)
        person = rng.choice(PEOPLE)
        contacts = [ContactIn(name=person, email=f"buyer{i}@{base.split()[0].lower()}-demo.example",
                              phone=_phone(rng, country), position="Purchasing")]
        if rng.random() < 0.4:
            contacts.append(ContactIn(name=rng.choice(PEOPLE), email=f"owner{i}@{base.split()[0].lower()}-demo.example",
                                      position="Owner"))
        with UnitOfWork(db, rep) as uow:
            out = accounts.create_account(uow, AccountCreate(
                name=f"{base} {city}", tax_id=f"{country}{rng.randint(10**8, 10**9 - 1)}",
                addresses=[AddressIn(label="billing", line1=f"ul. Handlowa {rng.randint(1, 99)}", city=city, country=country)],
                locations=[AddressIn(label=f"branch {n + 1}", line1=f"Rynek {rng.randint(1, 40)}", city=city,
                                     country=country) for n in range(rng.randint(1, 3))],
                payment_terms=rng.choice(["prepaid", "net14", "net30", "net30", "net60"]),  # type: ignore[arg-type]
                credit_limit={"currency": "EUR", "amount": str(rng.choice([2000, 5000, 10000, 25000]))},  # type: ignore[arg-type]
                currency="EUR", tier=rng.choice(["key", "gold", "standard", "standard", "small"]),  # type: ignore[arg-type]
                territory=country if country != "PL" else rng.choice(["PL-west", "PL-east"]), contacts=contacts))
        account_ids.append((out.id, rep))
    progress.advance(task)

    # -- leads: a scanner export and chat/forum exports with duplicates, QR flyers, the web form --
    rows = ["company,contact,email,phone,country,territory,interest,source,campaign"]
    companies = []
    for i in range(170):
        city, country = PLACES[rng.randrange(len(PLACES))]
        company = f"{rng.choice(NAMES)} {rng.choice(TRADES)} {i}"
        companies.append((company, country))
        src, campaign = rng.choice([("trade_fair", "GreenFair 2026"), ("chat_group", "growers-chat"),
                                    ("forum", "garden-forum"), ("import", "partner-list")])
        rows.append(f"{company},{rng.choice(PEOPLE)},lead{i}@{company.split()[0].lower()}{i}.example,"
                    f"{_phone(rng, country)},{country},{'RO' if country == 'RO' else rng.choice(['PL-west', 'PL-east'])},"
                    f"{rng.choice(INTERESTS)},{src},{campaign}")
    for j in range(30):  # the same companies again from another channel: merged, not new
        company, country = companies[rng.randrange(len(companies))]
        variant = company.upper() if j % 2 else company.replace(" ", "  ") + " Sp. z o.o."
        rows.append(f"{variant},,,,{country},,,{rng.choice(['chat_group', 'forum'])},spring-thread")
    with UnitOfWork(db, manager) as uow:
        report = leads.import_leads(uow, "demo-leads.csv", "\n".join(rows).encode())
    with UnitOfWork(db, ANONYMOUS) as uow:
        for k in range(10):
            leads.intake(uow, LeadIn(source="qr_scan", campaign=f"flyer-{k % 3 + 1}", company=f"Flyer Garden {k}",
                                     email=f"qr{k}@flyer-demo.example", interest="seedlings"), commit=False)
        for k in range(10):
            leads.intake(uow, LeadIn(source="web_form", company=f"Web Nursery {k}", contact_name=rng.choice(PEOPLE),
                                     email=f"form{k}@web-demo.example", note="Please send your B2B price list"),
                         commit=False)
        uow.commit()
    progress.advance(task)

    # -- deals in every stage ----------------------------------------------------------------------
    stage_path = ["visit", "needs_analysis", "quote", "negotiation", "signed"]
    deal_count = 0
    for n in range(60):
        account_id, rep = account_ids[n % len(account_ids)]
        target = stage_path[n % 5] if n % 7 else "lost"
        with UnitOfWork(db, rep) as uow:
            d = deals.create_deal(uow, DealCreate(
                title=f"{rng.choice(INTERESTS).title()} season order", account_id=account_id,
                amount={"currency": "EUR", "amount": str(rng.randrange(800, 40000, 50))},  # type: ignore[arg-type]
                expected_close=today + dt.timedelta(days=rng.randint(-10, 150))))
        moved_at = now - dt.timedelta(days=rng.randint(20, 60))
        path = stage_path[1:stage_path.index(target) + 1] if target != "lost" else stage_path[1:rng.randint(1, 3)] + ["lost"]
        for stage in path:
            moved_at += dt.timedelta(days=rng.randint(2, 9))
            with UnitOfWork(db, rep) as uow:
                deals.move_deal(uow, d.id, DealMove(stage=stage, lost_reason=rng.choice(LOST) if stage == "lost"
                                                    else None), now=min(moved_at, now))
        deal_count += 1
    progress.advance(task)

    # -- quotes: drafts, awaiting approval, approved, sent, accepted through the link, declined ---------
    with UnitOfWork(db) as uow:
        levels = sorted(inventory.stock_levels(uow), key=lambda r: -r["available"])
    skus = list(dict.fromkeys(r["sku"] for r in levels if r["available"] >= 20))[:40]
    quote_count = accepted = 0
    for n in range(24 if skus else 0):
        account_id, rep = account_ids[n]
        lines = [{"sku": s, "quantity": rng.randint(1, 4),
                  "discount_percent": str(rng.choice([0, 5, 8, 15] if n % 4 == 1 else [0, 3, 5, 10]))}
                 for s in rng.sample(skus, k=min(len(skus), rng.randint(1, 3)))]
        if n == 1:  # one quote always waits for the manager (a discount above the rep's limit)
            lines[0]["discount_percent"] = "15"
        try:
            with UnitOfWork(db, rep) as uow:
                q = quotes.create_quote(uow, QuoteCreate(account_id=account_id, lines=lines,  # type: ignore[arg-type]
                                                         valid_until=today + dt.timedelta(days=30)))
        except Problem:  # a SKU without a EUR price: skip this one
            continue
        quote_count += 1
        state = n % 6
        if q.status == "pending_approval" and state in (0, 2, 3, 4):
            with UnitOfWork(db, manager) as uow:
                quotes.approve_quote(uow, q.id)
        if state in (2, 3, 4, 5) and (q.status != "pending_approval" or state != 5):
            with UnitOfWork(db, rep) as uow:
                sent = quotes.send_quote(uow, q.id)
            token = sent.accept_url.rsplit("/", 1)[1]
            if state in (3, 4):
                try:
                    with UnitOfWork(db, ANONYMOUS) as uow:
                        quotes.accept_quote(uow, token, AcceptIn(accepted_by="Demo buyer"))
                    accepted += 1
                except Problem:
                    pass
            elif state == 5:
                with UnitOfWork(db, ANONYMOUS) as uow:
                    quotes.reject_quote(uow, token, RejectIn(reason="Found a cheaper supplier"))
    progress.advance(task)

    # -- orders and payments behind the contracts; contracts with a few risky ones -----------------------
    contract_count = 0
    clause_sets = {
        "sound": [{"kind": "payment_terms", "days": 30}, {"kind": "delivery_terms", "days": 7, "incoterm": "DAP"},
                  {"kind": "penalty", "percent_per_week": "0.5", "cap_percent": "10"},
                  {"kind": "liability", "cap": {"currency": "EUR", "amount": "20000.00"}},
                  {"kind": "renewal", "auto_renew": True, "days": 60}],
        "risky": [{"kind": "payment_terms", "days": 90}, {"kind": "delivery_terms", "days": 14},
                  {"kind": "liability", "cap": None}],
    }
    for n in range(12):
        account_id, rep = account_ids[n + 10]
        risky = n in (1, 5, 9)
        with UnitOfWork(db, rep) as uow:
            acc = accounts.get_account(uow, account_id)
        if risky:  # a tight credit line the open orders below overrun
            with UnitOfWork(db, manager) as uow:
                accounts.update_account(uow, account_id, AccountUpdate(
                    credit_limit={"currency": "EUR", "amount": "5000.00"}))  # type: ignore[arg-type]
        if risky and skus:  # unpaid orders beyond the credit limit
            for _ in range(2):
                try:
                    with UnitOfWork(db) as uow:
                        orders.place_order_at_prices(
                            uow, customer_id=acc.customer_id, currency="EUR", placed_by=rep,
                            lines=[orders.PricedLine(skus[rng.randrange(len(skus))], 2, Decimal("1600.00"))])
                except Problem:
                    pass
        starts = today - dt.timedelta(days=rng.randint(30, 300))
        ends = starts + dt.timedelta(days=365)
        with UnitOfWork(db, rep) as uow:
            c = contracts.create_contract(uow, ContractCreate(
                title=f"Supply agreement {today.year}", account_id=account_id, starts_on=starts, ends_on=ends,
                value={"currency": "EUR", "amount": str(rng.randrange(5000, 80000, 500))},  # type: ignore[arg-type]
                clauses=clause_sets["risky" if risky else "sound"],  # type: ignore[arg-type]
                milestones=[{"kind": "delivery", "description": "first delivery",  # type: ignore[list-item]
                             "due_on": (today - dt.timedelta(days=12)) if risky else (today + dt.timedelta(days=20))},
                            {"kind": "payment", "description": "deposit 20%", "due_on": starts + dt.timedelta(days=14)}]))
        path = (["review", "signed", "active"] if n % 4 else ["review"]) if n != 11 else ["review", "signed", "active",
                                                                                         "completed"]
        for status in path:
            with UnitOfWork(db, rep) as uow:
                contracts.change_status(uow, c.id, ContractStatusIn(status=status))  # type: ignore[arg-type]
        contract_count += 1
    with UnitOfWork(db) as uow:
        risk.recompute_all(uow, now)
    progress.advance(task)

    # -- activities: visits, calls, notes; tasks with a few overdue ----------------------------------------
    activity_count = 0
    for n, (account_id, rep) in enumerate(account_ids):
        with UnitOfWork(db, rep) as uow:
            items = [ActivityIn(kind="visit", subject="Showroom visit", account_id=account_id,
                                location=f"Branch {n % 3 + 1}"),
                     ActivityIn(kind="call", subject="Discussed the spring assortment", account_id=account_id),
                     ActivityIn(kind="task", subject="Send the updated price list", account_id=account_id,
                                due_at=now + dt.timedelta(days=rng.randint(-12, 20)))]
            if n % 5 == 0:
                items.append(ActivityIn(kind="note", subject="Prefers deliveries on Tuesdays", account_id=account_id))
        for item in items:
            with UnitOfWork(db, rep) as uow:
                activities.log_activity(uow, item)
            activity_count += 1
    progress.advance(task)
    return {"sales accounts": len(account_ids), "leads": report.created + 20, "lead duplicates merged": report.merged,
            "deals": deal_count, "quotes": quote_count, "quotes accepted": accepted, "contracts": contract_count,
            "activities": activity_count}



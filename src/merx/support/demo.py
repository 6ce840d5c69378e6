"""Demo data for support: teams with business hours and a holiday, SLA policies, assignment
rules, canned replies and keyword auto-replies; delivered orders (so reviews are verified
purchases and follow-up calls are due); tickets of every kind on every channel, some
answered, solved, rated or past their SLA; chats (one became a ticket); reviews (published,
pending, one unverified); an NPS survey to a segment with answers; a canvas for it."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from merx.core.auth import SYSTEM
from merx.core.db import Database, utcnow
from merx.core.errors import Problem
from merx.core.uow import UnitOfWork

WEEKDAYS = {d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
TICKETS = [
    # kind, channel, subject, body, reason, tags
    ("complaint", "email", "Terracotta pot arrived cracked", "The big pot was broken in the box.", "damaged", ["packaging"]),
    ("complaint", "phone", "Courier left the parcel in the rain", "Box soaked, plant fine.", "delivery", ["delivery"]),
    ("complaint", "chat", "Lamp flickers after a week", "It flickers every evening.", "defective", ["quality"]),
    ("return_request", "web_form", "Vase smaller than in the photo", "I would like to return it.", "too small", ["size"]),
    ("return_request", "email", "Wrong colour sent", "Ordered green, got grey.", "wrong item", ["fulfilment"]),
    ("question", "email", "How often to water a fern?", "Bought a Boston fern, how often?", "care advice", ["care"]),
    ("question", "store_visit", "Can I pick up in Kraków?", "Asked at the Warsaw store.", "pickup", ["pickup"]),
    ("question", "messaging", "Do you ship to Germany?", "Message from the shop's messaging account.", "shipping",
     ["delivery"]),
    ("wish", "web_form", "Please sell self-watering pots", "Would buy three.", "assortment", ["assortment"]),
    ("wish", "chat", "Gift wrapping option", "For a birthday present.", "service", ["gifts"]),
    ("objection", "phone", "Shipping costs more than the seeds", "Would order more with free shipping.", "shipping cost",
     ["price"]),
    ("objection", "email", "Cheaper at the market", "Found the same lamp for less.", "price", ["price"]),
    ("objection", "chat", "Delivery takes too long", "Five days is too long.", "delivery time", ["delivery"]),
    ("praise", "email", "The fern is thriving!", "Thank you, great packaging.", "happy", ["packaging"]),
    ("praise", "store_visit", "Helpful staff in Warsaw", "Said at the till.", "staff", ["staff"]),
]


def _customers(uow: UnitOfWork, n: int) -> list[tuple[int, str]]:
    from merx.customers.public import list_customers_stmt

    return [(c.id, c.email) for c in uow.session.scalars(list_customers_stmt(uow).limit(n)) if c.email]


def _deliver_orders(db: Database, rng: random.Random, customers: list[tuple[int, str]]) -> list[dict[str, Any]]:
    from merx.catalog.public import lookup_skus
    from merx.inventory.public import stock_levels
    from merx.orders.public import OrderCreate, fulfil, place_order, simple_transition

    with UnitOfWork(db, SYSTEM, readonly=True) as uow:
        skus = sorted({r["sku"] for r in stock_levels(uow) if r["available"] >= 10})[:60]
        products = {s: i.product_id for s, i in lookup_skus(uow, set(skus)).items() if i.status == "active"}
    skus = [s for s in skus if s in products][:12]
    orders = []
    for n, (cid, email) in enumerate(customers[:24]):
        sku = skus[n % len(skus)] if skus else None
        if sku is None:
            break
        try:
            with UnitOfWork(db, SYSTEM) as uow:
                order = place_order(uow, OrderCreate(channel="web", customer={"id": cid, "email": email},
                                                     lines=[{"sku": sku, "quantity": 1}]))
            with UnitOfWork(db, SYSTEM) as uow:
                fulfil(uow, order["id"], carrier="DHL", tracking_number=f"JD{100000 + n}")
            with UnitOfWork(db, SYSTEM) as uow:
                simple_transition(uow, order["id"], "delivered")
        except Problem:  # a demo SKU sold out: the demo simply has one order fewer
            continue
        orders.append({"id": order["id"], "customer_id": cid, "email": email, "product_id": products[sku]})
    return orders


def seed(db: Database, rng: random.Random, progress: Any) -> dict[str, int]:
    from merx.crm.public import save_static_segment
    from merx.support import admin, chat, feedback, reviews, service, sla
    from merx.support import schemas as s

    task = progress.add_task("support", total=7)
    now = utcnow()
    with UnitOfWork(db, SYSTEM) as uow:
        customers = _customers(uow, 120)
    with UnitOfWork(db, SYSTEM) as uow:
        care = admin.create_team(uow, s.TeamIn(code="care", name="Customer care", timezone="Europe/Warsaw",
                                               hours=WEEKDAYS, holidays=[dt.date(now.year, 12, 25),
                                                                         dt.date(now.year, 12, 26)]))
    with UnitOfWork(db, SYSTEM) as uow:
        admin.create_team(uow, s.TeamIn(code="chat", name="Chat desk", timezone="Europe/Warsaw",
                                        hours={**WEEKDAYS, "sat": ["10:00", "14:00"]}))
    with UnitOfWork(db, SYSTEM) as uow:
        returns = admin.create_team(uow, s.TeamIn(code="returns", name="Returns desk", timezone="Europe/Warsaw",
                                                  hours=WEEKDAYS))
    for body in (s.SlaPolicyIn(name="Urgent", priority="urgent", first_response_minutes=30, resolution_minutes=240,
                               warn_before_minutes=10, team_id=care.id, position=10),
                 # gold-tier customers (the loyalty programme's best) are answered within the hour
                 s.SlaPolicyIn(name="Gold customers", customer_tier="gold", first_response_minutes=60,
                               resolution_minutes=480, team_id=care.id, position=15),
                 s.SlaPolicyIn(name="Complaints", kind="complaint", first_response_minutes=120,
                               resolution_minutes=960, team_id=care.id, position=20),
                 s.SlaPolicyIn(name="Standard", first_response_minutes=480, resolution_minutes=2400, team_id=care.id,
                               position=100)):
        with UnitOfWork(db, SYSTEM) as uow:
            admin.create_policy(uow, body)
    with UnitOfWork(db, SYSTEM) as uow:
        admin.create_assignment_rule(uow, s.AssignmentRuleIn(kind="return_request", team_id=returns.id))
    with UnitOfWork(db, SYSTEM) as uow:
        admin.create_assignment_rule(uow, s.AssignmentRuleIn(team_id=care.id, position=1000))
    for shortcut, title, body in (("hello", "Greeting", "Hello! How can I help you today?"),
                                  ("tracking", "Tracking", "You can follow your parcel with the link in your "
                                                           "shipping email."),
                                  ("thanks", "Thanks", "Thank you for your patience!")):
        with UnitOfWork(db, SYSTEM) as uow:
            admin.create_canned_reply(uow, s.CannedReplyIn(shortcut=shortcut, title=title, body=body))
    for keyword, reply in (("delivery", "We ship within 1 working day; delivery takes 1-3 days."),
                           ("return", "You can return anything within 30 days: Orders > Return on your order page.")):
        with UnitOfWork(db, SYSTEM) as uow:
            admin.create_auto_reply(uow, s.AutoReplyIn(keyword=keyword, reply=reply))
    with UnitOfWork(db, SYSTEM) as uow:
        feedback.create_follow_up_rule(uow, s.FollowUpRuleIn(
            name="Did it arrive well?", delay_days=14,
            script="Call the customer two weeks after delivery: did everything arrive well, and how do they like it?"))
    progress.advance(task)

    orders = _deliver_orders(db, rng, customers)
    progress.advance(task)

    counts = {"tickets": 0}
    for n, (kind, channel, subject, body, reason, tags) in enumerate(TICKETS * 2):
        cid, email = customers[(n * 7) % len(customers)] if customers else (None, None)
        opened = now - dt.timedelta(days=rng.randint(0, 40), hours=rng.randint(0, 20))
        order = orders[n % len(orders)] if orders and kind in ("complaint", "return_request") else None
        with UnitOfWork(db, SYSTEM) as uow:
            t, _ = service.open_ticket(uow, s.TicketCreate(
                kind=kind, subject=subject, body=body, channel=channel, reason=reason, tags=tags, customer_id=cid,
                requester_email=email, priority="urgent" if n % 9 == 0 else "normal",
                customer_tier="gold" if n % 5 == 2 else None,
                order_id=order["id"] if order else None, product_id=order["product_id"] if order else None,
                store_code="ST-WAW" if channel == "store_visit" else None), now=opened)
        counts["tickets"] += 1
        if n % 3 == 0:
            continue  # left unanswered: some of these are past their SLA
        with UnitOfWork(db, SYSTEM) as uow:
            solved = n % 3 == 1
            service.reply(uow, t.id, "Thank you for writing to us. " + ("We have sorted it out." if solved else
                                                                         "Could you send us a photo?"),
                          status="solved" if solved else None, now=opened + dt.timedelta(hours=rng.randint(1, 30)))
    sla.check(db, now)
    progress.advance(task)

    # CSAT answers for some solved tickets
    from merx.support.models import SurveyResponse  # our own table: the demo answers its invitations
    import sqlalchemy as sa

    answered = 0
    with UnitOfWork(db, SYSTEM) as uow:
        invites = list(uow.session.scalars(sa.select(SurveyResponse).where(SurveyResponse.kind == "csat")))
        for r in invites[: max(1, len(invites) * 2 // 3)]:
            r.score = rng.choice([5, 5, 4, 4, 3, 2])
            r.comment = {5: "Quick and friendly.", 4: "Good help.", 3: "Took a while.", 2: "Not solved really."}[r.score]
            r.answered_at = r.requested_at + dt.timedelta(hours=rng.randint(1, 48))
            answered += 1
        uow.commit()
    counts["csat_answers"] = answered

    # chats: one answered, one turned into a ticket, one waiting
    for n, (opening, answer) in enumerate((("Hi, what is the delivery time to Kraków?", "/tracking"),
                                           ("My lamp arrived without a bulb", None),
                                           ("Do you have gift cards?", None))):
        with UnitOfWork(db, SYSTEM) as uow:
            started = chat.start(uow, s.ChatStart(name=["Ola", "Piotr", "Marta"][n], message=opening,
                                                  email=customers[n][1] if customers else None))
        if answer:
            with UnitOfWork(db, SYSTEM) as uow:
                chat.post(uow, started.id, answer)
        if n == 1:
            with UnitOfWork(db, SYSTEM) as uow:
                chat.post(uow, started.id, "Sorry about that! We will send one today.")
            with UnitOfWork(db, SYSTEM) as uow:
                chat.escalate(uow, started.id, s.ChatEscalateIn(kind="complaint"))
    counts["chats"] = 3
    progress.advance(task)

    # reviews: verified purchases, mostly published; one never bought (unverified)
    made = 0
    texts = {5: ("Love it", "Exactly as described, arrived quickly."), 4: ("Good", "Nice, a bit smaller than expected."),
             3: ("OK", "Does the job."), 2: ("Disappointed", "Colour differs from the photo."),
             1: ("Broken", "Arrived broken.")}
    for n, order in enumerate(orders):
        rating = rng.choice([5, 5, 5, 4, 4, 3, 2, 1])
        with UnitOfWork(db, SYSTEM) as uow:
            review = reviews.submit(uow, s.ReviewIn(product_id=order["product_id"], rating=rating, title=texts[rating][0],
                                                    body=texts[rating][1], customer_id=order["customer_id"],
                                                    tags=["size"] if rating in (2, 4) else []))
        made += 1
        if n % 5 != 4:
            with UnitOfWork(db, SYSTEM) as uow:
                reviews.moderate(uow, review.id, "publish")
    if orders and len(customers) > 30:
        with UnitOfWork(db, SYSTEM) as uow:
            reviews.submit(uow, s.ReviewIn(product_id=orders[0]["product_id"], rating=1, body="Never got it",
                                           customer_id=customers[-1][0]))
        made += 1
    counts["reviews"] = made
    progress.advance(task)

    # NPS survey to a panel segment, with answers
    with UnitOfWork(db, SYSTEM) as uow:
        panel = save_static_segment(uow, name="NPS panel", kind="static", customer_ids=[c for c, _ in customers[:60]],
                                    description="Customers asked for NPS each quarter (demo).")
        uow.commit()
        panel_id = panel.id
    with UnitOfWork(db, SYSTEM) as uow:
        survey = feedback.create_survey(uow, s.SurveyIn(name="Quarterly NPS", segment_id=panel_id, every_days=90),
                                        now=now - dt.timedelta(days=10))
    tokens: list[str] = []
    with UnitOfWork(db, SYSTEM) as uow:
        invited = feedback.send_survey(uow, survey.id, now=now - dt.timedelta(days=10), tokens=tokens)
        uow.commit()
    detractors = 0
    for token in tokens[: len(tokens) * 2 // 3]:  # two in three answer; a detractor's answer opens a ticket
        with UnitOfWork(db, SYSTEM) as uow:
            answered_nps = feedback.answer(uow, token, rng.choice([10, 10, 9, 9, 9, 8, 8, 7, 6, 4]), rng.choice(
                [None, "Fast delivery", "Great plants", "Prices could be lower", "Packaging was excellent",
                 "Website is slow"]))
        detractors += answered_nps["follow_up_ticket_id"] is not None
    counts["nps_detractor_tickets"] = detractors
    counts["nps_invitations"] = invited
    progress.advance(task)

    # the panel's canvas, fed by tags on tickets and reviews
    for kind, label, tag in (("job", "Keep plants alive at home", "care"), ("pain", "Parcels arrive damaged", "packaging"),
                             ("pain", "Delivery is slow or costly", "delivery"), ("pain", "Sizes differ from photos",
                                                                                  "size"),
                             ("gain", "Advice from real gardeners", "staff"), ("gain", "Gift-ready orders", "gifts")):
        with UnitOfWork(db, SYSTEM) as uow:
            feedback.add_canvas_item(uow, panel_id, s.CanvasItemIn(kind=kind, label=label, tag=tag))
    progress.advance(task)
    counts["delivered_orders"] = len(orders)
    return counts

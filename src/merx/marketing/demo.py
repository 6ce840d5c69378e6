"""Demo data for marketing: email consent for most demo customers, a newsletter segment, two
past campaigns with their results (one A/B test), QR codes on a flyer, a poster and packaging
with scans, a few real orders (placed through orders.public) by customers who clicked or
scanned, running journeys (abandoned cart, post-purchase, browse abandonment, a replenishment journey
on two categories of the demo's stocked products) and two giveaways (one drawn); a past in-app campaign shown in the storefront inbox of the
customers who allowed in-app messages (some read).

The demo sends nothing: past campaigns are recorded as sent when they were prepared."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.uow import UnitOfWork


def seed(db: Any, rng: random.Random, progress: Any) -> dict[str, int]:
    from merx.crm import public as crm
    from merx.customers import public as customers
    from merx.inventory import public as inventory
    from merx.marketing import campaigns, giveaways, journeys, tracking
    from merx.marketing.models import Campaign, JourneyEnrolment, Message, Touch
    from merx.orders import public as orders

    task = progress.add_task("marketing", total=6)
    now = utcnow()
    with UnitOfWork(db, readonly=True) as uow:
        people = customers.customer_attributes(uow)
    ids = [p["id"] for p in people]
    consenting = [cid for cid in ids if rng.random() < 0.7]
    for cid in consenting:
        with UnitOfWork(db) as uow:
            crm.record_consent(uow, cid, channel="email", granted=True, source="demo signup form")
    with UnitOfWork(db) as uow:
        segment = crm.create_segment(uow, name="Newsletter audience", expression="events_count >= 0",
                                     description="Everyone (consent is checked per message)")
        segment_id = segment.id
        crm.evaluate_segment(uow, segment_id)
    progress.advance(task)

    # two past campaigns: prepared as they would have been, then recorded as delivered
    made = []
    for name, template, template_b, days_ago in (("Autumn collection", "newsletter", None, 6),
                                                 ("Winter sale (A/B subject)", "newsletter", "newsletter_b", 3)):
        started = now - dt.timedelta(days=days_ago)
        with UnitOfWork(db) as uow:
            c = campaigns.create_campaign(uow, name=name, segment_id=segment_id, template=template,
                                          template_b=template_b, ab_test_fraction=0.3 if template_b else 0.0)
            cid = c.id
        with UnitOfWork(db) as uow:
            campaigns.schedule(uow, cid, started, started)
        while True:
            with UnitOfWork(db) as uow:
                if campaigns.prepare_batch(uow, cid, started) == 0:
                    break
        made.append(cid)
    clicked: list[tuple[int, dt.datetime, int]] = []
    with UnitOfWork(db) as uow:
        for m in uow.session.scalars(sa.select(Message).where(Message.campaign_id.in_(made), Message.status == "queued")):
            camp_started = m.due_at
            m.status, m.claimed_at, m.sent_at = "sent", camp_started, camp_started + dt.timedelta(minutes=rng.randint(1, 90))
            m.provider = "smtp"
            roll = rng.random()
            open_rate, click_rate = (0.45, 0.12) if m.variant != "B" else (0.55, 0.2)
            if roll < open_rate:
                m.opened_at = m.sent_at + dt.timedelta(hours=rng.randint(1, 20))
            if roll < click_rate:
                m.clicked_at = m.opened_at
                clicked.append((m.customer_id, m.clicked_at, m.campaign_id))
                uow.session.add(Touch(kind="click", campaign_id=m.campaign_id, message_id=m.id,
                                      customer_id=m.customer_id, occurred_at=m.clicked_at))
            if rng.random() < 0.01:
                m.unsubscribed_at = m.sent_at + dt.timedelta(hours=2)
        uow.commit()
    with UnitOfWork(db) as uow:
        ab = uow.session.get(Campaign, made[1])
        stats = campaigns.variant_stats(uow, ab.id)
        from merx.marketing import rules

        a, b = stats.get("A", {"sent": 0, "clicked": 0}), stats.get("B", {"sent": 0, "clicked": 0})
        res = rules.two_proportion_test(a["clicked"], a["sent"], b["clicked"], b["sent"])
        ab.ab_result = {"a": a, "b": b, "rate_a": res.rate_a, "rate_b": res.rate_b, "z": res.z,
                        "p_value": res.p_value, "alpha": 0.05, "significant": res.significant}
        uow.commit()
    progress.advance(task)

    # QR codes with scans; some scanners are known customers (they ordered from that browser)
    qr_ids = []
    for label, source, target in (("Station flyer", "flyer", "/search?q=lamp"), ("Shop window poster", "poster", "/"),
                                  ("Parcel insert", "packaging", "/search")):
        with UnitOfWork(db) as uow:
            qr_ids.append((tracking.create_qr(uow, label=label, source=source, target_url=target,
                                              campaign_id=made[0] if source == "flyer" else None).id))
    scanners: list[tuple[int, dt.datetime, int]] = []
    with UnitOfWork(db) as uow:
        for qid in qr_ids:
            for _ in range(rng.randint(15, 40)):
                at = now - dt.timedelta(hours=rng.randint(2, 140))
                cid = rng.choice(ids) if rng.random() < 0.25 else None
                uow.session.add(Touch(kind="qr_scan", qr_code_id=qid, campaign_id=made[0] if qid == qr_ids[0] else None,
                                      customer_id=cid, visitor=f"demo-{rng.randrange(10**9)}", occurred_at=at))
                if cid is not None:
                    scanners.append((cid, at, qid))
        uow.commit()
    progress.advance(task)

    # real orders from some of the people who clicked or scanned (orders' own use case)
    with UnitOfWork(db, readonly=True) as uow:
        stocked = sorted({s["sku"] for s in inventory.stock_levels(uow, location="WH-POZ") if s.get("available", 1) > 2})
    buyers = list(dict.fromkeys([c for c, *_ in clicked] + [c for c, *_ in scanners]))[:12]
    placed = 0
    for cid in buyers:
        if not stocked:
            break
        sku = rng.choice(stocked[:200])
        try:
            with UnitOfWork(db) as uow:
                orders.place_order(uow, orders.OrderCreate(channel="web", customer={"id": cid},
                                                           lines=[{"sku": sku, "quantity": 1}],
                                                           payment={"provider": "manual"}))
            placed += 1
        except Exception:  # noqa: BLE001 - a demo order that does not fit (stock, price) is simply skipped
            continue
    progress.advance(task)

    # journeys: the built-in ones, people at different positions
    with UnitOfWork(db) as uow:
        journeys.ensure_built_in(uow)
        uow.commit()
    with UnitOfWork(db) as uow:
        from merx.marketing.models import Journey

        cart = uow.session.scalar(sa.select(Journey).where(Journey.key == "abandoned_cart"))
        post = uow.session.scalar(sa.select(Journey).where(Journey.key == "post_purchase"))
        for i, cid in enumerate(rng.sample(consenting, min(24, len(consenting)))):
            entered = now - dt.timedelta(hours=rng.randint(1, 72))
            state = ("waiting", "completed", "exited")[i % 3]
            uow.session.add(JourneyEnrolment(
                journey_id=cart.id, customer_id=cid, reference=f"cart:demo-{i}", step=0 if state == "waiting" else 0,
                state=state, next_at=entered + dt.timedelta(hours=4) if state == "waiting" else None,
                exit_reason="purchased" if state == "exited" else None, entered_at=entered, updated_at=entered))
        for i, cid in enumerate(buyers):
            uow.session.add(JourneyEnrolment(journey_id=post.id, customer_id=cid, reference=f"order:demo-{i}", step=0,
                                             state="waiting", next_at=now + dt.timedelta(days=7), entered_at=now,
                                             updated_at=now))
        uow.commit()
    _seed_browse_and_replenishment(db, rng, now, consenting, stocked)
    _seed_inapp(db, rng, now, consenting, segment_id)
    _seed_recommending_template(db, stocked)
    from merx.marketing import recipients  # a few shoppers' own time zones, as their browsers reported them

    for cid, zone in zip(consenting[-6:], ("Europe/London", "America/New_York", "Europe/Berlin", "Asia/Tokyo",
                                           "Europe/Lisbon", "America/Chicago")):
        with UnitOfWork(db) as uow:
            recipients.remember_timezone(uow, cid, zone)
    progress.advance(task)

    # giveaways: one drawn (entries from a photo contest, checked by staff), one open
    with UnitOfWork(db) as uow:
        g = giveaways.create_giveaway(uow, name="Autumn photo contest", rule="manual",
                                      starts_at=now - dt.timedelta(days=20), ends_at=now - dt.timedelta(days=1), winners=2)
        gid = g.id
    for cid in rng.sample(ids, min(30, len(ids))):
        with UnitOfWork(db) as uow:
            giveaways.add_entry(uow, gid, cid, evidence=f"https://photos.example/entry/{cid}")
    with UnitOfWork(db) as uow:
        giveaways.draw(uow, gid, seed=rng.randrange(2**32), now=now)
    with UnitOfWork(db) as uow:
        giveaways.create_giveaway(uow, name="December purchase draw", rule="purchase", starts_at=now - dt.timedelta(days=2),
                                  ends_at=now + dt.timedelta(days=20), winners=3)
    progress.advance(task)
    return {"marketing consents": len(consenting), "campaigns": len(made), "qr codes": len(qr_ids),
            "attributed orders": placed}


def _seed_browse_and_replenishment(db: Any, rng: random.Random, now: dt.datetime, consenting: list[int],
                                   stocked: list[str]) -> None:
    """People at each position of the browse-abandonment journey, and a replenishment journey
    (its intervals on the categories of stocked products) with people waiting for a reminder."""
    from merx.catalog import public as catalog
    from merx.marketing import journeys
    from merx.marketing.models import Journey, JourneyEnrolment

    with UnitOfWork(db, readonly=True) as uow:
        infos = catalog.lookup_skus(uow, stocked[:200])
    categories = list(dict.fromkeys(i.category for i in infos.values() if i.category))[:2]
    if categories:
        with UnitOfWork(db) as uow:
            journeys.create_journey(uow, key="replenishment", name="Replenishment reminder", trigger="replenishment",
                                    steps=[{"wait_hours": 0, "template": "replenishment",
                                            "replenish": [{"category": c, "days": d}
                                                          for c, d in zip(categories, (30, 60))]}])
    with UnitOfWork(db) as uow:
        browse = uow.session.scalar(sa.select(Journey).where(Journey.key == "browse_abandonment"))
        refill = uow.session.scalar(sa.select(Journey).where(Journey.key == "replenishment"))
        skus = [s for s, i in infos.items() if i.category in categories] or list(infos)
        for i, cid in enumerate(rng.sample(consenting, min(18, len(consenting)))):
            if not skus:
                break
            viewed = now - dt.timedelta(hours=rng.randint(1, 60))
            state = ("waiting", "completed", "exited")[i % 3]
            uow.session.add(JourneyEnrolment(
                journey_id=browse.id, customer_id=cid, reference=f"view:{viewed:%Y-%m-%d}:{rng.choice(skus)}"[:64],
                step=0, state=state, next_at=viewed + dt.timedelta(hours=2) if state == "waiting" else None,
                exit_reason="purchased" if state == "exited" else None, entered_at=viewed, updated_at=viewed))
            if refill is not None and i % 2 == 0:
                bought = now - dt.timedelta(days=rng.randint(1, 25))
                uow.session.add(JourneyEnrolment(
                    journey_id=refill.id, customer_id=cid, reference=f"replenish:{rng.choice(skus)}:demo-{i}"[:64],
                    step=0, state="waiting", next_at=bought + dt.timedelta(days=30), entered_at=bought,
                    updated_at=bought))
        uow.commit()


def _seed_inapp(db: Any, rng: random.Random, now: dt.datetime, consenting: list[int], segment_id: int) -> None:
    """In-app consent for part of the audience and a past in-app campaign: delivered to their
    storefront inboxes, a share of them read."""
    from merx.crm import public as crm
    from merx.marketing import campaigns
    from merx.marketing.models import Message

    for cid in consenting[: max(1, len(consenting) // 3)]:
        with UnitOfWork(db) as uow:
            crm.record_consent(uow, cid, channel="inapp", granted=True, source="demo storefront preferences")
    started = now - dt.timedelta(days=2)
    with UnitOfWork(db) as uow:
        c = campaigns.create_campaign(uow, name="Free delivery weekend (in-app)", segment_id=segment_id,
                                      template="newsletter", channel="inapp")
        cid = c.id
    with UnitOfWork(db) as uow:
        campaigns.schedule(uow, cid, started, started)
    while True:
        with UnitOfWork(db) as uow:
            if campaigns.prepare_batch(uow, cid, started) == 0:
                break
    with UnitOfWork(db) as uow:
        for m in uow.session.scalars(sa.select(Message).where(Message.campaign_id == cid, Message.status == "queued")):
            m.status, m.provider, m.claimed_at = "sent", "inapp", started
            m.sent_at = started + dt.timedelta(minutes=rng.randint(1, 30))
            if rng.random() < 0.4:
                m.opened_at = m.sent_at + dt.timedelta(hours=rng.randint(1, 30))
        uow.commit()


def _seed_recommending_template(db: Any, stocked: list[str]) -> None:
    """A template with search's recommendations for the demo's busiest category (preview it
    with a real profile on the console's templates page)."""
    from merx.catalog import public as catalog
    from merx.marketing import templates_service

    with UnitOfWork(db, readonly=True) as uow:
        counts: dict[str, int] = {}
        for info in catalog.lookup_skus(uow, stocked[:300]).values():
            if info.category:
                counts[info.category] = counts.get(info.category, 0) + 1
    if not counts:
        return
    top = max(counts, key=lambda c: counts[c])
    with UnitOfWork(db) as uow:
        templates_service.save_template(
            uow, "newsletter_picks", uow.settings.default_locale,
            subject="Picked for you, {{ customer.first_name or 'friend' }}",
            body_text="Hello {{ customer.first_name or '' }},\n\nour favourites right now:\n"
                      "{% for p in recommendations(category='" + top.replace("'", "") + "', limit=3) %}"
                      "- {{ p.name }}: {{ p.price }} {{ p.currency }} {{ link(p.url) }}\n{% endfor %}\n{{ shop.name }}",
            body_html=None)

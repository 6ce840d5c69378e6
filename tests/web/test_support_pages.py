"""Support console pages over the real ASGI stack: every page shows the data it is about,
the reply form posts, the customer 360 lists open tickets, the dashboard tile, and roles
(a support agent sees tickets and customers, not analytics; a sales rep no tickets)."""

from __future__ import annotations

import re

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _seed(db, shop):  # type: ignore[no-untyped-def]
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.crm.segments.service import save_static_segment
    from merx.customers.public import customer_id_by_email
    from merx.support import public as support

    with UnitOfWork(db, SYSTEM) as uow:
        buyer = customer_id_by_email(uow, "buyer@shop.test")
    with UnitOfWork(db, SYSTEM) as uow:
        support.create_policy(uow, support.SlaPolicyIn(name="Everything", first_response_minutes=60,
                                                       resolution_minutes=480))
    with UnitOfWork(db, SYSTEM) as uow:
        ticket = support.create_ticket(uow, support.TicketCreate(kind="complaint", subject="Lamp flickers",
                                                                 body="It flickers at night", channel="email",
                                                                 requester_email="buyer@shop.test", tags=["flicker"],
                                                                 product_id=shop.product_ids["LAMP-DESK"]))
    with UnitOfWork(db, SYSTEM) as uow:
        chat = support.start_chat(uow, support.ChatStart(message="Is the kettle in stock?", name="Ola"))
    with UnitOfWork(db, SYSTEM) as uow:
        review = support.submit_review(uow, support.ReviewIn(product_id=shop.product_ids["MUG-1"], rating=4,
                                                             body="Nice mug", customer_id=buyer))
    with UnitOfWork(db, SYSTEM) as uow:
        seg = save_static_segment(uow, name="Lamp buyers", kind="static", customer_ids=[buyer])
        uow.commit()
        seg_id = seg.id
    with UnitOfWork(db, SYSTEM) as uow:
        support.add_canvas_item(uow, seg_id, support.CanvasItemIn(kind="pain", label="Flickering light", tag="flicker"))
    return {"buyer": buyer, "ticket": ticket, "chat": chat, "review": review, "segment": seg_id}


def test_support_pages_show_their_data_and_the_reply_form_works(client, shop, db) -> None:
    data = _seed(db, shop)
    sign_in(client, shop.users["support_agent"])
    t = data["ticket"]
    page = client.get("/console/support")
    assert page.status_code == 200 and t.token in page.text and "Lamp flickers" in page.text
    detail = client.get(f"/console/support/tickets/{t.id}")
    assert detail.status_code == 200 and "It flickers at night" in detail.text
    r = client.post(f"/console/support/tickets/{t.id}/reply", data={"body": "Try another bulb, please.",
                                                                     "csrf_token": csrf_of(detail.text)},
                    follow_redirects=False)
    assert r.status_code == 303
    detail = client.get(f"/console/support/tickets/{t.id}")
    assert "Try another bulb" in detail.text and "waiting on customer" in detail.text
    chats = client.get(f"/console/support/chats?chat={data['chat'].id}")
    assert chats.status_code == 200 and "Is the kettle in stock?" in chats.text
    assert "Everything" in client.get("/console/support/sla").text
    reviews = client.get("/console/support/reviews")
    assert "Nice mug" in reviews.text and "unverified" in reviews.text
    feedback = client.get("/console/support/feedback")
    assert feedback.status_code == 200 and "data-chart" in feedback.text and "complaint" in feedback.text
    csv = client.get("/console/support/feedback.csv")
    assert csv.headers["content-type"].startswith("text/csv") and "kind,complaint,1" in csv.text
    assert "category,Lighting,1" in csv.text  # the ticket's product's category
    assert re.search(r'id="by-category".*?<td>Lighting</td><td class="num">1</td><td>complaint 1</td>', feedback.text,
                     re.S)
    canvas = client.get(f"/console/support/canvas?segment={data['segment']}")
    assert "Flickering light" in canvas.text and re.search(r"1 ticket, 0 reviews", canvas.text)
    assert "1 customer in the segment" in canvas.text and "1 tickets" not in canvas.text
    profile = client.get(f"/console/customers/{data['buyer']}")
    assert profile.status_code == 200 and 'id="open-tickets"' in profile.text and t.token in profile.text
    link = re.search(r'id="new-ticket-for-customer" href="([^"]+)"', profile.text).group(1).replace("&amp;", "&")
    prefilled = client.get(link)
    assert f'value="{data["buyer"]}"' in prefilled.text and 'value="buyer@shop.test"' in prefilled.text
    tile = client.get("/console/tiles/tickets")
    assert tile.status_code == 200 and t.token in tile.text
    assert client.get("/console/analytics").status_code == 403  # no finance for support agents


def test_a_follow_up_call_is_recorded_from_the_feedback_page(client, shop, db) -> None:
    import datetime as dt

    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.support import public as support
    from merx.support.feedback import tasks_for_delivery

    with UnitOfWork(db, SYSTEM) as uow:
        support.create_follow_up_rule(uow, support.FollowUpRuleIn(name="Call", delay_days=0, script="Ask about the lamp"))
    with UnitOfWork(db, SYSTEM) as uow:
        assert tasks_for_delivery(uow, 4242, None, dt.datetime.now(dt.timezone.utc)) == 1
        uow.commit()
    sign_in(client, shop.users["support_agent"])
    page = client.get("/console/support/feedback")
    assert "Ask about the lamp" in page.text and "order 4242" in page.text
    task_id = re.search(r'action="/console/support/follow-ups/(\d+)"', page.text).group(1)
    r = client.post(f"/console/support/follow-ups/{task_id}", data={"outcome": "problem", "note": "Bulb broke",
                                                                    "csrf_token": csrf_of(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303 and "/console/support/tickets/" in r.headers["location"]
    assert "Bulb broke" in client.get(r.headers["location"]).text
    assert "No follow-ups open." in client.get("/console/support/feedback").text


def test_roles_without_support_are_kept_out(client, shop, db) -> None:
    sign_in(client, shop.users["sales_rep"])
    assert client.get("/console/support").status_code == 403
    assert client.get("/console/support/chats").status_code == 403
    assert "/console/support" not in client.get("/console").text


def test_the_canvas_page_opens_on_a_segment_that_has_a_canvas_not_on_the_first_empty_one(client, shop, db) -> None:
    """Found by the demo walk (#20): the page opened on the first segment ("Newsletter audience",
    no canvas: "None yet." three times) while the demo's canvas was on a later one."""
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.crm.segments.service import save_static_segment

    with UnitOfWork(db, SYSTEM) as uow:
        save_static_segment(uow, name="Everyone (no canvas)", kind="static", customer_ids=[])
        uow.commit()
    data = _seed(db, shop)  # its segment, with the canvas, comes second
    sign_in(client, shop.users["support_agent"])
    page = client.get("/console/support/canvas")
    assert page.status_code == 200 and "Flickering light" in page.text
    assert re.search(rf'<option value="{data["segment"]}"[^>]*selected', page.text)

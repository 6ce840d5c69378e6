"""Live chat over HTTP: the visitor's token, keyword auto-replies, office hours, canned
replies, the long-poll fallback waking on a new message, the WebSocket, and a flood from one
visitor answered 429."""

from __future__ import annotations

import pytest

import datetime as dt
import threading
import time

from merx.core.auth import SYSTEM
from merx.core.uow import UnitOfWork


def _start(client, message="Hi"):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/chats", json={"message": message, "name": "Ola"})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.backends("sqlite", "postgresql")
def test_visitor_token_auto_reply_and_canned_reply(client, admin, make_key) -> None:
    assert client.post("/api/v1/auto-replies", json={"keyword": "delivery", "reply": "We deliver in 2 days."},
                       headers=admin).status_code == 201
    agent = make_key("support_agent")
    assert client.post("/api/v1/canned-replies", json={"shortcut": "thanks", "title": "Thanks",
                                                       "body": "Thank you for waiting!"}, headers=agent).status_code == 201
    chat = _start(client, "How long does delivery take?")
    assert [(m["sender"], m["body"]) for m in chat["messages"]] == [
        ("visitor", "How long does delivery take?"), ("bot", "We deliver in 2 days.")]
    token = {"X-Chat-Token": chat["token"]}
    assert client.get(f"/api/v1/chats/{chat['id']}/messages", headers={"X-Chat-Token": "wrong"}).status_code == 404
    assert client.get(f"/api/v1/chats/{chat['id']}/messages").status_code == 404
    other = _start(client)
    assert client.get(f"/api/v1/chats/{other['id']}/messages", headers=token).status_code == 404
    r = client.post(f"/api/v1/chats/{chat['id']}/messages", json={"body": "/thanks"}, headers=agent)
    assert r.status_code == 201 and r.json()[0]["body"] == "Thank you for waiting!" and r.json()[0]["sender"] == "agent"
    assert client.post(f"/api/v1/chats/{chat['id']}/messages", json={"body": "/nope"}, headers=agent).status_code == 422
    seen = client.get(f"/api/v1/chats/{chat['id']}/messages", headers=token).json()
    assert [m["sender"] for m in seen] == ["visitor", "bot", "agent"]
    assert client.get("/api/v1/chats", headers=token).status_code == 401


def test_outside_office_hours_the_bot_says_when_an_agent_answers(client, db) -> None:
    from merx.support.admin import create_team
    from merx.support.schemas import TeamIn

    now = dt.datetime.now(dt.timezone.utc)
    closed_today = {d: ["00:00", "00:01"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    with UnitOfWork(db, SYSTEM) as uow:
        create_team(uow, TeamIn(code="chat", name="Chat desk", hours=closed_today,
                                holidays=[now.date()]))  # today is a holiday: closed whatever the hour
    chat = _start(client, "Anyone there?")
    bot = [m["body"] for m in chat["messages"] if m["sender"] == "bot"]
    assert len(bot) == 1 and bot[0].startswith("We are away right now")
    tomorrow = (now + dt.timedelta(days=1)).date().isoformat()
    assert tomorrow in bot[0]  # opens tomorrow at 00:00 UTC
    r = client.post(f"/api/v1/chats/{chat['id']}/messages", json={"body": "Hello?"},
                    headers={"X-Chat-Token": chat["token"]})
    assert [m["sender"] for m in r.json()] == ["visitor"]  # the away notice is said once


def test_long_poll_wakes_when_the_agent_answers(client, make_key) -> None:
    chat = _start(client)
    agent = make_key("support_agent")
    last = chat["messages"][-1]["id"]

    def answer_soon() -> None:
        time.sleep(0.5)
        client.post(f"/api/v1/chats/{chat['id']}/messages", json={"body": "Here!"}, headers=agent)

    threading.Thread(target=answer_soon).start()
    r = client.get(f"/api/v1/chats/{chat['id']}/messages", params={"after": last, "wait": 20},
                   headers={"X-Chat-Token": chat["token"]})
    assert r.status_code == 200 and [m["body"] for m in r.json()] == ["Here!"]
    # nothing new: an empty answer after the wait
    r = client.get(f"/api/v1/chats/{chat['id']}/messages", params={"after": r.json()[-1]["id"], "wait": 1},
                   headers={"X-Chat-Token": chat["token"]})
    assert r.status_code == 200 and r.json() == []


def test_websocket_carries_both_directions_and_refuses_a_bad_token(client, make_key) -> None:
    chat = _start(client)
    agent = make_key("support_agent")
    with client.websocket_connect(f"/api/v1/chats/{chat['id']}/ws?token={chat['token']}") as ws:
        first = ws.receive_json()
        assert [m["body"] for m in first["messages"]] == ["Hi"]
        ws.send_json({"body": "Is the mug dishwasher safe?"})
        got = ws.receive_json()
        assert got["messages"][-1]["body"] == "Is the mug dishwasher safe?"
        client.post(f"/api/v1/chats/{chat['id']}/messages", json={"body": "Yes it is."}, headers=agent)
        got = ws.receive_json()
        assert got["messages"][-1] == {**got["messages"][-1], "sender": "agent", "body": "Yes it is."}
        ws.send_json({"body": ""})
        assert ws.receive_json()["error"]["status"] == 422

    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect(f"/api/v1/chats/{chat['id']}/ws?token=wrong") as ws:
            ws.receive_json()


@pytest.mark.backends("sqlite", "postgresql")
def test_a_message_flood_from_one_visitor_is_rate_limited(client, db) -> None:
    chat = _start(client)  # counts as one
    token = {"X-Chat-Token": chat["token"]}
    codes = [client.post(f"/api/v1/chats/{chat['id']}/messages", json={"body": f"spam {n}"}, headers=token).status_code
             for n in range(25)]
    assert codes[:19] == [201] * 19
    assert set(codes[19:]) == {429}
    limited = client.post(f"/api/v1/chats/{chat['id']}/messages", json={"body": "more"}, headers=token)
    assert limited.headers["content-type"].startswith("application/problem+json") and "retry-after" in limited.headers
    from merx.support.models import ChatMessage
    import sqlalchemy as sa

    with db.read_sessions() as s:
        stored = s.scalar(sa.select(sa.func.count()).select_from(ChatMessage).where(ChatMessage.chat_id == chat["id"]))
    assert stored == 20  # the opening message and the 19 accepted; nothing refused was stored

"""The support API's lists page like every other list: {"items", "next_cursor"}, `limit`
honoured, and walking the cursors returns every row once (chats newest first; the set-up,
surveys and follow-up tasks by id)."""

from __future__ import annotations

API = "/api/v1"


def _walk(client, path, headers, params=None):  # type: ignore[no-untyped-def]
    seen, cursor, pages = [], None, 0
    while True:
        r = client.get(f"{API}{path}", params={**(params or {}), "limit": 2, **({"cursor": cursor} if cursor else {})},
                       headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"} and len(body["items"]) <= 2
        seen += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            return seen, pages


def test_support_lists_are_paged_with_cursors(client, admin, make_key) -> None:
    agent = make_key("support_agent")
    for i in range(5):
        team = client.post(f"{API}/support-teams", json={"code": f"t{i}", "name": f"Team {i}"}, headers=admin)
        assert team.status_code == 201, team.text
        for path, body in (("/sla-policies", {"name": f"P{i}", "position": 100 - i, "first_response_minutes": 60,
                                              "resolution_minutes": 120}),
                           ("/assignment-rules", {"position": 100 - i, "team_id": team.json()["id"]}),
                           ("/canned-replies", {"shortcut": f"c{i}", "title": f"C{i}", "body": "Hello"}),
                           ("/auto-replies", {"keyword": f"word{i}", "reply": "Hi"}),
                           ("/surveys", {"name": f"S{i}"})):
            r = client.post(f"{API}{path}", json=body, headers=admin)
            assert r.status_code == 201, (path, r.text)
        assert client.post(f"{API}/chats", json={"message": f"Question {i}"}).status_code == 201
    for path in ("/support-teams", "/sla-policies", "/assignment-rules", "/canned-replies", "/auto-replies",
                 "/surveys", "/chats"):
        rows, pages = _walk(client, path, agent)
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)) == 5 and pages == 3, path
        assert ids == (sorted(ids, reverse=True) if path == "/chats" else sorted(ids)), path
    assert _walk(client, "/follow-up-tasks", agent)[0] == []
    r = client.get(f"{API}/chats", params={"limit": 0}, headers=agent)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit"
    assert client.get(f"{API}/sla-policies", params={"cursor": "garbage!"}, headers=agent).status_code == 422

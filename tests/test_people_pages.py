"""The People pages: search, the "not in LiveFeed" filter, a person's timeline (the rep's own
events only, with class and reason), score chart, website visits, add; another workspace's
person is a 404. Plus the score chart's geometry."""

from __future__ import annotations

import json

from livefeed.core.scoring import chart_points

from .conftest import make_rep, pixel_path, send
from .support.web import csrf_of, sign_in

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


async def test_people_list_person_timeline_and_add(server, rep, engine, clock):
    other = make_rep(engine, clock, "olga@seller.test")
    stranger = make_rep(engine, clock, "sam@elsewhere.test", workspace="Elsewhere")
    async with server.client() as api:
        await api.post(
            "/api/v1/people",
            json={
                "email": "paul@prospect.test",
                "first_name": "Paul",
                "last_name": "Smith",
                "company": "Prospect <Inc>",
                "owner_email": rep.email,
                "lead_score": 10,
            },
            headers=rep.headers,
        )
        clock.advance(days=1)
        await api.post("/api/v1/people", json={"email": "paul@prospect.test", "lead_score": 40}, headers=rep.headers)
        sent = await send(api, rep, to=["paul@prospect.test"], subject="Pricing <b>250</b>")
        await api.get(
            pixel_path(server.runtime.signer, sent["recipients"][0]["recipient_id"]),
            headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"},
        )
        olgas = await send(api, other, to=["paul@prospect.test"], subject="Olga's own email")  # not in Rita's timeline
        await api.get(
            pixel_path(server.runtime.signer, olgas["recipients"][0]["recipient_id"]),
            headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"},
        )
        secret = (await api.post("/api/v1/workspace/marketo-webhook-secret", headers=rep.headers)).json()["secret"]
        key = (await api.get("/api/v1/workspace", headers=rep.headers)).json()["site_key"]
        await api.post(
            f"/hooks/marketo/{key}",
            headers={"x-livefeed-secret": secret},
            content=json.dumps(
                {"type": "form_fill", "description": "Contact us", "owner_email": rep.email, "lead": {"email": "nina@newco.test"}}
            ),
        )
        theirs = (await api.post("/api/v1/people", json={"email": "x@y.test"}, headers=stranger.headers)).json()
    async with server.client() as client:
        await sign_in(client)
        listed = (await client.get("/app/people?q=pau")).text
        new = (await client.get("/app/people?show=new")).text
        paul_id = next(p["id"] for p in (await client.get("/api/v1/people?q=paul")).json()["people"])
        page = (await client.get(f"/app/people/{paul_id}")).text
        team_page = (await client.get(f"/app/people/{paul_id}?team=1")).text
        nina_id = next(p["id"] for p in (await client.get("/api/v1/people?q=nina")).json()["people"])
        nina_page = await client.get(f"/app/people/{nina_id}")
        added = await client.post(f"/app/people/{nina_id}/add", data={"csrf": csrf_of(nina_page.text)})
        after = (await client.get(f"/app/people/{nina_id}")).text
        foreign = await client.get(f"/app/people/{theirs['id']}")
    assert "Paul Smith" in listed and "nina@newco.test" not in listed
    assert "nina@newco.test" in new and "Paul Smith" not in new
    assert "Prospect &lt;Inc&gt;" in page and "Pricing &lt;b&gt;250&lt;/b&gt;" in page  # escaped, never raw
    assert "Olga&#39;s own email" not in page and "Olga's own email" not in page
    assert "the whole team" in page  # Rita administers the workspace: she may see every rep's events
    assert (
        "Olga&#39;s own email" in team_page and "Pricing &lt;b&gt;250&lt;/b&gt;" in team_page and "· Olga's</span>" in team_page
    )
    assert "human" in page and "Willesden" in page and "<polyline points=" in page
    assert "not in LiveFeed" in nina_page.text and "Contact us" in nina_page.text
    assert added.status_code == 303 and "Add to LiveFeed" not in after
    assert foreign.status_code == 404


def test_the_score_chart_holds_each_score_until_the_next_change():
    points = chart_points([(0, 10), (50, 40), (100, 20)], width=100, height=50, pad=0)
    assert points == [(0.0, 37.5), (50.0, 37.5), (50.0, 0.0), (100.0, 0.0), (100.0, 25.0)]
    assert chart_points([]) == []


async def test_the_person_page_marks_and_unmarks_do_not_track(server, rep):
    async with server.client() as api:
        paul = (await api.post("/api/v1/people", json={"email": "paul@prospect.test"}, headers=rep.headers)).json()
    async with server.client() as client:
        await sign_in(client)
        page = await client.get(f"/app/people/{paul['id']}")
        forged = await client.post(f"/app/people/{paul['id']}/tracking", data={"csrf": "forged", "track": "off"})
        bad = await client.post(f"/app/people/{paul['id']}/tracking", data={"csrf": csrf_of(page.text), "track": "maybe"})
        marked = await client.post(f"/app/people/{paul['id']}/tracking", data={"csrf": csrf_of(page.text), "track": "off"})
        after = (await client.get(f"/app/people/{paul['id']}")).text
        state = (await client.get(f"/api/v1/people/{paul['id']}")).json()["do_not_track"]
        await client.post(f"/app/people/{paul['id']}/tracking", data={"csrf": csrf_of(after), "track": "on"})
        again = (await client.get(f"/api/v1/people/{paul['id']}")).json()["do_not_track"]
    assert "Do not track this person" in page.text
    assert forged.status_code == 403 and bad.status_code == 422
    assert marked.status_code == 303 and "Track again" in after and state is True and again is False


async def test_a_rep_cannot_see_the_team_timeline(server, rep, engine, clock):
    olga = make_rep(engine, clock, "olga@seller.test", password="another password")
    async with server.client() as api:
        sent = await send(api, rep, to=["paul@prospect.test"], subject="Rita's pricing")
        await api.get(
            pixel_path(server.runtime.signer, sent["recipients"][0]["recipient_id"]),
            headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"},
        )
    async with server.client() as client:
        await sign_in(client, email=olga.email, password="another password")
        paul_id = (await client.get("/api/v1/people?q=paul")).json()["people"][0]["id"]
        response = await client.get(f"/app/people/{paul_id}?team=1")
        own = (await client.get(f"/app/people/{paul_id}")).text
    page = response.text
    assert response.status_code == 200 and "paul@prospect.test" in page  # her own view of Paul, not an error
    assert "Rita&#39;s pricing" not in page and "the whole team" not in page
    assert page == own  # the parameter is ignored for a rep


async def test_the_people_page_finds_last_names_and_any_word_of_a_company(server, rep):
    from .support.web import sign_in

    async with server.client() as client:
        for body in (
            {"email": "paul@prospect.test", "first_name": "Paul", "last_name": "Smith", "company": "Acme Labs Europe"},
            {"email": "zoe@other.test", "first_name": "Zoe", "last_name": "Quinn", "company": "Globex"},
        ):
            await client.post("/api/v1/people", headers=rep.headers, json=body)
        await sign_in(client)
        by_last = (await client.get("/app/people", params={"q": "smith"})).text
        by_word = (await client.get("/app/people", params={"q": "labs"})).text
    assert "paul@prospect.test" in by_last and "zoe@other.test" not in by_last
    assert "paul@prospect.test" in by_word and "zoe@other.test" not in by_word

"""Website tracking: /w.js, the beacon's origin rules, privacy signals, bots, identification
through a tracked click, visits, and the purple visit rows."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from livefeed.core import tokens, website
from livefeed.db.tables import links, page_views, visitors

from .conftest import send

SITE = "https://www.example.com"
CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
VISITOR = "v" * 24


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


async def configure(client, rep, **settings):
    answer = await client.patch("/api/v1/workspace", json={"site_origins": [SITE], **settings}, headers=rep.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


ISSUED: dict[tuple[str, str], str] = {}  # (site key, the browser's first id) → the id the server issued


async def beacon(client, key, *, origin=SITE, ua=CHROME, headers=None, **page):
    """A page view as w.js sends it: with the visitor id the server issued to this browser, once it has."""
    first = page.pop("v", VISITOR)
    body = {"v": ISSUED.get((key, first), first), "u": f"{SITE}/pricing", "t": "Pricing", "r": "", **page}
    answer = await client.post(
        f"/w/b?s={key}",
        content=json.dumps(body),
        headers={"origin": origin, "user-agent": ua, "content-type": "text/plain;charset=UTF-8", **(headers or {})},
    )
    if answer.status_code == 200:
        ISSUED[(key, first)] = answer.json()["v"]
    return answer


def count(server, table) -> int:
    with server.runtime.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


async def test_the_script_is_small_and_the_settings_give_the_snippet(server, rep):
    async with server.client() as client:
        script = await client.get("/w.js")
        settings = await configure(client, rep)
        refused = await client.patch("/api/v1/workspace", json={"site_origins": ["www.example.com/path"]}, headers=rep.headers)
    assert script.status_code == 200 and len(script.content) < 3 * 1024
    assert script.headers["content-type"].startswith("text/javascript")
    assert settings["site_origins"] == [SITE] and f'data-site="{settings["site_key"]}"' in settings["website_script"]
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "site_origins"]


async def test_only_the_configured_origins_bots_and_privacy_signals(server, rep):
    async with server.client() as client:
        key = (await configure(client, rep))["site_key"]
        preflight = await client.options(f"/w/b?s={key}", headers={"origin": SITE, "access-control-request-method": "POST"})
        elsewhere = await beacon(client, key, origin="https://evil.example.net")
        wrong_page = await beacon(client, key, u="https://evil.example.net/x")
        unknown_site = await beacon(client, "no-such-key")
        bot = await beacon(client, key, ua="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
        dnt = await beacon(client, key, headers={"dnt": "1"})
        gpc = await beacon(client, key, p=True)
        assert count(server, page_views) == 0
        ok = await beacon(client, key)
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == SITE
    assert elsewhere.status_code == 403 and "access-control-allow-origin" not in elsewhere.headers
    assert wrong_page.status_code == 400 and unknown_site.status_code == 403
    assert bot.status_code == 204 and dnt.status_code == 204 and gpc.status_code == 204
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == SITE and ok.json()["v"]  # its id, issued
    assert count(server, page_views) == 1 and count(server, visitors) == 1


async def test_a_tracked_click_identifies_the_visitor_and_visits_coalesce(server, rep, clock):
    async with server.client() as client:
        key = (await configure(client, rep, anonymize_ips=True))["site_key"]
        await beacon(client, key, u=f"{SITE}/blog", t="Blog")  # anonymous, before the email
        sent = await send(
            client,
            rep,
            to=["paul@prospect.test"],
            html=f'<a href="{SITE}/pricing?plan=team#faq">pricing</a> <a href="https://other.example.org/x">x</a>',
        )
        with server.runtime.engine.connect() as conn:
            link_ids = list(
                conn.execute(
                    select(links.c.id).where(links.c.recipient_id == sent["recipients"][0]["recipient_id"]).order_by(links.c.id)
                ).scalars()
            )
        to_site = await client.get(f"/c/{server.runtime.signer.sign(tokens.CLICK, link_ids[0])}")
        to_other = await client.get(f"/c/{server.runtime.signer.sign(tokens.CLICK, link_ids[1])}")
        landing = to_site.headers["location"]
        identity = parse_qs(urlsplit(landing).query)["lf_id"][0]
        clock.advance(minutes=1)
        first = await beacon(client, key, u=landing, t="Pricing", i=identity)
        clock.advance(minutes=5)
        await beacon(client, key, u=f"{SITE}/docs", t="Docs")
        clock.advance(minutes=45)  # a new visit
        await beacon(client, key, u=f"{SITE}/pricing", t="Pricing")
        rows = [r for r in (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"] if r["kind"] == "visit"]
    assert to_other.headers["location"] == "https://other.example.org/x"  # no identity for other sites
    assert landing.startswith(f"{SITE}/pricing?plan=team&lf_id=") and landing.endswith("#faq")
    assert first.status_code == 204
    assert [(r["message"], r["link_url"]) for r in reversed(rows)] == [
        ("Pricing", f"{SITE}/pricing?plan=team#faq"),
        ("Docs", f"{SITE}/docs"),
        ("Pricing", f"{SITE}/pricing"),
    ]
    assert rows[2]["visit_id"] == rows[1]["visit_id"] != rows[0]["visit_id"]
    assert all(r["class"] == "marketing" and r["person"]["email"] == "paul@prospect.test" for r in rows)
    with server.runtime.engine.connect() as conn:
        views = list(conn.execute(select(page_views.c.url, page_views.c.person_id, page_views.c.ip).order_by(page_views.c.id)))
    assert views[0].url == f"{SITE}/blog" and views[0].person_id == rows[0]["person"]["id"]  # joined the timeline
    assert {v.ip for v in views} == {"127.0.0.0"}  # anonymised to the /24


async def test_an_expired_or_forged_identification_identifies_nobody(server, rep, clock):
    async with server.client() as client:
        key = (await configure(client, rep))["site_key"]
        await send(client, rep, to=["paul@prospect.test"])
        person_id = (await client.get("/api/v1/people?q=paul", headers=rep.headers)).json()["people"][0]["id"]
        expired = server.runtime.signer.sign(website.IDENTIFY, website.identity_number(person_id, clock() - website.IDENTITY_TTL))
        await beacon(client, key, i=expired)
        await beacon(client, key, i="forged-identity-token-xxxxxxxx")
        rows = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert rows == [] and count(server, page_views) == 2
    with server.runtime.engine.connect() as conn:
        assert conn.execute(select(visitors.c.person_id)).scalar() is None


def test_strip_and_add_the_identification_parameter():
    url = website.add_param("https://www.example.com/a?x=1#top", "TOKEN")
    assert url == "https://www.example.com/a?x=1&lf_id=TOKEN#top"
    assert website.strip_param(url) == "https://www.example.com/a?x=1#top"
    assert website.anonymize("2001:db8:1234:5678::1") == "2001:db8:1234::"
    assert website.check_origins(["https://WWW.example.com"]) == ["https://www.example.com"]


def test_a_page_is_on_the_site_only_at_its_exact_origin():
    origins = ["https://www.example.com"]
    body = lambda url: json.dumps({"v": VISITOR, "u": url}).encode()  # noqa: E731
    assert website.read_beacon(body("https://www.example.com"), origins).url == "https://www.example.com"
    assert website.read_beacon(body("https://WWW.Example.com:443/a"), origins).url == "https://WWW.Example.com:443/a"
    for other in (
        "https://www.example.com.evil.net/",
        "https://www.example.community/",
        "http://www.example.com/",
        "https://www.example.com:8443/",
        "javascript:alert(1)",
    ):
        with pytest.raises(website.Invalid):
            website.read_beacon(body(other), origins)


async def test_honouring_dnt_can_be_switched_off_for_anonymous_visitors(server, rep):
    async with server.client() as client:
        settings = await configure(client, rep, honour_dnt=False)
        recorded = await beacon(client, settings["site_key"], headers={"dnt": "1"})
    assert 'data-honour-dnt="false"' in settings["website_script"]
    assert recorded.status_code == 200 and count(server, page_views) == 1


async def test_only_visitor_ids_the_server_issued_for_this_site_carry_an_identification(server, rep, engine, clock):
    """Identification is bound to a visitor id the server signed for this workspace: an id made up,
    altered, from before, or issued by another company's site gets a fresh anonymous one instead."""
    async with server.client() as client:
        key = (await configure(client, rep))["site_key"]
        await send(client, rep, to=["paul@prospect.test"])
        person_id = (await client.get("/api/v1/people?q=paul", headers=rep.headers)).json()["people"][0]["id"]
        identity = server.runtime.signer.sign(
            website.IDENTIFY, website.identity_number(person_id, clock() + website.IDENTITY_TTL)
        )
        first = await beacon(client, key, v="p" * 24, i=identity)  # Paul arrives from the email
        paul = first.json()["v"]
        again = await beacon(client, key, v="p" * 24, t="Docs")  # Paul's browser, with its issued id
        other_site = server.runtime.signer.sign(website.VISITOR, website.visitor_number(999, 7))
        replays = [
            await beacon(client, key, v=made_up, t="Replay")
            for made_up in (paul[:-1] + ("A" if paul[-1] != "A" else "B"), "p" * 24 + "x", other_site)
        ]
    assert first.status_code == 200 and again.status_code == 204
    assert all(r.status_code == 200 and r.json()["v"] != paul for r in replays)
    with engine.connect() as conn:
        by_title = {t: p for t, p in conn.execute(select(page_views.c.title, page_views.c.person_id))}
    assert by_title["Pricing"] == person_id and by_title["Docs"] == person_id and by_title["Replay"] is None

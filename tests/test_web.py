"""The web app: sign-in, CSRF, sign-in links, the self cookie, compose and the outbox."""

import re

from sqlalchemy import select

from livefeed import actions
from livefeed.db.tables import events, user_ips

from .conftest import pixel_path, send
from .support.web import CHROME, csrf_of, sign_in, use_signin_link


async def test_sign_in_sets_session_and_self_cookies(server, rep):
    async with server.client() as client:
        response = await sign_in(client)
        assert response.status_code == 303 and response.headers["location"] == "/app"
        assert {"lf_session", "lf_self"} <= set(client.cookies.keys())
        home = await client.get("/app")
    assert home.status_code == 200 and "New tracked email" in home.text
    assert home.headers["content-security-policy"].startswith("default-src 'self'")


async def test_sign_out_ends_the_session_on_the_server_not_only_the_cookie(server, rep, engine):
    from livefeed.db.tables import sessions

    async with server.client() as client:
        await sign_in(client)
        session = client.cookies["lf_session"]
        home = await client.get("/app")
        forged = await client.post("/signout", data={"csrf": "forged"})
        still_in = await client.get("/app")
        out = await client.post("/signout", data={"csrf": csrf_of(home.text)})
        after = await client.get("/app")
    async with server.client(cookies={"lf_session": session}) as replay:  # the old cookie, kept by someone
        replayed = await replay.get("/app")
        api = await replay.get("/api/v1/me")
    with engine.connect() as conn:
        left = conn.execute(select(sessions.c.id).where(sessions.c.user_id == rep.id)).all()
    assert forged.status_code == 403 and still_in.status_code == 200
    assert out.status_code in (302, 303) and out.headers["location"] == "/signin"
    assert after.status_code in (302, 303) and after.headers["location"] == "/signin"
    assert replayed.status_code in (302, 303) and api.status_code == 401
    assert left == []


async def test_wrong_password_is_refused(server, rep):
    async with server.client() as client:
        response = await sign_in(client, password="wrong password")
        assert response.status_code == 401 and "Wrong email or password" in response.text
        assert (await client.get("/app")).headers["location"] == "/signin"


async def test_form_without_csrf_token_is_refused(server, rep):
    async with server.client() as client:
        await client.get("/signin")
        response = await client.post("/signin", data={"email": rep.email, "password": "correct horse battery", "csrf": "forged"})
    assert response.status_code == 403
    assert "lf_session" not in response.headers.get("set-cookie", "")


async def test_sign_in_link_signs_in_and_expires(server, rep, clock):
    from livefeed.actions.sessions import signin_url

    link = signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock())
    later = signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock())
    async with server.client() as client:
        assert (await use_signin_link(client, link)).status_code == 303
        assert (await client.get("/app")).status_code == 200
    clock.advance(minutes=16)
    async with server.client() as client:
        assert (await client.get(later)).status_code == 401
    async with server.client() as client:
        assert (await client.get(link[:-2] + "xx")).status_code == 401


async def test_sign_in_address_is_remembered_for_self_detection(server, rep, engine):
    async with server.client() as client:
        await sign_in(client)
    with engine.connect() as conn:
        assert conn.execute(select(user_ips.c.ip)).scalars().all() == ["127.0.0.1"]


async def test_reps_own_open_is_self_and_greyed(server, rep, engine):
    async with server.client() as client:
        sent = await send(client, rep)
        await sign_in(client)
        await client.get(
            pixel_path(server.runtime.signer, sent["recipients"][0]["recipient_id"]),
            headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"},
        )
        feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert feed[0]["class"] == "self" and feed[0]["alert"] is False
    assert "own browser" in feed[0]["reason"]


async def test_open_from_reps_sign_in_address_is_self(server, rep, engine, clock):
    with engine.begin() as conn:
        actions.remember_ip(conn, user_id=rep.id, ip="198.51.100.7", now=clock())
    async with server.client() as client:
        sent = await send(client, rep)
        await client.get(
            pixel_path(server.runtime.signer, sent["recipients"][0]["recipient_id"]),
            headers={"user-agent": CHROME, "x-forwarded-for": "198.51.100.7"},
        )
    with engine.connect() as conn:
        assert conn.execute(select(events.c.cls)).scalar() == "self"


async def test_compose_form_sends_and_lists_the_email(server, rep):
    async with server.client() as client:
        await sign_in(client)
        page = await client.get("/app")
        response = await client.post(
            "/app/compose",
            data={
                "to": "paul@prospect.test, zoe@prospect.test",
                "cc": "",
                "subject": "Deck <b>bold</b>",
                "body": "Hi\n\nhttps://example.com/deck",
                "csrf": csrf_of(page.text),
            },
        )
        assert response.status_code == 303
        home = await client.get("/app")
        outbox = await client.get("/app/outbox")
    assert "Deck &lt;b&gt;bold&lt;/b&gt;" in home.text and "<b>bold</b>" not in home.text
    assert outbox.text.count("/app/outbox/") == 2


async def test_compose_form_shows_the_bad_field(server, rep):
    async with server.client() as client:
        await sign_in(client)
        page = await client.get("/app")
        response = await client.post(
            "/app/compose", data={"to": "nobody", "subject": "x", "body": "y", "csrf": csrf_of(page.text)}
        )
    assert response.status_code == 422 and "To[0]" not in response.text and "To:" in response.text


async def test_recipients_copy_is_served_sandboxed(server, rep):
    async with server.client() as client:
        await send(client, rep, html="<p>hi</p><script>alert(1)</script>")
        await sign_in(client)
        listing = await client.get("/app/outbox")
        message_id = re.search(r"/app/outbox/(\d+)", listing.text).group(1)
        page = await client.get(f"/app/outbox/{message_id}")
        body = await client.get(f"/app/outbox/{message_id}/body")
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page.text
    assert body.headers["content-security-policy"].startswith("sandbox")
    assert "script-src 'none'" in body.headers["content-security-policy"]


async def test_outbox_of_another_rep_is_not_visible(server, rep, engine, clock):
    from .conftest import make_rep

    other = make_rep(engine, clock, "olga@seller.test", password="another password")
    async with server.client() as client:
        await send(client, other)
        await sign_in(client)
        listing = await client.get("/app/outbox")
        direct = await client.get("/app/outbox/1/body")
    assert "/app/outbox/1" not in listing.text and direct.status_code == 404


async def test_live_window_requires_sign_in_and_renders(server, rep):
    async with server.client() as client:
        assert (await client.get("/live")).status_code == 303
        await sign_in(client)
        page = await client.get("/live")
    assert page.status_code == 200 and 'data-stream="/api/v1/feed/stream?backlog=100"' in page.text


async def test_openapi_description_is_served(server):
    async with server.client() as client:
        spec = (await client.get("/api/v1/openapi.json")).json()
    assert {"/api/v1/emails", "/api/v1/feed", "/api/v1/feed/stream", "/api/v1/me"} <= set(spec["paths"])


async def test_tasks_page_custom_range_completed_tasks_and_forms(server, rep):
    async with server.client() as client:
        await sign_in(client)
        await client.post("/api/v1/people", json={"email": "paul@prospect.test", "first_name": "Paul"}, headers=rep.headers)
        page = await client.get("/app/tasks")
        assert page.status_code == 200 and "today is 2026-11-26" in page.text
        response = await client.post(
            "/app/tasks",
            data={
                "type": "call",
                "title": "Call <Paul>",
                "due_date": "2026-12-10",
                "person": "paul@prospect.test",
                "priority": "high",
                "csrf": csrf_of(page.text),
            },
        )
        assert response.status_code == 303
        bad = await client.post(
            "/app/tasks",
            data={
                "type": "call",
                "title": "x",
                "due_date": "2026-12-10",
                "person": "nobody@prospect.test",
                "csrf": csrf_of(page.text),
            },
        )
        assert bad.status_code == 422 and "Person: no person with the email nobody@prospect.test" in bad.text
        week = await client.get("/app/tasks")  # next 7 days by default: the 10th is outside
        assert "Call &lt;Paul&gt;" not in week.text
        ranged = await client.get("/app/tasks?show=range&from=2026-12-01&to=2026-12-31")
        assert "Call &lt;Paul&gt;" in ranged.text and "Paul" in ranged.text and "(744 hours)" in ranged.text
        task_id = re.search(r'data-id="(\d+)"', ranged.text).group(1)
        done = await client.post(
            f"/app/tasks/{task_id}",
            data={"action": "done", "csrf": csrf_of(ranged.text), "back": "/app/tasks?show=range&from=2026-12-01&to=2026-12-31"},
        )
        assert done.status_code == 303
        completed = await client.get("/app/tasks?show=range&from=2026-12-01&to=2026-12-31&status=done")
        assert "Call &lt;Paul&gt;" in completed.text and "done 2026-11-26 09:00 UTC" in completed.text
        reversed_range = await client.get("/app/tasks?show=range&from=2026-12-31&to=2026-12-01")
        assert reversed_range.status_code == 422 and "From: 2026-12-31 is after to=2026-12-01" in reversed_range.text
        forged = await client.post(f"/app/tasks/{task_id}", data={"action": "delete", "csrf": "forged"})
        assert forged.status_code == 403


async def test_sent_list_archives_and_unarchives(server, rep, engine):
    from sqlalchemy import select

    from livefeed.db.tables import emails

    async with server.client() as client:
        await sign_in(client)
        sent = await send(client, rep)
        page = await client.get("/app")
        assert "Archive</button>" in page.text
        response = await client.post(f"/app/emails/{sent['id']}/archive", data={"archived": "1", "csrf": csrf_of(page.text)})
        assert response.status_code == 303
        with engine.connect() as conn:
            assert conn.execute(select(emails.c.archived).where(emails.c.id == sent["id"])).scalar() is True
        page = await client.get("/app")
        assert "Unarchive</button>" in page.text and ">archived</span>" in page.text
        forged = await client.post(f"/app/emails/{sent['id']}/archive", data={"archived": "0", "csrf": "forged"})
        assert forged.status_code == 403


async def test_sent_list_shows_each_recipients_status(server, rep, clock):
    from .conftest import pixel_path, send

    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    async with server.client() as client:
        sent = await send(client, rep, to=["paul@prospect.test", "anna@prospect.test"], subject="Pricing")
        paul, anna = (r["recipient_id"] for r in sent["recipients"])
        for _ in range(2):
            await client.get(
                pixel_path(server.runtime.signer, paul), headers={"user-agent": chrome, "x-forwarded-for": "81.2.69.142"}
            )
        await client.get(
            pixel_path(server.runtime.signer, anna), headers={"user-agent": "Mozilla/5.0", "x-forwarded-for": "17.58.0.1"}
        )
        await sign_in(client)
        page = (await client.get("/app")).text
    paul_line = page[page.index("paul@prospect.test") : page.index("</li>", page.index("paul@prospect.test"))]
    anna_line = page[page.index("anna@prospect.test") : page.index("</li>", page.index("anna@prospect.test"))]
    # no mail server here: the copies reached the local outbox, which is not "delivered"
    assert "in the outbox" in paul_line and "delivered" not in paul_line
    assert "2 views" in paul_line and "last 2026-11-26 09:00" in paul_line  # Europe/London
    assert "in the outbox" in anna_line and "view" not in anna_line  # Apple's prefetch is not a view


async def test_each_recipients_own_subject_is_shown_wherever_the_email_is_named(server, rep, clock):
    from .conftest import pixel_path, send

    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    async with server.client() as client:
        for email, first in (("paul@prospect.test", "Paul"), ("zoe@prospect.test", "Zoe")):
            await client.post("/api/v1/people", headers=rep.headers, json={"email": email, "first_name": first})
        sent = await send(client, rep, to=["paul@prospect.test", "zoe@prospect.test"], subject="Hello {{first_name}}")
        for recipient in sent["recipients"]:
            await client.get(
                pixel_path(server.runtime.signer, recipient["recipient_id"]),
                headers={"user-agent": chrome, "x-forwarded-for": "81.2.69.142"},
            )
        feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
        await sign_in(client)
        page = (await client.get("/app")).text
        person_page = (await client.get(f"/app/people/{sent['recipients'][1]['person_id']}")).text
    assert sorted(e["email"]["subject"] for e in feed) == ["Hello Paul", "Hello Zoe"]
    assert "“Hello Paul”" in page and "“Hello Zoe”" in page
    assert "Hello Zoe" in person_page and "{{first_name}}" not in person_page


async def test_compose_sends_the_editors_html_cleaned_and_keeps_it_after_an_error(server, rep, engine):
    from email import message_from_string, policy

    from sqlalchemy import select

    from livefeed.db.tables import outbox

    editor = (
        '<p>Hi <b>{{first_name}}</b>,</p><ul><li>the <a href="https://example.com/deck">deck</a></li></ul>'
        '<script>alert(1)</script><p onclick="x()">Rita</p>'
    )
    async with server.client() as client:
        await sign_in(client)
        await client.post("/api/v1/people", json={"email": "paul@prospect.test", "first_name": "Paul"}, headers=rep.headers)
        page = await client.get("/app")
        preview = await client.post(
            "/app/compose/preview",
            data={"to": "paul@prospect.test", "subject": "Deck", "html": editor, "body": "ignored", "csrf": csrf_of(page.text)},
        )
        refused = await client.post(
            "/app/compose",
            data={
                "to": "paul@prospect.test, anna@prospect.test",
                "subject": "Deck",
                "html": editor,
                "body": "",
                "csrf": csrf_of(page.text),
            },
        )
        blank = await client.post(
            "/app/compose",
            data={"to": "paul@prospect.test", "subject": "Deck", "html": "<p><br></p>", "body": "", "csrf": csrf_of(page.text)},
        )
        sent = await client.post(
            "/app/compose",
            data={
                "to": "paul@prospect.test",
                "subject": "Deck",
                "html": editor,
                "body": "",
                "track_opens": "1",
                "track_clicks": "1",
                "csrf": csrf_of(page.text),
            },
        )
    copy = preview.json()["copies"][0]
    assert (
        copy["html"].startswith("<p>Hi <b>Paul</b>,</p><ul>") and "<script" not in copy["html"] and "onclick" not in copy["html"]
    )
    assert refused.status_code == 422 and "anna@prospect.test has no first_name" in refused.text
    assert 'name="html" value="&lt;p&gt;Hi &lt;b&gt;{{first_name}}&lt;/b&gt;' in refused.text  # the editor gets its message back
    assert blank.status_code == 422 and "Message: a body is required" in blank.text
    assert sent.status_code == 303
    with engine.connect() as conn:
        raw = conn.execute(select(outbox.c.raw)).scalar_one()
    message = message_from_string(raw, policy=policy.default)
    html_part = message.get_body(("html",)).get_content()
    text_part = message.get_body(("plain",)).get_content()
    assert "<b>Paul</b>" in html_part and "/c/" in html_part and "https://example.com/deck" not in html_part
    assert "<script" not in html_part and "Hi Paul," in text_part and "/c/" in text_part


async def test_templates_page_shares_and_deletes_with_csrf(server, rep, engine, clock):
    from .conftest import make_rep

    olga = make_rep(engine, clock, "olga@seller.test")
    async with server.client() as client:
        mine = (
            await client.post(
                "/api/v1/templates",
                json={"name": "Intro <1>", "subject": "Hi {{first_name}}", "html": "<p>x</p>"},
                headers=rep.headers,
            )
        ).json()
        hers = (
            await client.post(
                "/api/v1/templates", json={"name": "Hers", "subject": "s", "html": "<p>y</p>"}, headers=olga.headers
            )
        ).json()
        await sign_in(client)
        page = await client.get("/app/templates")
        forged = await client.post(f"/app/templates/{mine['id']}/share", data={"csrf": "nope", "shared": "1"})
        shared = await client.post(f"/app/templates/{mine['id']}/share", data={"csrf": csrf_of(page.text), "shared": "1"})
        not_visible = await client.post(f"/app/templates/{hers['id']}/delete", data={"csrf": csrf_of(page.text)})
        olga_sees = (await client.get("/api/v1/templates", headers=olga.headers)).json()["templates"]
        deleted = await client.post(f"/app/templates/{mine['id']}/delete", data={"csrf": csrf_of(page.text)})
        after = await client.get("/app/templates")
    assert "Intro &lt;1&gt;" in page.text and "fields: first_name" in page.text and f"/app?template={mine['id']}" in page.text
    assert "Hers" not in page.text
    assert forged.status_code == 403 and shared.status_code == 303 and not_visible.status_code == 404
    assert {t["name"] for t in olga_sees} == {"Intro <1>", "Hers"}
    assert deleted.status_code == 303 and "Intro" not in after.text and "No templates yet" in after.text


async def test_hsts_is_sent_only_with_an_https_public_url(settings, clock):
    import httpx

    from livefeed.web.app import create_app

    for public, expected in (("https://feed.example.com", "max-age=31536000"), ("http://127.0.0.1:8000", None)):
        app = create_app(settings.with_(public_url=public), clock=clock)
        async with app.app.router.lifespan_context(app.app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=public) as client:
                page = await client.get("/signin")
                api = await client.get("/api/v1/health")
        assert page.headers.get("strict-transport-security") == expected
        assert api.headers.get("strict-transport-security") == expected


async def test_a_field_with_a_fallback_lets_a_recipient_without_a_value_through(server, rep, engine):
    from livefeed.db.tables import outbox

    async with server.client() as client:
        await client.post("/api/v1/people", headers=rep.headers, json={"email": "paul@prospect.test", "first_name": "Paul"})
        sent = await client.post(
            "/api/v1/emails",
            headers=rep.headers,
            json={
                "to": ["paul@prospect.test", "anna@prospect.test"],
                "subject": "Hi {{first_name|there}}",
                "html": "<p>Hello {{ first_name | there }}, about {{company|your team}}…</p>",
            },
        )
        required = await client.post(
            "/api/v1/emails",
            headers=rep.headers,
            json={"to": ["anna@prospect.test"], "subject": "Hi {{first_name}}", "text": "x"},
        )
    assert sent.status_code == 201
    with engine.connect() as conn:
        subjects = dict(conn.execute(select(outbox.c.rcpt, outbox.c.subject)).all())
        bodies = {rcpt: raw for rcpt, raw in conn.execute(select(outbox.c.rcpt, outbox.c.raw))}
    assert subjects == {"paul@prospect.test": "Hi Paul", "anna@prospect.test": "Hi there"}
    assert "Hello Paul, about your team" in bodies["paul@prospect.test"]
    assert "Hello there, about your team" in bodies["anna@prospect.test"]
    assert required.status_code == 422 and "{{first_name|there}}" in required.text


async def test_the_compose_form_takes_bcc(server, rep, engine):
    from livefeed.db.tables import outbox

    async with server.client() as client:
        await sign_in(client)
        page = await client.get("/app")
        assert 'name="bcc"' in page.text
        answer = await client.post(
            "/app/compose",
            data={
                "to": "paul@prospect.test",
                "bcc": "boss@seller.test",
                "subject": "Hi",
                "body": "Hello",
                "csrf": csrf_of(page.text),
                "track_opens": "1",
            },
        )
    assert answer.status_code == 303
    with engine.connect() as conn:
        copies = dict(conn.execute(select(outbox.c.rcpt, outbox.c.raw)).all())
    assert set(copies) == {"paul@prospect.test", "boss@seller.test"}
    assert all("boss@seller.test" not in raw.split("\n\n", 1)[0] for raw in copies.values())


async def test_outbox_times_are_in_the_reps_zone(settings, clock, engine):
    from .conftest import LiveServer, make_rep, send

    rep = make_rep(engine, clock, "rita@seller.test", password="correct horse battery", timezone="America/New_York")
    async with LiveServer(settings, clock) as server, server.client() as client:
        await send(client, rep)
        await sign_in(client)
        page = (await client.get("/app/outbox")).text
    assert "2026-11-26 04:00" in page and " UTC" not in page  # 09:00 UTC is 04:00 in New York


async def test_sent_pages_back_and_searches_by_subject_or_address(server, rep, monkeypatch):
    from livefeed.web.pages import app as pages

    from .conftest import send

    monkeypatch.setattr(pages, "SENT_PAGE", 3)
    async with server.client() as client:
        for n in range(5):
            await send(client, rep, to=[f"p{n}@prospect.test"], subject=f"Offer {n}" if n != 2 else "100%_discount")
        await sign_in(client)
        first = (await client.get("/app")).text
        older = re.search(r'href="/app\?before=(\d+)"', first).group(1)
        second = (await client.get(f"/app?before={older}")).text
        by_address = (await client.get("/app", params={"q": "p3@"})).text
        by_subject = (await client.get("/app", params={"q": "%_disc"})).text
        literal = (await client.get("/app", params={"q": "100x"})).text
    assert [s in first for s in ("Offer 4", "Offer 3", "100%_discount", "Offer 1")] == [True, True, True, False]
    assert "Offer 1" in second and "Offer 0" in second and "Offer 4" not in second and "Older emails" not in second
    assert "Offer 3" in by_address and "Offer 4" not in by_address
    assert "100%_discount" in by_subject and "Offer" not in by_subject.split("<h2>Sent</h2>")[1]
    assert "Nothing matches" in literal  # % and _ are characters, not wildcards


def test_a_served_worker_freezes_what_start_up_built(tmp_path):
    """`livefeed serve` hides start-up's objects from the collector (generation-2 pauses of
    37–76 ms made the open → stream p99; docs/benchmarks.md); in its own process, as serving is."""
    import subprocess
    import sys

    code = (
        "import asyncio, gc\n"
        "from livefeed.web.app import from_environment\n"
        "async def main():\n"
        "    app, inbox, outbox = from_environment(), asyncio.Queue(), asyncio.Queue()\n"
        "    await inbox.put({'type': 'lifespan.startup'})\n"
        "    served = asyncio.create_task(app({'type': 'lifespan', 'asgi': {'version': '3.0'}, 'state': {}}, inbox.get, outbox.put))\n"
        "    assert (await outbox.get())['type'] == 'lifespan.startup.complete'\n"
        "    print(gc.get_freeze_count())\n"
        "    await inbox.put({'type': 'lifespan.shutdown'})\n"
        "    await outbox.get()\n"
        "    await served\n"
        "asyncio.run(main())\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "LIVEFEED_VAR_DIR": str(tmp_path),
        "LIVEFEED_DATABASE_URL": f"sqlite:///{tmp_path / 'lf.db'}",
        "LIVEFEED_SECRET_KEY": "a-test-secret-key-0123456789abcdef-0123456789",
    }
    from livefeed.db import migrate
    from livefeed.db.engine import make_engine

    engine = make_engine(env["LIVEFEED_DATABASE_URL"])
    migrate.upgrade(engine)
    engine.dispose()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip().splitlines()[-1]) > 10_000  # the regexes, tables, readers…

"""The public tracking endpoints: the pixel, the click redirect, client addresses."""

import json
from email import message_from_string, policy

import pytest
from sqlalchemy import func, select

from livefeed.core import tokens
from livefeed.db.tables import events, outbox

from .conftest import LiveServer, link_paths, ready_stream, send


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """This module's tests run on both databases."""
    return request.param


CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def count_events(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(events)).scalar()


def copy_of(engine, recipient_id: int):
    with engine.connect() as conn:
        raw = conn.execute(select(outbox.c.raw).where(outbox.c.recipient_id == recipient_id)).scalar()
    return message_from_string(raw, policy=policy.default)


async def test_pixel_records_an_open_and_serves_a_no_cache_gif(server, rep, engine):
    async with server.client() as client:
        sent = await send(client, rep)
        token = server.runtime.signer.sign(tokens.OPEN, sent["recipients"][0]["recipient_id"])
        response = await client.get(f"/o/{token}.gif", headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert len(response.content) == 43 and response.content.startswith(b"GIF89a")
    assert "no-store" in response.headers["cache-control"]
    with engine.connect() as conn:
        row = conn.execute(select(events)).mappings().one()
    assert (row["kind"], row["cls"], row["city"], row["country_code"]) == ("open", "human", "Willesden", "GB")
    assert row["ip"] == "81.2.69.142" and row["client"] == "Chrome 131"


async def test_pixel_is_served_when_token_is_forged(server, rep, engine):
    async with server.client() as client:
        sent = await send(client, rep)
        genuine = server.runtime.signer.sign(tokens.OPEN, sent["recipients"][0]["recipient_id"])
        forged = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
        for path in (
            f"/o/{forged}.gif",
            "/o/nonsense.gif",
            "/o/",
            f"/o/{tokens.TokenSigner(b'other' * 8).sign(tokens.OPEN, 1)}.gif",
        ):
            response = await client.get(path)
            assert response.status_code == 200 and len(response.content) == 43, path
    assert count_events(engine) == 0


async def test_pixel_head_records_nothing(server, rep, engine):
    async with server.client() as client:
        sent = await send(client, rep)
        token = server.runtime.signer.sign(tokens.OPEN, sent["recipients"][0]["recipient_id"])
        response = await client.head(f"/o/{token}.gif")
    assert response.status_code == 200
    assert count_events(engine) == 0


async def test_click_redirects_to_the_stored_destination_and_records(server, rep, engine):
    async with server.client() as client:
        sent = await send(client, rep, html='<a href="https://example.com/deck?a=1&amp;b=2">deck</a>')
        html = copy_of(engine, sent["recipients"][0]["recipient_id"]).get_body(("html",)).get_content()
        path = html.split(server.url)[1].split('"')[0]
        assert path.startswith("/c/")
        response = await client.get(path + "?url=https://evil.test", headers={"user-agent": CHROME})
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/deck?a=1&b=2"
    with engine.connect() as conn:
        row = conn.execute(select(events)).mappings().one()
    assert row["kind"] == "click" and row["link_id"] is not None


async def test_unknown_or_forged_click_is_a_404_page(server, rep, engine):
    async with server.client() as client:
        await send(client, rep)
        for path in (
            "/c/nonsense",
            f"/c/{server.runtime.signer.sign(tokens.CLICK, 99999)}",
            f"/c/{server.runtime.signer.sign(tokens.OPEN, 1)}",
        ):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert "location" not in response.headers
            assert "not valid" in response.text
    assert count_events(engine) == 0


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(settings, clock, rep, engine):
    async with LiveServer(settings.with_(trusted_proxies=()), clock) as server:
        async with server.client() as client:
            sent = await send(client, rep)
            token = server.runtime.signer.sign(tokens.OPEN, sent["recipients"][0]["recipient_id"])
            await client.get(f"/o/{token}.gif", headers={"x-forwarded-for": "81.2.69.142", "user-agent": CHROME})
    with engine.connect() as conn:
        row = conn.execute(select(events)).mappings().one()
    assert row["ip"] == "127.0.0.1"
    assert row["location_note"] == "Private network: no location"


async def test_gmail_proxy_open_says_location_hidden_not_mountain_view(server, rep, engine):
    async with server.client() as client:
        sent = await send(client, rep)
        token = server.runtime.signer.sign(tokens.OPEN, sent["recipients"][0]["recipient_id"])
        await client.get(
            f"/o/{token}.gif",
            headers={
                "x-forwarded-for": "66.249.84.1",
                "user-agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
            },
        )
    with engine.connect() as conn:
        row = conn.execute(select(events)).mappings().one()
    assert row["cls"] == "proxy"
    assert row["city"] is None and row["location_note"] == "Location hidden by Gmail"


async def test_open_is_committed_before_the_pixel_answers(server, rep, engine):
    async with server.client() as client:
        sent = await send(client, rep)
        token = server.runtime.signer.sign(tokens.OPEN, sent["recipients"][0]["recipient_id"])
        for n in range(1, 6):
            await client.get(f"/o/{token}.gif")
            assert count_events(engine) == n  # a separate connection already sees it


def test_commits_are_flushed_to_disk_before_acknowledging(engine, backend):
    with engine.connect() as conn:
        if backend == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: fsync every commit
        else:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
            assert conn.exec_driver_sql("SHOW fsync").scalar() == "on"


async def test_scanner_burst_revises_the_earlier_clicks(server, rep, engine, clock):
    links = "".join(f'<a href="https://example.com/{n}">{n}</a>' for n in range(3))
    async with server.client() as client:
        sent = await send(client, rep, html=links)
        paths = link_paths(engine, server, sent["recipients"][0]["recipient_id"])
        clock.advance(hours=1)
        for path in paths:
            await client.get(path, headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"})
        clock.advance(minutes=1)  # the same scanner again, alone: still quarantined (its cookie jar, kept
        # through its own burst seconds apart, is no sign of a person)
        await client.get(paths[0], headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"})
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.cls, events.c.reason).order_by(events.c.id)).all()
    assert [r.cls for r in rows] == ["scanner"] * 4
    assert "within 2 s" in rows[0].reason and "scanner seen minutes ago" in rows[3].reason


async def test_a_burst_reaches_an_open_stream_as_a_revise_frame(server, rep, engine, clock):
    """Both hubs (in-process on SQLite, LISTEN/NOTIFY on PostgreSQL) carry the revised verdict live."""
    links = "".join(f'<a href="https://example.com/{n}">{n}</a>' for n in range(3))
    async with server.client() as client:
        sent = await send(client, rep, html=links)
        paths = link_paths(engine, server, sent["recipients"][0]["recipient_id"])
        clock.advance(hours=1)
        async with ready_stream(client, rep.headers, "/api/v1/feed/stream?backlog=0") as reader:
            first = await client.get(paths[0], headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"})
            first_hit = await reader.next_event("hit")
            for path in paths[1:]:
                await client.get(path, headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"})
            revised = json.loads((await reader.next_event("revise"))["data"])
    assert first.status_code == 302 and json.loads(first_hit["data"])["class"] == "human"
    assert int(first_hit["id"]) in revised["ids"]
    assert revised["class"] == "scanner" and "within 2 s" in revised["reason"]


async def test_the_scanners_pixel_fetches_around_its_burst_are_the_scanner_too(server, rep, engine, clock):
    links = "".join(f'<a href="https://example.com/{n}">{n}</a>' for n in range(3))
    async with server.client() as client:
        sent = await send(client, rep, html=links)
        recipient = sent["recipients"][0]["recipient_id"]
        paths = link_paths(engine, server, recipient)
        pixel = f"/o/{server.runtime.signer.sign(tokens.OPEN, recipient)}.gif"
        clock.advance(hours=1)
        gateway = {"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"}
        await client.get(pixel, headers=gateway)  # the gateway fetches the pixel, then every link
        for path in paths:
            await client.get(path, headers=gateway)
        clock.advance(minutes=2)
        await client.get(pixel, headers=gateway)  # and comes back
        await client.get(pixel, headers={"user-agent": CHROME, "x-forwarded-for": "89.160.20.112"})  # the person
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.kind, events.c.cls, events.c.ip).order_by(events.c.id)).all()
    assert [(r.kind, r.cls) for r in rows] == [("open", "scanner")] + [("click", "scanner")] * 3 + [
        ("open", "scanner"),
        ("open", "human"),
    ]


async def test_a_link_asked_with_head_then_fetched_is_a_link_checker(server, rep, engine, clock):
    async with server.client() as client:
        sent = await send(client, rep)
        path = link_paths(engine, server, sent["recipients"][0]["recipient_id"])[0]
        clock.advance(hours=1)
        checker = {"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"}
        head = await client.head(path, headers=checker)
        with engine.connect() as conn:
            after_head = conn.execute(select(events.c.id)).all()
        clock.advance(seconds=2)
        await client.get(path, headers=checker)
        clock.advance(minutes=5)
        await client.get(path, headers={"user-agent": CHROME, "x-forwarded-for": "89.160.20.112"})  # the person
    assert head.status_code == 302 and after_head == []  # HEAD is answered, never recorded
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.cls, events.c.reason).order_by(events.c.id)).all()
    assert [r.cls for r in rows] == ["scanner", "human"]
    assert "HEAD" in rows[0].reason


async def test_a_person_clicking_three_links_quickly_stays_a_person_when_their_browser_says_so(server, rep, engine, clock):
    links = "".join(f'<a href="https://example.com/{n}">{n}</a>' for n in range(3))
    async with server.client() as client:
        sent = await send(client, rep, to=["paul@prospect.test", "zoe@prospect.test"], html=links)
        paths = {}
        for recipient in sent["recipients"]:
            paths[recipient["address"]] = link_paths(engine, server, recipient["recipient_id"])
        clock.advance(hours=1)
    # Paul's browser says each click was his (Sec-Fetch-User: ?1, sent on a user-activated navigation)
    async with server.client() as paul:
        for path in paths["paul@prospect.test"]:
            await paul.get(path, headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142", "sec-fetch-user": "?1"})
    # Zoe clicked one link an hour ago (our cookie), then three quickly
    async with server.client() as zoe:
        await zoe.get(paths["zoe@prospect.test"][0], headers={"user-agent": CHROME, "x-forwarded-for": "89.160.20.112"})
        clock.advance(hours=1)
        for path in paths["zoe@prospect.test"]:
            await zoe.get(path, headers={"user-agent": CHROME, "x-forwarded-for": "89.160.20.112"})
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.cls).order_by(events.c.id)).scalars().all()
    assert rows == ["human"] * 7


async def test_a_gateways_re_check_from_another_microsoft_address_and_a_headerless_script_are_scanners(
    server, rep, engine, clock
):
    """Safe Links clicks every link from Exchange Online Protection, then re-checks one minutes later
    from an Azure address with a full browser's headers; the reader clicks after both."""
    links = "".join(f'<a href="https://example.com/{n}">{n}</a>' for n in range(3))
    async with server.client() as client:
        sent = await send(client, rep, html=links)
        paths = link_paths(engine, server, sent["recipients"][0]["recipient_id"])
        clock.advance(seconds=20)
        for path in paths:
            await client.get(path, headers={"user-agent": CHROME, "x-forwarded-for": "40.107.22.45"})
        clock.advance(minutes=4)
        await client.get(paths[1], headers={"user-agent": CHROME, "x-forwarded-for": "20.61.4.10"})  # the re-check
        clock.advance(minutes=10)
        await client.get(paths[1], headers={"user-agent": CHROME, "x-forwarded-for": "89.160.20.112"})  # the reader
    async with server.client(like_a_browser=False) as script:  # names Chrome, sends no Accept-Language
        await script.get(paths[2], headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"})
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.cls, events.c.reason).order_by(events.c.id)).all()
    assert [r.cls for r in rows] == ["scanner"] * 4 + ["human", "scanner"]
    assert rows[0].reason.startswith("Microsoft Exchange Online Protection")
    assert "Re-check from a cloud network (Microsoft Azure)" in rows[3].reason
    assert "Accept-Language" in rows[5].reason


async def test_forward_is_marked_with_evidence(server, rep, engine, clock):
    async with server.client() as client:
        sent = await send(client, rep)
        token = server.runtime.signer.sign(tokens.OPEN, sent["recipients"][0]["recipient_id"])
        clock.advance(minutes=5)
        await client.get(f"/o/{token}.gif", headers={"user-agent": CHROME, "x-forwarded-for": "81.2.69.142"})
        clock.advance(hours=2)
        await client.get(
            f"/o/{token}.gif",
            headers={
                "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
                "x-forwarded-for": "89.160.20.112",
            },
        )
        feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert [e["forwarded"] for e in feed] == [True, True]
    assert "Stockholm" in feed[0]["forward_evidence"][0]
    with engine.connect() as conn:
        assert [r.forwarded for r in conn.execute(select(events.c.forwarded).order_by(events.c.id))] == [False, True]


async def test_archiving_turns_tracking_off_and_unarchiving_on(server, rep, engine, clock):
    from .conftest import make_rep

    async with server.client() as client:
        sent = await send(client, rep, html='<a href="https://example.com/deck">deck</a>')
        recipient_id = sent["recipients"][0]["recipient_id"]
        html = copy_of(engine, recipient_id).get_body(("html",)).get_content()
        click = html.split(server.url)[1].split('"')[0]
        pixel = f"/o/{server.runtime.signer.sign(tokens.OPEN, recipient_id)}.gif"
        stranger = make_rep(engine, clock, "sam@other.test", workspace="Other Co")
        response = await client.patch(f"/api/v1/emails/{sent['id']}", json={"archived": True}, headers=stranger.headers)
        assert response.status_code == 404  # not theirs
        response = await client.patch(f"/api/v1/emails/{sent['id']}", json={"archived": True}, headers=rep.headers)
        assert response.json() == {"id": sent["id"], "archived": True}
        opened = await client.get(pixel, headers={"user-agent": CHROME})
        clicked = await client.get(click, headers={"user-agent": CHROME})
        assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
        assert clicked.status_code == 302 and clicked.headers["location"] == "https://example.com/deck"
        assert count_events(engine) == 0
        await client.patch(f"/api/v1/emails/{sent['id']}", json={"archived": False}, headers=rep.headers)
        await client.get(pixel, headers={"user-agent": CHROME})
        assert count_events(engine) == 1
        bad = await client.patch(f"/api/v1/emails/{sent['id']}", json={"archived": "maybe"}, headers=rep.headers)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "archived"]

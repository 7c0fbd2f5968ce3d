"""The server side of the Gmail plug-in: connecting the extension (a code bound to its PKCE
challenge and return page, good once, for two minutes), CORS for extension origins only and never
with credentials, what the extension sends (Bcc, a Gmail thread, one tracked body for Gmail),
the rep's shared alert settings, and signing in that returns where it started."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from sqlalchemy import select

from livefeed.db.tables import emails, outbox

from .conftest import make_rep, send
from .support.mail import account
from .support.web import csrf_of, sign_in

EXT = "chrome-extension://" + "abcdefghijklmnopabcdefghijklmnop"
RETURN = EXT + "/connected.html"
VERIFIER = "v" * 20 + "-" * 10 + "~" * 13 + "x" * 20


def challenge(verifier: str = VERIFIER) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


async def approve(client, *, return_to=RETURN, code_challenge=None, state="s" * 20, decision="approve"):
    page = await client.get(
        "/extension/connect", params={"return_to": return_to, "code_challenge": code_challenge or challenge(), "state": state}
    )
    if page.status_code != 200:
        return page
    return await client.post(
        "/extension/connect",
        data={
            "return_to": return_to,
            "code_challenge": code_challenge or challenge(),
            "state": state,
            "decision": decision,
            "csrf": csrf_of(page.text),
        },
    )


def code_of(answer) -> str:
    location = answer.headers["location"]
    assert location.startswith(RETURN + "?")
    return re.search(r"code=([^&]+)", location).group(1).replace("%3D", "=")


async def test_the_extension_gets_a_token_of_its_own_once_for_its_verifier(server, rep, clock):
    async with server.client() as client:
        signed_out = await client.get(
            "/extension/connect", params={"return_to": RETURN, "code_challenge": challenge(), "state": "s" * 20}
        )
        await sign_in(client)
        approved = await approve(client)
        code = code_of(approved)
        wrong = await client.post(
            "/api/v1/extension/token", json={"code": code, "code_verifier": VERIFIER[:-1] + "y", "return_to": RETURN}
        )
        elsewhere = await client.post(
            "/api/v1/extension/token",
            json={"code": code, "code_verifier": VERIFIER, "return_to": "chrome-extension://" + "p" * 32 + "/connected.html"},
        )
        ok = await client.post("/api/v1/extension/token", json={"code": code, "code_verifier": VERIFIER, "return_to": RETURN})
        again = await client.post("/api/v1/extension/token", json={"code": code, "code_verifier": VERIFIER, "return_to": RETURN})
        token = ok.json()["token"]
        me = await client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
        listed = (await client.get("/api/v1/tokens", headers=rep.headers)).json()
        late = code_of(await approve(client))
        clock.advance(seconds=121)
        expired = await client.post(
            "/api/v1/extension/token", json={"code": late, "code_verifier": VERIFIER, "return_to": RETURN}
        )
        gone = await client.delete("/api/v1/tokens/current", headers={"authorization": f"Bearer {token}"})
        after = await client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/signin?next=%2Fextension%2Fconnect%3F")
    assert approved.status_code == 303 and "state=" + "s" * 20 in approved.headers["location"]
    assert approved.headers["referrer-policy"] == "no-referrer"
    for refused in (wrong, elsewhere, again, expired):
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "code"]
    assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store"
    assert ok.json()["user"] == {"id": rep.id, "email": rep.email, "name": "Rita"}
    assert me.json()["email"] == rep.email and me.json()["sends_with"] is None
    assert "Chrome extension" in [t["name"] for t in listed["tokens"]]  # listed and revocable like any token
    assert gone.status_code == 204 and after.status_code == 401


@pytest.mark.parametrize(
    "return_to, field",
    [
        ("https://evil.example/connected.html", "return_to"),
        ("chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP/connected.html", "return_to"),
        (RETURN + "?x=1", "return_to"),
        (EXT + "/options.html", "return_to"),
    ],
)
async def test_the_connect_page_answers_only_an_extension_page(server, rep, return_to, field):
    async with server.client() as client:
        await sign_in(client)
        page = await client.get(
            "/extension/connect", params={"return_to": return_to, "code_challenge": challenge(), "state": "s" * 20}
        )
        forged = await client.post(
            "/extension/connect",
            data={
                "return_to": return_to,
                "code_challenge": challenge(),
                "state": "s" * 20,
                "decision": "approve",
                "csrf": csrf_of(page.text),
            },
        )
    assert page.status_code == 400 and field in page.text
    assert forged.status_code == 400 and "location" not in forged.headers


async def test_declining_returns_access_denied_and_no_code(server, rep):
    async with server.client() as client:
        await sign_in(client)
        answer = await approve(client, decision="deny")
    assert (
        answer.status_code == 303
        and "error=access_denied" in answer.headers["location"]
        and "code=" not in answer.headers["location"]
    )


async def test_only_the_configured_extension_may_connect(settings, clock, rep):
    from .conftest import LiveServer

    async with LiveServer(settings.with_(extension_ids=("p" * 32,)), clock) as server, server.client() as client:
        await sign_in(client)
        refused = await approve(client)
        preflight = await client.options(
            "/api/v1/me",
            headers={"origin": EXT, "access-control-request-method": "GET", "access-control-request-headers": "authorization"},
        )
    assert refused.status_code == 400 and "LIVEFEED_EXTENSION_IDS" in refused.text
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_answers_extension_origins_with_tokens_never_credentials(server, rep):
    async with server.client() as client:
        preflight = await client.options(
            "/api/v1/emails",
            headers={
                "origin": EXT,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        stream = await client.options(
            "/api/v1/feed/stream",
            headers={"origin": EXT, "access-control-request-method": "GET", "access-control-request-headers": "authorization"},
        )
        me = await client.get("/api/v1/me", headers={**rep.headers, "origin": EXT})
        site = await client.get("/api/v1/me", headers={**rep.headers, "origin": "https://evil.example"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == EXT
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert stream.status_code == 200 and stream.headers["access-control-allow-origin"] == EXT
    assert me.headers["access-control-allow-origin"] == EXT
    assert "access-control-allow-credentials" not in me.headers and "access-control-allow-credentials" not in preflight.headers
    assert "access-control-allow-origin" not in site.headers


async def test_bcc_gets_its_own_copy_named_in_no_header_and_a_reply_keeps_its_thread(server, rep, engine):
    async with server.client() as client:
        sent = await send(
            client,
            rep,
            to=["paul@prospect.test"],
            bcc=["boss@seller.test"],
            subject="Re: Hello",
            in_reply_to="<abc.123@mail.gmail.com>",
            references="<first@prospect.test> <abc.123@mail.gmail.com>",
        )
        bad = [
            await client.post(
                "/api/v1/emails", headers=rep.headers, json={"to": ["paul@prospect.test"], "subject": "x", "text": "x", **extra}
            )
            for extra in (
                {"in_reply_to": "<a@b>\r\nBcc: x@evil.example"},
                {"references": "not-an-id"},
                {"thread_id": "../../x"},
                {"bcc": ["not an address"]},
            )
        ]
    assert sent["status"] in ("sent", "sending")
    assert [r["field"] for r in sent["recipients"]] == ["to", "bcc"]
    assert [b.status_code for b in bad] == [422] * 4
    assert [b.json()["detail"][0]["loc"][1] for b in bad] == ["in_reply_to", "references", "thread_id", "bcc"]
    with engine.connect() as conn:
        raws = [row.raw for row in conn.execute(select(outbox.c.raw))]
    assert len(raws) == 2
    for raw in raws:
        assert "boss@seller.test" not in raw.split("\n\n", 1)[0]  # the Bcc is never named in a header
        assert "In-Reply-To: <abc.123@mail.gmail.com>" in raw
        assert "References: <first@prospect.test> <abc.123@mail.gmail.com>" in raw


async def test_one_tracked_body_for_gmail_is_recorded_and_its_opens_are_one_of_n_never_a_forward(server, rep, engine, clock):
    async with server.client() as client:
        fields = await client.post(
            "/api/v1/emails/tracked-body",
            headers=rep.headers,
            json={"to": ["paul@prospect.test", "zoe@prospect.test"], "subject": "Hi", "html": "<p>Hi {{first_name}}</p>"},
        )
        no_html = await client.post(
            "/api/v1/emails/tracked-body",
            headers=rep.headers,
            json={"to": ["paul@prospect.test"], "subject": "Hi", "text": "plain"},
        )
        answer = await client.post(
            "/api/v1/emails/tracked-body",
            headers=rep.headers,
            json={
                "to": ["paul@prospect.test"],
                "cc": ["zoe@prospect.test"],
                "subject": "Pricing",
                "html": '<p>See <a href="https://seller.test/deck">the deck</a></p>',
            },
        )
        body = answer.json()
        pixel = re.search(r'src="http://127\.0\.0\.1:\d+(/o/[^"]+)"', body["html"]).group(1)
        clock.advance(minutes=30)
        for ip in ("81.2.69.142", "89.160.20.112"):  # two recipients in two countries read the same copy
            await client.get(
                pixel,
                headers={
                    "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36",
                    "x-forwarded-for": ip,
                },
            )
        feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
    assert fields.status_code == 422 and fields.json()["detail"][0]["loc"] == ["body", "html"]
    assert no_html.status_code == 422 and no_html.json()["detail"][0]["loc"] == ["body", "html"]
    assert answer.status_code == 201 and body["shared_with"] == 2 and body["tracked"] is True
    assert "https://seller.test/deck" not in body["html"] and "/c/" in body["html"]
    assert [r["address"] for r in body["recipients"]] == ["paul@prospect.test", "zoe@prospect.test"]
    opens = [e for e in feed if e["kind"] == "open"]
    assert len(opens) == 2 and all(e["email"]["shared_with"] == 2 for e in opens)
    assert not any(e["forwarded"] for e in opens)  # two places, two recipients: not a forward
    with engine.connect() as conn:
        assert conn.execute(select(emails.c.status, emails.c.shared_with)).one() == ("sent", 2)


async def test_a_do_not_track_recipient_gets_the_body_as_written(server, rep, engine):
    async with server.client() as client:
        await client.patch("/api/v1/workspace", headers=rep.headers, json={"do_not_track": ["@prospect.test"]})
        answer = (
            await client.post(
                "/api/v1/emails/tracked-body",
                headers=rep.headers,
                json={"to": ["paul@prospect.test"], "subject": "Hi", "html": '<p><a href="https://seller.test/">x</a></p>'},
            )
        ).json()
    assert answer["tracked"] is False and "/o/" not in answer["html"] and "https://seller.test/" in answer["html"]


async def test_the_rep_sees_how_their_mail_leaves(server, rep, engine, clock, mail_server):
    from livefeed.actions import connections

    port, _ = mail_server
    async with server.client() as client:
        before = (await client.get("/api/v1/me", headers=rep.headers)).json()["sends_with"]
        assert (await client.put("/api/v1/smtp", json=account(port), headers=rep.headers)).status_code == 200
        own = (await client.get("/api/v1/me", headers=rep.headers)).json()["sends_with"]
        user = {"id": rep.id, "workspace_id": rep.workspace_id}
        connections.connect_mail(
            engine,
            connections.connection_vault(server.runtime.settings.secret_key),
            user=user,
            provider="google",
            address=rep.email,
            refresh_token="r",
            token_endpoint="https://t.example/token",
            now=clock(),
        )
        connected = (await client.get("/api/v1/me", headers=rep.headers)).json()["sends_with"]
        connections.mark_connection(engine, rep.id, status="reconnect", error="revoked", now=clock())
        lost = (await client.get("/api/v1/me", headers=rep.headers)).json()["sends_with"]
    assert (before, own, connected) == (None, "smtp", "google")
    assert lost == "google"  # needing a reconnect, mail fails saying so rather than leaving another way


async def test_alert_settings_are_the_reps_own_and_checked(server, rep, clock):
    other = make_rep(server.runtime.engine, clock, "sam@seller.test")
    async with server.client() as client:
        default = (await client.get("/api/v1/me/alerts", headers=rep.headers)).json()
        changed = await client.put("/api/v1/me/alerts", headers=rep.headers, json={"kinds": {"open": False}})
        quiet = await client.put("/api/v1/me/alerts", headers=rep.headers, json={"quiet_until": "2026-11-26T10:00:00Z"})
        unknown = await client.put("/api/v1/me/alerts", headers=rep.headers, json={"kinds": {"sms": True}})
        far = await client.put("/api/v1/me/alerts", headers=rep.headers, json={"quiet_until": "2027-01-01T00:00:00Z"})
        naive = await client.put("/api/v1/me/alerts", headers=rep.headers, json={"quiet_until": "2026-11-26T10:00:00"})
        theirs = (await client.get("/api/v1/me/alerts", headers=other.headers)).json()
        ended = await client.put("/api/v1/me/alerts", headers=rep.headers, json={"quiet_until": None})
    assert default == {"kinds": {"open": True, "click": True, "reply": True, "marketing": True}, "quiet_until": None}
    assert changed.json()["kinds"]["open"] is False and changed.json()["kinds"]["reply"] is True
    assert quiet.json() == {
        "kinds": {"open": False, "click": True, "reply": True, "marketing": True},
        "quiet_until": "2026-11-26T10:00:00Z",
    }
    assert [r.status_code for r in (unknown, far, naive)] == [422, 422, 422]
    assert unknown.json()["detail"][0]["loc"] == ["body", "kinds", "sms"]
    assert theirs == default
    assert ended.json()["quiet_until"] is None and ended.json()["kinds"]["open"] is False


@pytest.mark.parametrize(
    "next_, lands",
    [
        ("/live", "/live"),
        ("/extension/connect?state=x", "/extension/connect?state=x"),
        ("//evil.example/", "/app"),
        ("/\\evil.example", "/app"),
        ("https://evil.example/", "/app"),
        ("/live\r\nSet-Cookie: x=1", "/app"),
    ],
)
async def test_signing_in_returns_where_it_started_never_to_another_site(server, rep, next_, lands):
    async with server.client() as client:
        form = await client.get("/signin", params={"next": next_})
        answer = await client.post(
            "/signin", data={"email": rep.email, "password": "correct horse battery", "csrf": csrf_of(form.text), "next": next_}
        )
    assert answer.status_code == 303 and answer.headers["location"] == lands

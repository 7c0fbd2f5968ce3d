"""Bad input never becomes a 500: line-breaking characters, stored names with them, deep JSON,
oversized bodies."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from livefeed.core.compose import header_problem, header_safe
from livefeed.db.tables import outbox, people, users

from .conftest import send

BREAKS = ["\v", "\f", "\x85", "\u2028", "\u2029", "\x1c", "\r", "\n", "\x00", "\x07"]


@pytest.mark.parametrize("char", BREAKS)
def test_every_line_breaking_or_control_character_is_refused_in_a_header(char):
    assert header_problem(f"Hello{char}Bcc: everyone@example.com") is not None
    assert header_safe(f"Jane{char}Doe") == "Jane Doe"


@pytest.mark.parametrize("char", ["\v", "\f", "\x85", "\u2028"])
async def test_a_subject_or_name_with_such_a_character_is_a_422_naming_the_field(server, rep, char):
    async with server.client() as client:
        subject = await client.post(
            "/api/v1/emails",
            headers=rep.headers,
            json={"to": ["paul@prospect.test"], "subject": f"Hi{char}there", "html": "<p>x</p>"},
        )
        named = await client.post(
            "/api/v1/emails",
            headers=rep.headers,
            json={"to": [f"Paul{char}Smith <paul@prospect.test>"], "subject": "Hi", "html": "<p>x</p>"},
        )
        person = await client.post(
            "/api/v1/people", headers=rep.headers, json={"email": "a@prospect.test", "first_name": f"A{char}B"}
        )
        user = await client.patch(f"/api/v1/users/{rep.id}", headers=rep.headers, json={"name": f"Rita{char}Rep"})
    assert subject.status_code == 422 and subject.json()["detail"][0]["loc"] == ["body", "subject"]
    assert named.status_code == 422 and named.json()["detail"][0]["loc"] == ["body", "to", "0"]
    assert person.status_code == 422 and person.json()["detail"][0]["loc"] == ["body", "first_name"]
    assert user.status_code == 422 and user.json()["detail"][0]["loc"] == ["body", "name"]


async def test_stored_names_with_a_line_separator_still_send(server, rep, engine):
    async with server.client() as client:
        await client.post("/api/v1/people", headers=rep.headers, json={"email": "paul@prospect.test", "first_name": "Paul"})
        with engine.begin() as conn:  # as a CRM sync or an old import could have stored them
            conn.execute(update(people).values(first_name="Pa\u2028ul"))
            conn.execute(update(users).where(users.c.id == rep.id).values(name="Rita\x85Rep"))
        server.runtime.credentials.clear()
        sent = await send(client, rep, subject="Hi {{first_name}}")
    with engine.connect() as conn:
        copy = conn.execute(select(outbox.c.subject, outbox.c.raw)).one()
    assert sent["status"] == "sent" and copy.subject == "Hi Pa ul"
    assert "From: Rita Rep <rita@seller.test>" in copy.raw


async def test_deeply_nested_json_is_a_400_at_the_beacon_the_webhook_and_the_api(server, rep, caplog):
    deep = b"[" * 50_000 + b"]" * 50_000
    async with server.client() as client:
        secret = (await client.post("/api/v1/workspace/marketo-webhook-secret", headers=rep.headers)).json()
        hook = await client.post(
            secret["url"].replace(server.url, ""),
            content=b'{"a":' + b"[" * 30_000 + b"]" * 30_000 + b"}",
            headers={secret["header"]: secret["secret"]},
        )
        api = await client.post("/api/v1/people", content=deep, headers={**rep.headers, "content-type": "application/json"})
    assert hook.status_code == 400 and hook.json()["detail"][0]["msg"] == "is nested too deeply"
    assert api.status_code in (400, 422)
    assert "Traceback" not in caplog.text


def test_a_beacon_body_nested_too_deeply_is_malformed():
    from livefeed.core.model import TooDeep, json_object

    with pytest.raises(TooDeep):
        json_object(b"[" * 100_000)


async def test_bodies_over_the_limit_are_refused_before_they_are_read(settings, clock):
    from .conftest import LiveServer

    async with LiveServer(settings.with_(max_body_bytes=64 * 1024), clock) as live, live.client() as client:
        declared = await client.post("/api/v1/people", content=b"x" * 100_000, headers={"content-type": "application/json"})

        reader, writer = await asyncio.open_connection("127.0.0.1", live.port)  # chunked: no length to refuse early
        writer.write(
            b"POST /signin HTTP/1.1\r\nHost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n"
            b"transfer-encoding: chunked\r\n\r\n" + (b"1000\r\n" + b"y" * 4096 + b"\r\n") * 20 + b"0\r\n\r\n"
        )
        await writer.drain()
        streamed = await asyncio.wait_for(reader.read(4096), 5)
        writer.close()
        small = await client.post("/api/v1/people", content=b"{}", headers={"content-type": "application/json"})
    assert declared.status_code == 413 and streamed.startswith(b"HTTP/1.1 413 ")
    assert small.status_code == 401  # under the limit: on to authentication as usual


async def test_html_sent_through_the_api_is_cleaned_like_the_compose_forms(server, rep, engine):
    html = (
        '<table width="600"><tr><td onclick="steal()"><p style="color:#333;behavior:url(x)">Hi</p>'
        '<img src="https://cdn.seller.test/logo.png" onerror="steal()"><a href="javascript:steal()">x</a>'
        '<script>steal()</script><iframe src="https://evil.test"></iframe>'
        '<a href="https://example.com/deck">the deck</a></td></tr></table>'
    )
    async with server.client() as client:
        await send(client, rep, html=html)
        empty = await client.post(
            "/api/v1/emails",
            headers=rep.headers,
            json={"to": ["paul@prospect.test"], "subject": "Hi", "html": "<script>steal()</script>"},
        )
    with engine.connect() as conn:
        raw = conn.execute(select(outbox.c.raw)).scalar()
    for active in ("steal()", "<script", "onerror", "onclick", "<iframe", "javascript:", "behavior"):
        assert active not in raw
    assert 'width=3D"600"' in raw or 'width="600"' in raw  # presentation stays
    assert "https://cdn.seller.test/logo.png" in raw and "/c/" in raw  # the image, and the link tracked
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "html"]

"""Faults that lose nothing: with PostgreSQL away (restarting, unreachable) the server keeps
answering pixels and known links, spools them on local disk, answers 503 where it cannot store,
and records every acknowledged hit once when the database is back; a full disk under SQLite is
answered the same way — never a 2xx for something not stored, never a 500."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import func, select

from livefeed.core import tokens
from livefeed.db.tables import events, links

from .conftest import LiveServer, SseReader, make_rep, pixel_path, require, send
from .faults import Unpluggable, fill, small_disk

HTML = '<p><a href="https://example.com/deck">deck</a> and <a href="https://example.com/price">price</a></p>'


def count(engine, kind: str | None = None) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(events)
        return conn.execute(query.where(events.c.kind == kind) if kind else query).scalar()


def link_ids(engine) -> list[int]:
    """The deck's link and the price's (the HTML part's; the text part has its own)."""
    with engine.connect() as conn:
        found = dict(conn.execute(select(links.c.url, links.c.id).order_by(links.c.id.desc())).all())
    return [found["https://example.com/deck"], found["https://example.com/price"]]


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
async def proxied(settings, clock):
    """(the proxy, a live server whose PostgreSQL is reached through it)."""
    proxy = await Unpluggable().start()
    try:
        async with LiveServer(settings.with_(database_url=proxy.url(settings.database_url)), clock) as server:
            yield proxy, server
    finally:
        await proxy.stop()


async def test_with_postgresql_away_hits_are_spooled_and_recorded_once_when_it_is_back(proxied, clock, engine, tmp_path):
    rep = make_rep(engine, clock, "rita@seller.test")
    proxy, server = proxied
    async with server.client() as client:
        recipient_id = (await send(client, rep, html=HTML))["recipients"][0]["recipient_id"]
        deck, price = link_ids(engine)
        signer = server.runtime.signer
        assert (await client.get(f"/c/{signer.sign(tokens.CLICK, deck)}")).status_code == 302  # before: recorded
        before = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"][0]["id"]

        proxy.cut()  # PostgreSQL restarts
        pixels = [await client.get(pixel_path(signer, recipient_id)) for _ in range(3)]
        known = await client.get(f"/c/{signer.sign(tokens.CLICK, deck)}")
        unknown = await client.get(f"/c/{signer.sign(tokens.CLICK, price)}")  # never clicked here: no destination
        write = await client.post("/api/v1/people", json={"email": "x@prospect.test"}, headers=rep.headers)
        stream = await client.get("/api/v1/feed/stream", headers={**rep.headers, "last-event-id": str(before)})
        assert [p.status_code for p in pixels] == [200] * 3 and all(p.content.startswith(b"GIF89a") for p in pixels)
        assert known.status_code == 302 and known.headers["location"] == "https://example.com/deck"
        assert unknown.status_code == 503 and unknown.headers["retry-after"]
        assert write.status_code == 503 and stream.status_code == 503
        spooled = [
            json.loads(line) for path in (tmp_path / "spool").glob("spool-*.jsonl") for line in path.read_text().splitlines()
        ]
        assert len(spooled) == 4 and all(hit["key"].startswith("spool:") for hit in spooled)
        assert count(engine) == 1  # nothing reached the database

        proxy.restore()
        assert await server.runtime.recorder.replay_spool() == 4
        assert await server.runtime.recorder.replay_spool() == 0
        assert count(engine, "open") == 3 and count(engine, "click") == 2
        async with client.stream("GET", "/api/v1/feed/stream", headers={**rep.headers, "last-event-id": str(before)}) as resumed:
            reader = SseReader(resumed)
            frames = [await reader.next_event("hit") for _ in range(4)]
        ids = [int(f["id"]) for f in frames]
        assert ids == sorted(ids) and len(set(ids)) == 4 and ids[0] > before  # the stream resumes without a gap
        assert (await client.post("/api/v1/people", json={"email": "x@prospect.test"}, headers=rep.headers)).status_code == 201


async def test_a_spool_replayed_twice_records_each_hit_once(proxied, clock, engine, tmp_path):
    rep = make_rep(engine, clock, "rita@seller.test")
    proxy, server = proxied
    async with server.client() as client:
        recipient_id = (await send(client, rep))["recipients"][0]["recipient_id"]
        proxy.cut()
        assert (await client.get(pixel_path(server.runtime.signer, recipient_id))).status_code == 200
        [path] = (tmp_path / "spool").glob("spool-*.jsonl")
        copy = path.read_text()
        proxy.restore()
        assert await server.runtime.recorder.replay_spool() == 1
        (tmp_path / "spool" / "spool-1-dead.jsonl").write_text(copy)  # a crash between the commit and the truncate
        assert await server.runtime.recorder.replay_spool() == 1
    assert count(engine, "open") == 1


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_full_disk_under_sqlite_is_never_acknowledged_and_nothing_acknowledged_is_lost(
    settings, clock, template_db, backend
):
    with small_disk("6m") as disk:
        require(disk is not None, "mounting a small tmpfs needs root (the full-disk test)")
        shutil.copy(template_db, disk / "livefeed.db")
        full = settings.with_(database_url=f"sqlite:///{disk / 'livefeed.db'}", var_dir=disk)  # the spool is on that disk too
        async with LiveServer(full, clock) as server, server.client() as client:
            from livefeed.db.engine import make_engine

            engine = make_engine(full.database_url)
            rep = make_rep(engine, clock, "rita@seller.test")
            recipient_id = (await send(client, rep, html=HTML))["recipients"][0]["recipient_id"]
            deck, _ = link_ids(engine)
            signer = server.runtime.signer
            assert (await client.get(f"/c/{signer.sign(tokens.CLICK, deck)}")).status_code == 302
            filler = fill(disk)
            answers = []
            for _ in range(3000):  # until the database's pages and the WAL's room are used up too
                answer = await client.get(pixel_path(signer, recipient_id))
                answers.append(answer.status_code)
                if answer.status_code != 200:
                    break
            click = await client.get(f"/c/{signer.sign(tokens.CLICK, deck)}")
            write = await client.post("/api/v1/people", json={"email": "x@prospect.test"}, headers=rep.headers)
            assert answers[-1] == 503 and set(answers) <= {200, 503}  # never a 500
            assert click.status_code in (302, 503) and write.status_code in (201, 503)
            filler.unlink()  # room again: the same server goes on
            after = await client.get(pixel_path(signer, recipient_id))
            clicked = await client.get(f"/c/{signer.sign(tokens.CLICK, deck)}")
            assert after.status_code == 200 and clicked.status_code == 302
            await server.runtime.recorder.replay_spool()
            opens = answers.count(200) + 1
            clicks = 2 + (click.status_code == 302)
            assert count(engine, "open") == opens and count(engine, "click") == clicks  # acknowledged = stored
            engine.dispose()

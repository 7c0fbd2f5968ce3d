"""People, owners and lead scores; the Target list; CSV import — on both databases."""

import asyncio

import pytest
from typer.testing import CliRunner

from livefeed.cli import app
from livefeed.db.targets import list_sql

from .conftest import make_rep, ready_stream


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


async def upsert(client, rep, expect=(200, 201), **body):
    response = await client.post("/api/v1/people", json=body, headers=rep.headers)
    assert response.status_code in expect, response.text
    return response.json()


async def targets(client, rep) -> dict:
    response = await client.get("/api/v1/targets", headers=rep.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_upsert_by_email_keeps_a_score_history(server, rep, clock):
    async with server.client() as client:
        response = await client.post(
            "/api/v1/people",
            json={
                "email": "Paul@Prospect.test",
                "first_name": "Paul",
                "last_name": "Smith",
                "company": "Prospect",
                "owner_email": rep.email,
                "lead_score": 40,
            },
            headers=rep.headers,
        )
        assert response.status_code == 201
        person = response.json()
        assert person["name"] == "Paul Smith" and person["owner"]["email"] == rep.email and person["lead_score"] == 40
        clock.advance(hours=1)
        response = await client.post(
            "/api/v1/people", json={"email": "paul@prospect.test", "lead_score": 65, "title": "CTO"}, headers=rep.headers
        )
        assert response.status_code == 200 and response.json()["id"] == person["id"]
        clock.advance(hours=1)
        patched = (
            await client.patch(f"/api/v1/people/{person['id']}", json={"lead_score": 50, "phone": None}, headers=rep.headers)
        ).json()
        assert patched["title"] == "CTO" and patched["company"] == "Prospect" and patched["lead_score"] == 50
        full = (await client.get(f"/api/v1/people/{person['id']}", headers=rep.headers)).json()
    assert [(c["old"], c["new"], c["source"], c["at"]) for c in full["score_history"]] == [
        (65, 50, "api", "2026-11-26T11:00:00Z"),
        (40, 65, "api", "2026-11-26T10:00:00Z"),
        (None, 40, "api", "2026-11-26T09:00:00Z"),
    ]


async def test_a_rise_is_a_feed_event_for_the_owner_and_a_first_score_is_not(server, rep, engine, clock):
    colleague = make_rep(engine, clock, "olga@seller.test")
    async with server.client() as client:
        async with ready_stream(client, rep.headers) as reader:
            person = await upsert(
                client, rep, email="paul@prospect.test", first_name="Paul", owner_email=rep.email, lead_score=40
            )
            assert (await reader.next())["event"] == "changed"  # the Target list changed; no feed row
            await upsert(client, rep, email="paul@prospect.test", lead_score=30)  # a fall: no row
            await upsert(client, rep, email="paul@prospect.test", lead_score=65)
            frame = await reader.next_event("hit")
        feed = (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]
        assert (await client.get("/api/v1/feed", headers=colleague.headers)).json()["events"] == []
    assert '"reason":"Score rose from 30 to 65"' in frame["data"] and '"kind":"score"' in frame["data"]
    assert [(e["kind"], e["person"]["id"], e["score"]) for e in feed] == [("score", person["id"], {"old": 30, "new": 65})]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "paul"}, "email"),
        ({"email": "paul@prospect.test", "owner_email": "nobody@seller.test"}, "owner_email"),
        ({"email": "paul@prospect.test", "lead_score": "lots"}, "lead_score"),
        ({"email": "paul@prospect.test", "linkedin_url": "https://evil.test/in/paul"}, "linkedin_url"),
        ({"email": "paul@prospect.test", "phone": "ring ring"}, "phone"),
        ({"email": "paul@prospect.test", "company": "Line\nbreak"}, "company"),
        ({"email": "paul@prospect.test", "score": 3}, "score"),
        ({"first_name": "Paul"}, "email"),
    ],
)
async def test_bad_people_are_422_and_change_nothing(server, rep, body, field):
    async with server.client() as client:
        response = await client.post("/api/v1/people", json=body, headers=rep.headers)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"][-1] == field
        assert (await client.get("/api/v1/people?q=paul", headers=rep.headers)).json()["people"] == []


async def test_people_of_another_workspace(server, rep, engine, clock):
    stranger = make_rep(engine, clock, "sam@other.test", workspace="Other Co")
    async with server.client() as client:
        mine = await upsert(client, rep, email="paul@prospect.test", first_name="Paul")
        theirs = await upsert(client, stranger, email="paul@prospect.test", first_name="Their Paul", owner_email=stranger.email)
        assert mine["id"] != theirs["id"]  # the same address is another person in another workspace
        assert (await client.get(f"/api/v1/people/{theirs['id']}", headers=rep.headers)).status_code == 404
        assert (
            await client.patch(f"/api/v1/people/{theirs['id']}", json={"lead_score": 1}, headers=rep.headers)
        ).status_code == 404
        response = await client.post(
            "/api/v1/people", json={"email": "x@p.test", "owner_email": stranger.email}, headers=rep.headers
        )
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "owner_email"]
        other = await upsert(client, rep, email="ann@prospect.test")
        response = await client.patch(f"/api/v1/people/{other['id']}", json={"email": "paul@prospect.test"}, headers=rep.headers)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "email"]


async def test_targets_are_the_owned_risen_people_highest_first(server, rep, engine, clock):
    colleague = make_rep(engine, clock, "olga@seller.test")
    async with server.client() as client:
        for index, score in enumerate([10, 50, 50, 90]):
            await upsert(client, rep, email=f"p{index}@prospect.test", owner_email=rep.email, lead_score=score)
            clock.advance(minutes=1)
        await upsert(client, rep, email="theirs@prospect.test", owner_email=colleague.email, lead_score=99)
        await upsert(client, rep, email="unscored@prospect.test", owner_email=rep.email)
        await upsert(client, rep, email="unowned@prospect.test", lead_score=95)
        listed = await targets(client, rep)
        assert [p["email"] for p in listed["people"]] == [
            "p3@prospect.test",
            "p2@prospect.test",
            "p1@prospect.test",
            "p0@prospect.test",
        ]
        # a tie is broken by the most recent increase
        clock.advance(minutes=1)
        await upsert(client, rep, email="p1@prospect.test", lead_score=40)  # falls: no new increase
        await upsert(client, rep, email="p1@prospect.test", lead_score=50)  # rises back: the latest increase
        listed = await targets(client, rep)
        assert [p["email"] for p in listed["people"]][:3] == ["p3@prospect.test", "p1@prospect.test", "p2@prospect.test"]
        first = listed["people"][1]
        assert first["rank"] == 2 and first["last_change"]["old"] == 40 and first["rise_7d"] == 0  # 50→40→50 nets 0
        assert [r["text"] for r in first["reasons"]] == [
            "Score rose from 40 to 50 (api)",
            "Score fell from 50 to 40 (api)",
            "Scored 50 (api)",
        ]
        assert [p["email"] for p in (await targets(client, colleague))["people"]] == ["theirs@prospect.test"]


async def test_stars_flames_and_fixed_tiers(server, rep, clock):
    async with server.client() as client:
        for index in range(10):
            await upsert(client, rep, email=f"p{index}@prospect.test", owner_email=rep.email, lead_score=10 * (index + 1))
        clock.advance(days=1)
        await upsert(client, rep, email="p0@prospect.test", lead_score=15)  # +5
        await upsert(client, rep, email="p1@prospect.test", lead_score=60)  # +40
        await upsert(client, rep, email="p2@prospect.test", lead_score=32)  # +2
        listed = {p["email"]: p for p in (await targets(client, rep))["people"]}
        assert listed["p9@prospect.test"]["stars"] == 3 and listed["p9@prospect.test"]["flames"] == 0
        assert listed["p0@prospect.test"]["stars"] == 0
        # rises 40, 5, 2: cut points 2 (any rise), 40 (top half), 40 (top tenth)
        assert (
            listed["p1@prospect.test"]["flames"],
            listed["p0@prospect.test"]["flames"],
            listed["p2@prospect.test"]["flames"],
        ) == (3, 1, 1)
        response = await client.patch(
            "/api/v1/workspace",
            json={"tier_method": "fixed", "star_thresholds": "20,60,100", "flame_thresholds": "1,10,100"},
            headers=rep.headers,
        )
        assert response.status_code == 200 and response.json()["tier_method"] == "fixed"
        listed = await targets(client, rep)
        by_email = {p["email"]: p for p in listed["people"]}
        assert listed["tiers"]["stars"] == [20, 60, 100]
        assert (
            by_email["p9@prospect.test"]["stars"],
            by_email["p4@prospect.test"]["stars"],
            by_email["p0@prospect.test"]["stars"],
        ) == (3, 1, 0)
        assert by_email["p1@prospect.test"]["flames"] == 2
        for body, field in [({"tier_method": "magic"}, "tier_method"), ({"star_thresholds": "3,2,1"}, "star_thresholds")]:
            response = await client.patch("/api/v1/workspace", json=body, headers=rep.headers)
            assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", field]


async def test_engagement_score_ranks_people_without_a_lead_score_when_the_workspace_chooses(server, rep, clock):
    from .conftest import pixel_path, send

    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    async with server.client() as client:
        sent = await send(client, rep, to=["paul@prospect.test"])
        clock.advance(hours=1)
        for _ in range(2):
            await client.get(
                pixel_path(server.runtime.signer, sent["recipients"][0]["recipient_id"]),
                headers={"user-agent": chrome, "x-forwarded-for": "81.2.69.142"},
            )
        await upsert(client, rep, email="scored@prospect.test", owner_email=rep.email, lead_score=1)
        assert [p["email"] for p in (await targets(client, rep))["people"]] == ["scored@prospect.test"]
        await client.patch("/api/v1/workspace", json={"engagement_ranking": True}, headers=rep.headers)
        listed = (await targets(client, rep))["people"]
    assert [(p["email"], p["score_source"]) for p in listed] == [
        ("paul@prospect.test", "engagement"),
        ("scored@prospect.test", "api"),
    ]
    assert listed[0]["score"] == 2.0 and listed[0]["reasons"][0]["text"] == "Opened “Hello”"


async def test_target_list_is_capped_at_50(server, rep):
    async with server.client() as client:
        for index in range(55):
            await upsert(client, rep, email=f"p{index}@prospect.test", owner_email=rep.email, lead_score=index + 1)
        listed = (await targets(client, rep))["people"]
    assert len(listed) == 50 and listed[0]["score"] == 55 and listed[-1]["score"] == 6


def test_the_target_query_uses_the_owner_score_index(engine, rep):
    sql = list_sql(engine.dialect.name)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql.ranked}", (rep.id, rep.workspace_id))
            )
            assert "USING INDEX ix_people_owner_score" in plan and "TEMP B-TREE" not in plan, plan
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # a test table is tiny: make the choice visible
            plan = " ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql.ranked}", (rep.id, rep.workspace_id)))
            assert "ix_people_owner_score" in plan and "Sort" not in plan, plan


# --- CSV import --------------------------------------------------------------------------------

runner = CliRunner()


def import_file(tmp_path, settings, rows: str, *args):
    path = tmp_path / "people.csv"
    path.write_text(rows)
    env = {"LIVEFEED_DATABASE_URL": settings.database_url, "LIVEFEED_VAR_DIR": str(tmp_path)}
    return runner.invoke(app, ["import", "people", str(path), "--workspace", "Acme", *args], env=env)


HEADER = "email,first_name,last_name,company,owner_email,lead_score\n"


def test_import_is_all_or_nothing_unless_partial(tmp_path, settings, engine, rep):
    rows = HEADER + f"a@p.test,Ann,Lee,P,{rep.email},30\nbad-address,B,,,,\nc@p.test,C,,,nobody@seller.test,10\n"
    result = import_file(tmp_path, settings, rows)
    assert result.exit_code == 1
    assert (
        "line 3: bad-address: email:" in result.stderr
        and "line 4: c@p.test: owner_email: no rep nobody@seller.test" in result.stderr
    )
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM people").scalar() == 0
    result = import_file(tmp_path, settings, rows, "--partial")
    assert result.exit_code == 0 and "Created 1, updated 0, unchanged 0, rejected 2" in result.stdout
    result = import_file(tmp_path, settings, HEADER + "a@p.test,,,,,45\n")
    assert result.exit_code == 0 and "Created 0, updated 1, unchanged 0, rejected 0; 1 score rise(s)" in result.stdout
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT name, company, lead_score FROM people WHERE email = 'a@p.test'").one()
        assert tuple(row) == ("Ann Lee", "P", 45)  # empty cells kept the name and company
        assert conn.exec_driver_sql("SELECT kind, reason FROM events").all() == [("score", "Score rose from 30 to 45")]


def test_import_refuses_a_bad_header_or_workspace(tmp_path, settings, rep):
    result = import_file(tmp_path, settings, "mail,score\nx@y.test,1\n")
    assert result.exit_code == 2 and "unknown column 'mail'" in result.stderr
    path = tmp_path / "p.csv"
    path.write_text(HEADER)
    env = {"LIVEFEED_DATABASE_URL": settings.database_url, "LIVEFEED_VAR_DIR": str(tmp_path)}
    result = runner.invoke(app, ["import", "people", str(path), "--workspace", "Nope"], env=env)
    assert result.exit_code == 2 and "No workspace 'Nope'" in result.stderr


async def test_an_import_beside_the_running_server_reaches_open_windows(tmp_path, settings, clock, engine, rep):
    from .conftest import LiveServer

    async with LiveServer(settings.with_(checkpoint_seconds=0.02), clock) as server:
        async with server.client() as client:
            await upsert(client, rep, email="a@p.test", owner_email=rep.email, lead_score=10)
            async with ready_stream(client, rep.headers) as reader:
                result = await asyncio.to_thread(import_file, tmp_path, settings, HEADER + "a@p.test,,,,,70\n")
                assert result.exit_code == 0, result.output
                frame = await reader.next_event("hit")
    assert '"reason":"Score rose from 10 to 70"' in frame["data"]


async def test_a_built_list_is_reused_until_a_hit_a_score_change_or_its_age(server, rep, clock):
    from .conftest import pixel_path, send

    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    lists = server.runtime.target_lists
    async with server.client() as client:
        sent = await send(client, rep, to=["paul@prospect.test"], subject="Pricing")
        await upsert(client, rep, email="paul@prospect.test", owner_email=rep.email, lead_score=50)
        first = await targets(client, rep)
        assert await targets(client, rep) == first and lists.hits == 1
        clock.advance(minutes=1)  # older than LIVEFEED_TARGET_CACHE_SECONDS: rebuilt
        assert (await targets(client, rep))["generated_at"] == "2026-11-26T09:01:00Z"
        await client.get(
            pixel_path(server.runtime.signer, sent["recipients"][0]["recipient_id"]),
            headers={"user-agent": chrome, "x-forwarded-for": "81.2.69.142"},
        )
        assert (await targets(client, rep))["people"][0]["reasons"][0]["text"] == "Opened “Pricing”"  # the hit dropped it
        await upsert(client, rep, email="paul@prospect.test", lead_score=80)
        assert (await targets(client, rep))["people"][0]["score"] == 80  # so did the rise


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL imports in one transaction: no shared write lock
def test_a_sqlite_import_lets_other_writers_in_between_its_chunks(engine, rep, monkeypatch):
    """Tracking must never wait behind a whole import: the write lock is released between chunks."""
    import sqlite3

    from livefeed.actions import people
    from livefeed.db.tables import now_utc

    monkeypatch.setattr(people, "SQLITE_CHUNK", 2)
    path = engine.url.database
    got_in = []

    def another_writer():  # a hit's transaction, with no patience at all
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE workspaces SET name = name")
            other.execute("COMMIT")
            got_in.append(True)
        finally:
            other.close()

    rows = HEADER + "".join(f"p{n}@p.test,,,,{rep.email},{n + 1}\n" for n in range(6))
    result = people.import_people(
        engine, workspace_id=rep.workspace_id, text=rows, partial=False, now=now_utc(), pause=another_writer
    )
    assert result.created == 6 and got_in == [True, True]  # between the three chunks


async def test_people_search_finds_last_names_and_any_word_of_a_company(server, rep):
    async with server.client() as client:
        for body in (
            {"email": "paul@prospect.test", "first_name": "Paul", "last_name": "Smith", "company": "Acme Labs Europe"},
            {"email": "zoe@other.test", "first_name": "Zoe", "last_name": "Quinn", "company": "Labsworth"},
            {"email": "amy@third.test", "first_name": "Amy", "last_name": "Smithers", "company": "100% Growth_Co"},
        ):
            await client.post("/api/v1/people", headers=rep.headers, json=body)
        find = lambda q: client.get("/api/v1/people", params={"q": q}, headers=rep.headers)  # noqa: E731
        by_last = [p["email"] for p in (await find("smith")).json()["people"]]
        by_word = [p["email"] for p in (await find("labs")).json()["people"]]
        by_third = [p["email"] for p in (await find("europe")).json()["people"]]
        wildcard = [p["email"] for p in (await find("%")).json()["people"]]
        underscore = [p["email"] for p in (await find("growth_co")).json()["people"]]
        not_a_wildcard = [p["email"] for p in (await find("growthxco")).json()["people"]]
    assert by_last == ["amy@third.test", "paul@prospect.test"]  # "Smith" and "Smithers", by email
    assert by_word == ["paul@prospect.test", "zoe@other.test"]  # "Acme Labs…" (a word), "Labsworth" (the start)
    assert by_third == ["paul@prospect.test"]
    assert wildcard == [] and not_a_wildcard == []  # % and _ are characters, not wildcards
    assert underscore == ["amy@third.test"]

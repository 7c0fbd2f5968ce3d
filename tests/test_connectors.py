"""Marketo and Salesforce connectors against a local server answering with the vendors'
documented payloads: paging, token expiry, rate limits, quota, malformed answers; the cursor
resumes and nothing is recorded twice."""

from __future__ import annotations

import pytest
import uvicorn
from sqlalchemy import select

from livefeed.db.tables import connectors, people, users
from livefeed.integrations import connectors as sync

from .conftest import free_port, send
from .vendors import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, Vendors


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


class FakePace(sync.Pace):
    """Waits recorded, not slept."""

    def __init__(self, **kw):
        self.slept: list[float] = []
        self.now = 0.0

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)
            self.now += seconds

        super().__init__(sleep=sleep, monotonic=lambda: self.now, **kw)


async def connect(client, rep, vendors, kind="marketo", **changes):
    body = {"base_url": vendors.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **changes}
    if kind == "salesforce":
        body.setdefault("refresh_token", REFRESH_TOKEN)
    return await client.put(f"/api/v1/connectors/{kind}", json=body, headers=rep.headers)


async def marketo_pass(server, rep, pace=None):
    [connector] = sync.load(server.runtime, rep.workspace_id, "marketo")
    return await sync.run_pass(server.runtime, connector, pace=pace or FakePace())


async def feed(client, rep):
    return (await client.get("/api/v1/feed", headers=rep.headers)).json()["events"]


async def test_connecting_checks_the_credentials_and_never_shows_them(server, rep, vendors):
    async with server.client() as client:
        refused = await connect(client, rep, vendors, client_secret="wrong")
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "client_secret"]
        assert "Bad client credentials" in refused.json()["detail"][0]["msg"]
        unreachable = await connect(client, rep, vendors, base_url=f"http://127.0.0.1:{free_port()}")
        assert unreachable.status_code == 422 and unreachable.json()["detail"][0]["loc"] == ["body", "base_url"]
        plain = await connect(client, rep, vendors, base_url="http://marketo.example.com")
        assert plain.status_code == 422 and plain.json()["detail"][0]["loc"] == ["body", "base_url"]
        no_refresh = await connect(client, rep, vendors, kind="salesforce", refresh_token="")
        assert no_refresh.status_code == 422 and no_refresh.json()["detail"][0]["loc"] == ["body", "refresh_token"]
        assert (await client.get("/api/v1/connectors", headers=rep.headers)).json() == {"connectors": []}
        ok = await connect(client, rep, vendors)
        assert ok.status_code == 200, ok.text
        listed = (await client.get("/api/v1/connectors", headers=rep.headers)).json()["connectors"]
    assert [c["kind"] for c in listed] == ["marketo"] and listed[0]["secret_set"] is True
    assert CLIENT_SECRET not in str(listed)
    with server.runtime.engine.connect() as conn:
        assert CLIENT_SECRET not in conn.execute(select(connectors.c.secret)).scalar()


async def test_a_marketo_pass_brings_moments_forms_and_scores_to_the_owners(server, rep, vendors):
    async with server.client() as client:
        await client.post(
            "/api/v1/people",
            json={"email": "paul@prospect.test", "owner_email": rep.email, "lead_score": 50},
            headers=rep.headers,
        )
        await send(client, rep, to=["anna@prospect.test"])  # Anna has no owner: Rita emailed her
        assert (await connect(client, rep, vendors)).status_code == 200
        done = await marketo_pass(server, rep)
        events_ = await feed(client, rep)
        targets = (await client.get("/api/v1/targets", headers=rep.headers)).json()["people"]
        nora = (await client.get("/api/v1/people?q=newbie", headers=rep.headers)).json()["people"]
        listed = (await client.get("/api/v1/connectors", headers=rep.headers)).json()["connectors"][0]
    assert (done.pages, done.read, done.recorded, done.unassigned) == (2, 7, 2, 2)
    by_kind = {e["kind"]: e for e in events_}
    assert by_kind["moment"]["reason"] == "Interesting Moment (Web)"
    assert by_kind["moment"]["message"] == "Viewed the pricing page three times"
    assert by_kind["moment"]["person"]["email"] == "paul@prospect.test" and by_kind["moment"]["class"] == "marketing"
    assert by_kind["form"]["person"]["email"] == "anna@prospect.test" and by_kind["form"]["message"] == "Contact Us - Enterprise"
    assert by_kind["score"]["score"] == {"old": 50, "new": 65}
    assert [t["email"] for t in targets] == ["paul@prospect.test"] and targets[0]["score"] == 65
    # The newsletter reader is now known, "not in LiveFeed", and nobody's (no owner, never emailed).
    assert [p["email"] for p in nora] == ["newbie@newco.test"]
    with server.runtime.engine.connect() as conn:
        row = conn.execute(
            select(people.c.added_at, people.c.marketo_id, people.c.name).where(people.c.email == "newbie@newco.test")
        ).one()
    assert row.added_at is None and row.marketo_id == "1003" and row.name == "Nora New"
    assert listed["status"] == "ok" and listed["has_cursor"] and listed["synced_at"]


async def test_a_second_pass_resumes_from_the_cursor_and_a_replay_records_nothing(server, rep, vendors):
    async with server.client() as client:
        await client.post("/api/v1/people", json={"email": "paul@prospect.test", "owner_email": rep.email}, headers=rep.headers)
        assert (await connect(client, rep, vendors)).status_code == 200
        first = await marketo_pass(server, rep)
        vendors.calls.clear()
        second = await marketo_pass(server, rep)
        assert vendors.paths() == ["/identity/oauth/token", "/rest/v1/activities.json"]  # from the cursor, not the start
        with server.runtime.engine.begin() as conn:  # lose the cursor: everything is read again
            conn.execute(connectors.update().values(cursor=None))
        replay = await marketo_pass(server, rep)
        count = len(await feed(client, rep))
    assert first.recorded == 1 and second.read == 0
    assert (replay.read, replay.recorded, replay.duplicates) == (7, 0, 1) and count == 1


async def test_expired_tokens_and_rate_limits_are_handled_and_the_quota_stops_the_pass(server, rep, vendors):
    async with server.client() as client:
        await client.post("/api/v1/people", json={"email": "paul@prospect.test", "owner_email": rep.email}, headers=rep.headers)
        assert (await connect(client, rep, vendors)).status_code == 200
        vendors.queue("/rest/v1/activities/pagingtoken.json", 200, "error_602")  # expired: renew, retry
        vendors.queue("/rest/v1/activities.json", 200, "error_606")  # rate limit: back off, retry
        vendors.queue("/rest/v1/leads.json", 200, "error_606")
        pace = FakePace(backoff_seconds=20)
        done = await marketo_pass(server, rep, pace)
        assert done.recorded == 1 and vendors.tokens == 3  # the check, the first token, the renewal
        assert pace.slept == [20, 20]
        with server.runtime.engine.begin() as conn:
            conn.execute(connectors.update().values(cursor=None))
        vendors.queue("/rest/v1/activities.json", 200, "activities_page1")
        vendors.queue("/rest/v1/activities.json", 200, "error_607")  # daily quota: stop, keep the cursor
        stopped = await marketo_pass(server, rep, FakePace())
        listed = (await client.get("/api/v1/connectors", headers=rep.headers)).json()["connectors"][0]
    assert stopped.pages == 1 and stopped.stopped.startswith("daily quota reached")
    assert listed["status"] == "ok" and listed["error"].startswith("daily quota reached") and listed["has_cursor"]


async def test_a_malformed_answer_fails_the_pass_visibly_and_keeps_the_cursor(server, rep, vendors):
    async with server.client() as client:
        assert (await connect(client, rep, vendors)).status_code == 200
        await marketo_pass(server, rep)
        with server.runtime.engine.connect() as conn:
            cursor = conn.execute(select(connectors.c.cursor)).scalar()
        vendors.queue("/rest/v1/activities.json", 200, b"<html>gateway</html>")
        with pytest.raises(sync.SyncError, match="not JSON"):
            await marketo_pass(server, rep)
        listed = (await client.get("/api/v1/connectors", headers=rep.headers)).json()["connectors"][0]
    assert listed["status"] == "error" and "not JSON" in listed["error"]
    with server.runtime.engine.connect() as conn:
        assert conn.execute(select(connectors.c.cursor)).scalar() == cursor


async def test_the_rate_limiter_keeps_under_100_calls_in_20_seconds():
    pace = FakePace()
    limit = sync.RateLimit(pace)
    for _ in range(100):
        await limit.take()
    assert pace.slept == []
    await limit.take()
    assert pace.slept == [20.0]


async def test_a_salesforce_pass_assigns_people_to_reps_by_owner_id(server, engine, rep, vendors):
    rita = rep
    with engine.begin() as conn:  # the 15-character form of the user id matches the 18
        conn.execute(users.update().where(users.c.id == rita.id).values(salesforce_user_id="005xx000001Sv6A"))
    async with server.client() as client:
        assert (await connect(client, rita, vendors, kind="salesforce")).status_code == 200
        vendors.expire_tokens()  # the first query meets INVALID_SESSION_ID: renew and retry
        [connector] = sync.load(server.runtime, rita.workspace_id, "salesforce")
        done = await sync.run_pass(server.runtime, connector, pace=FakePace())
        second = await sync.run_pass(
            server.runtime, sync.load(server.runtime, rita.workspace_id, "salesforce")[0], pace=FakePace()
        )
    with engine.connect() as conn:
        rows = {
            r.email: r
            for r in conn.execute(
                select(people.c.email, people.c.owner_id, people.c.company, people.c.salesforce_id, people.c.added_at)
            )
        }
        cursor = conn.execute(select(connectors.c.cursor)).scalar()
    assert (done.pages, done.read, done.people) == (3, 4, 3)  # two Lead pages, one Contact page; one bad address skipped
    assert rows["paul@prospect.test"].owner_id == rita.id and rows["paul@prospect.test"].salesforce_id == "00Q5e00000AbCdEEAV"
    assert rows["anna@prospect.test"].owner_id is None  # owned by someone who is not a rep here
    assert rows["carla@customer.test"].company == "Customer Ltd" and rows["carla@customer.test"].added_at is not None
    assert "not-an-address" not in rows
    assert cursor == '{"Contact": "2026-11-26T07:30:00.000+0000", "Lead": "2026-11-26T08:10:00.000+0000"}'
    assert second.read == 0
    assert any("SystemModstamp > 2026-11-26T08:10:00.000+0000" in params.get("q", "") for _, params in vendors.calls)


async def test_salesforce_busy_answers_back_off_and_its_api_limit_stops_the_pass_keeping_the_cursor(server, rep, vendors):
    """503 and 429 are retried after a growing wait; 403 REQUEST_LIMIT_EXCEEDED (the org's 24-hour
    API allowance: REST API Developer Guide, "Status Codes and Error Responses") ends the pass where
    it is, to resume on the next one."""
    async with server.client() as client:
        assert (await connect(client, rep, vendors, kind="salesforce")).status_code == 200
        vendors.queue("/services/data/v60.0/query", 503, {"message": "busy"})
        vendors.queue("/services/data/v60.0/query", 429, {"message": "slow down"})
        pace = FakePace(backoff_seconds=20)
        [connector] = sync.load(server.runtime, rep.workspace_id, "salesforce")
        done = await sync.run_pass(server.runtime, connector, pace=pace)
        with server.runtime.engine.connect() as conn:
            cursor = conn.execute(select(connectors.c.cursor)).scalar()
        vendors.queue("/services/data/v60.0/query", 403, "request_limit_exceeded")
        stopped = await sync.run_pass(
            server.runtime, sync.load(server.runtime, rep.workspace_id, "salesforce")[0], pace=FakePace()
        )
        listed = (await client.get("/api/v1/connectors", headers=rep.headers)).json()["connectors"][0]
    with server.runtime.engine.connect() as conn:
        kept = conn.execute(select(connectors.c.cursor)).scalar()
    assert pace.slept == [20, 40] and done.done and done.people == 3
    assert stopped.stopped.startswith("API limit reached") and "REQUEST_LIMIT_EXCEEDED" in stopped.stopped
    assert kept == cursor and listed["error"].startswith("API limit reached")


async def test_the_scheduler_runs_a_pass_when_its_interval_has_passed_and_not_before(server, rep, vendors, clock):
    async with server.client() as client:
        assert (await connect(client, rep, vendors, interval_seconds=600)).status_code == 200
    scheduler = sync.Scheduler(server.runtime, pace=FakePace())
    vendors.calls.clear()
    await scheduler.tick()  # never synced: due now
    first = vendors.paths()
    vendors.calls.clear()
    clock.advance(seconds=599)
    await scheduler.tick()
    early = vendors.paths()
    clock.advance(seconds=1)
    await scheduler.tick()
    due = vendors.paths()
    assert "/rest/v1/activities.json" in first or "/rest/v1/activities/pagingtoken.json" in first
    assert early == []  # 599 s of 600: not yet
    assert "/rest/v1/activities.json" in due


async def test_a_salesforce_error_is_shown_on_the_connector(server, rep, vendors):
    async with server.client() as client:
        assert (await connect(client, rep, vendors, kind="salesforce")).status_code == 200
        vendors.queue("/services/data/v60.0/query", 400, "malformed_query")
        answer = await client.post("/api/v1/connectors/salesforce/sync", headers=rep.headers)
        listed = (await client.get("/api/v1/connectors", headers=rep.headers)).json()["connectors"][0]
    assert answer.status_code == 502 and "MALFORMED_QUERY" in answer.json()["detail"]
    assert listed["status"] == "error" and "MALFORMED_QUERY" in listed["error"]


def test_the_sync_command_runs_one_pass_and_says_what_it_did(tmp_path):
    import json
    import threading

    from typer.testing import CliRunner

    from livefeed.cli import app
    from livefeed.db.engine import make_engine
    from livefeed.db.tables import now_utc
    from livefeed.settings import from_env

    fake = Vendors()
    fake.port = free_port()
    web = uvicorn.Server(uvicorn.Config(fake, host="127.0.0.1", port=fake.port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    try:
        env = {
            "LIVEFEED_VAR_DIR": str(tmp_path),
            "LIVEFEED_DATABASE_URL": f"sqlite:///{tmp_path / 'lf.db'}",
            "LIVEFEED_OUTBOUND_ALLOW": "127.0.0.1",
        }  # the stand-in vendor listens on loopback
        runner = CliRunner()
        assert (
            runner.invoke(
                app, ["users", "add", "--email", "rita@seller.test", "--name", "Rita", "--timezone", "Europe/Paris"], env=env
            ).exit_code
            == 0
        )
        missing = runner.invoke(app, ["sync", "marketo"], env=env)
        assert missing.exit_code == 2 and "No marketo connection" in missing.output
        unknown = runner.invoke(app, ["sync", "hubspot"], env=env)
        assert unknown.exit_code == 2 and "marketo or salesforce" in unknown.output
        settings = from_env(env)
        engine = make_engine(settings.database_url)
        secret = sync.connector_vault(settings.secret_key).seal(json.dumps({"client_secret": CLIENT_SECRET}))
        with engine.begin() as conn:
            conn.execute(
                connectors.insert().values(
                    workspace_id=1,
                    kind="marketo",
                    base_url=f"http://127.0.0.1:{fake.port}",
                    client_id=CLIENT_ID,
                    secret=secret,
                    updated_at=now_utc(),
                )
            )
        engine.dispose()
        ran = runner.invoke(app, ["sync", "marketo"], env=env)
    finally:
        web.should_exit = True
        thread.join(5)
    assert ran.exit_code == 0, ran.output
    assert "marketo: 2 page(s), 7 read, 0 feed row(s), 3 people" in ran.output  # nobody owns them yet

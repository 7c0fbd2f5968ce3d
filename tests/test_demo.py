"""The demo: a workspace and rep on an empty database, and a simulator driving real endpoints."""

import random

from sqlalchemy import func, select

from livefeed import actions
from livefeed.db.tables import events, recipients, users
from livefeed.demo import DEMO_EMAIL, REPLIES, Simulator, ensure_demo

from .conftest import make_rep


async def test_demo_rep_is_created_once_on_an_empty_database(server):
    rep, password = ensure_demo(server.runtime)
    assert rep.email == DEMO_EMAIL and password
    again, no_password = ensure_demo(server.runtime)
    assert again.user_id == rep.user_id and no_password is None


async def test_demo_is_not_added_beside_real_users(server, engine, clock):
    make_rep(engine, clock, "real@company.test")
    rep, _ = ensure_demo(server.runtime)
    assert rep is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(users)).scalar() == 1


async def test_simulator_drives_the_real_endpoints_with_varied_hits(server, engine, clock):
    rep, _ = ensure_demo(server.runtime)
    simulator = Simulator(server.runtime, rep, tick=0, rng=random.Random(3))
    for _ in range(6):  # several emails, every scenario step, no sleeping
        await simulator.send_one()
    steps = simulator.steps
    async with server.client() as client:
        for step in steps:
            clock.advance(seconds=30)
            for ip, agent, path in step:
                response = await client.get(path, headers={"x-forwarded-for": ip, "user-agent": agent})
                assert response.status_code in (200, 302)
    with engine.connect() as conn:
        classes = set(conn.execute(select(events.c.cls)).scalars())
        cities = set(conn.execute(select(events.c.city).where(events.c.city.is_not(None))).scalars())
    assert {"human", "machine"} <= classes and len(classes) >= 3
    assert len(cities) >= 2


async def test_demo_rep_has_people_tasks_and_a_moving_target_list(server, clock):
    rep, _ = ensure_demo(server.runtime)
    token = actions.create_token(server.runtime.engine, email=rep.email, now=clock())
    headers = {"authorization": f"Bearer {token}"}
    simulator = Simulator(server.runtime, rep, tick=0, rng=random.Random(5))
    async with server.client() as client:
        listed = (await client.get("/api/v1/targets", headers=headers)).json()["people"]
        assert [p["name"] for p in listed[:2]] == ["Chloé Martin", "Ana Souza"] and len(listed) == 6
        today = (await client.get("/api/v1/tasks?due=today", headers=headers)).json()["tasks"]
        overdue = (await client.get("/api/v1/tasks?overdue=true", headers=headers)).json()["tasks"]
        assert len(today) == 2 and [t["title"] for t in overdue] == ["Chase Ben for the signed order form"]
        templates = (await client.get("/api/v1/templates", headers=headers)).json()["templates"]
        assert [(t["name"], t["fields"]) for t in templates] == [
            ("First touch", ["company", "first_name", "sender_name"]),
            ("Follow-up after a call", ["first_name", "sender_name"]),
        ]
        clock.advance(minutes=5)
        await simulator.raise_a_score()
        feed = (await client.get("/api/v1/feed", headers=headers)).json()["events"]
    assert [e["kind"] for e in feed] == ["score"] and feed[0]["reason"].startswith("Score rose from ")


async def test_demo_marketing_shows_moments_and_people_not_yet_in_livefeed(server, clock):
    rep, _ = ensure_demo(server.runtime)
    token = actions.create_token(server.runtime.engine, email=rep.email, now=clock())
    simulator = Simulator(server.runtime, rep, tick=0, rng=random.Random(1))
    await simulator.open_inbound()  # the webhook secret (and the inbound SMTP server)
    async with server.client() as client:
        for _ in range(12):
            clock.advance(minutes=1)
            await simulator.marketing(client)
        feed = (await client.get("/api/v1/feed", headers={"authorization": f"Bearer {token}"})).json()["events"]
    assert {e["kind"] for e in feed} == {"moment", "form"} and all(e["class"] == "marketing" for e in feed)
    assert {e["person"]["in_livefeed"] for e in feed if e["kind"] == "form"} == {False}


async def test_demo_replies_arrive_through_the_inbound_smtp_server(server, clock):
    rep, _ = ensure_demo(server.runtime)
    token = actions.create_token(server.runtime.engine, email=rep.email, now=clock())
    simulator = Simulator(server.runtime, rep, tick=0, rng=random.Random(2))
    await simulator.open_inbound()
    await simulator.send_one()
    with server.runtime.engine.connect() as conn:
        recipient_id = conn.execute(select(recipients.c.id).order_by(recipients.c.id.desc())).scalar()
    await simulator.reply(recipient_id)  # a real SMTP delivery to the demo's inbound server
    async with server.client() as client:
        feed = (await client.get("/api/v1/feed", headers={"authorization": f"Bearer {token}"})).json()["events"]
    [reply] = [e for e in feed if e["kind"] == "reply"]
    assert reply["detail"] in REPLIES and reply["class"] == "human"

"""The demo: a workspace and rep on an empty database, and a simulator driving real endpoints."""

import random

from sqlalchemy import func, select

from livefeed.db.tables import events, users
from livefeed.demo import DEMO_EMAIL, Simulator, ensure_demo

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

"""The demo: a workspace, a rep and simulated prospects that make the Live Feed visibly live.

The simulator sends tracked emails to the local outbox and then drives opens and clicks through
the real tracking endpoints over HTTP, from varied addresses (X-Forwarded-For from loopback,
trusted in demo mode only) and real user agents: people in several cities, a Gmail reader, an
Apple Mail Privacy Protection prefetch, a security gateway clicking every link, and a forward.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from . import actions
from .core import tokens
from .db.tables import links, users, workspaces
from .runtime import Runtime

log = logging.getLogger("livefeed.demo")

DEMO_WORKSPACE = "Demo Co"
DEMO_EMAIL = "demo@livefeed.example"
PEOPLE = [
    "Ana Souza <ana.souza@acme-logistics.example>", "Ben Carter <ben@northwind.example>",
    "Chloé Martin <chloe.martin@bluebird.example>", "Daniel Kim <dkim@summit-health.example>",
    "Erik Lindqvist <erik@nordic-steel.example>", "Fatima Zahra <fatima@atlas-retail.example>",
]
SUBJECTS = ["Quick question about your Q3 rollout", "Following up on our call", "Pricing for 250 seats",
            "Case study: how Northwind cut onboarding time", "Intro: LiveFeed <> your team"]
# Addresses that GeoLite2 places in a city (checked against the shipped database).
PLACES = ["81.2.69.142", "89.160.20.112", "24.24.24.24", "46.101.0.1", "2.125.160.216", "41.0.0.1"]
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
GMAIL_PROXY = ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "66.249.84.1")
APPLE_MPP = ("Mozilla/5.0", "17.58.0.1")
SAFE_LINKS = (DESKTOP, "40.107.22.10")


@dataclass
class DemoRep:
    user_id: int
    email: str


def ensure_demo(rt: Runtime) -> tuple[DemoRep, str | None]:
    """Create the demo workspace and rep on an empty database; return the rep and a new password."""
    with rt.engine.connect() as conn:
        existing = conn.execute(select(users.c.id, users.c.email).join(workspaces, workspaces.c.id == users.c.workspace_id)
                                .where(workspaces.c.name == DEMO_WORKSPACE)).first()
        anyone = conn.execute(select(users.c.id).limit(1)).first()
    if existing:
        return DemoRep(existing.id, existing.email), None
    if anyone:
        return None, None  # a real install: never add a demo beside real users
    password = secrets.token_urlsafe(9)
    user_id = actions.add_user(rt.engine, email=DEMO_EMAIL, name="Dana Demo", timezone="Europe/London",
                               workspace=DEMO_WORKSPACE, password=password, now=rt.clock())
    return DemoRep(user_id, DEMO_EMAIL), password


async def start_demo(rt: Runtime, *, tick: float = 2.5, seed: int | None = None) -> None:
    """Lifespan hook for `serve --demo`."""
    rep, password = await asyncio.to_thread(ensure_demo, rt)
    if rep is None:
        log.warning("--demo ignored: this database already has real users")
        return
    from .web.pages import signin_url

    link = signin_url(rt.signer, rt.settings.public_url, user_id=rep.user_id, now=rt.clock())
    lines = ["", "  LiveFeed demo is running.", f"  Sign in at {rt.settings.public_url}/signin as {rep.email}"]
    if password:
        lines.append(f"  password: {password}")
    lines += [f"  or open this sign-in link (valid 15 min): {link}", "  Then press 'Live Feed' in the web app.", ""]
    print("\n".join(lines), flush=True)
    simulator = Simulator(rt, rep, tick=tick, rng=random.Random(seed))
    rt.background.append(asyncio.create_task(simulator.run(), name="livefeed-demo"))


class Simulator:
    """Sends emails and then plays a scenario for each recipient, one step per tick."""

    def __init__(self, rt: Runtime, rep: DemoRep, *, tick: float, rng: random.Random):
        self.rt, self.rep, self.tick, self.rng = rt, rep, tick, rng
        self.steps: list = []

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.rt.settings.public_url, timeout=10) as client:
            while True:
                try:
                    if not self.steps:
                        await self.send_one()
                    step = self.steps.pop(0)  # the requests of one step go out together
                    await asyncio.gather(*(client.get(path, headers={"x-forwarded-for": ip, "user-agent": agent})
                                           for ip, agent, path in step))
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("demo step failed")
                await asyncio.sleep(self.tick * self.rng.uniform(0.4, 1.6))

    async def send_one(self) -> None:
        to = self.rng.sample(PEOPLE, k=self.rng.choice((1, 1, 2)))
        user = await asyncio.to_thread(self._user)
        body = ("Hi,\n\nHere is the deck we discussed: https://example.com/deck\n"
                "Pricing is at https://example.com/pricing and a case study at https://example.com/case-study\n\nBest,\nDana")
        draft = actions.validate_draft(to=to, cc=[], subject=self.rng.choice(SUBJECTS),
                                       html=None, text=body)
        sent = await self.rt.sender.send_email(user, draft)
        for recipient in sent.recipients:
            link_ids = await asyncio.to_thread(self._link_ids, recipient["recipient_id"])
            self.steps.extend(self.scenario(recipient["recipient_id"], link_ids))

    def _user(self):
        with self.rt.engine.connect() as conn:
            return conn.execute(select(users).where(users.c.id == self.rep.user_id)).mappings().one()

    def _link_ids(self, recipient_id: int) -> list[int]:
        with self.rt.engine.connect() as conn:
            return list(conn.execute(select(links.c.id).where(links.c.recipient_id == recipient_id).order_by(links.c.id)).scalars())

    def scenario(self, recipient_id: int, link_ids: list[int]) -> list[list[tuple[str, str, str]]]:
        """Steps for one recipient; each step is a list of requests sent at once."""
        sign = self.rt.signer.sign
        pixel = f"/o/{sign(tokens.OPEN, recipient_id)}.gif"
        clicks = [f"/c/{sign(tokens.CLICK, link_id)}" for link_id in link_ids]
        home, away = self.rng.sample(PLACES, 2)
        device = self.rng.choice((DESKTOP, OUTLOOK, IPHONE))
        kind = self.rng.choice(("reader", "reader", "gmail", "apple", "scanner", "forward"))
        if kind == "gmail":
            return [[(GMAIL_PROXY[1], GMAIL_PROXY[0], pixel)], [(home, DESKTOP, self.rng.choice(clicks))]]
        if kind == "apple":
            return [[(APPLE_MPP[1], APPLE_MPP[0], pixel)], [(home, IPHONE, pixel)]]
        if kind == "scanner":  # a gateway follows every link at once, before the reader opens
            return [[(SAFE_LINKS[1], SAFE_LINKS[0], c) for c in clicks], [(home, OUTLOOK, pixel)]]
        if kind == "forward":
            return [[(home, device, pixel)], [(home, device, pixel)], [(away, IPHONE, pixel)]]
        return [[(home, device, pixel)], [(home, device, pixel)], [(home, DESKTOP, self.rng.choice(clicks))]]

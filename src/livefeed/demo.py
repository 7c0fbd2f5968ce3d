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
from email.message import EmailMessage

import httpx
from sqlalchemy import select

from . import actions
from .actions.changes import Changes
from .core import tokens
from .core.compose import split_recipient
from .db.tables import emails, links, recipients, users, workspaces
from .runtime import Runtime

log = logging.getLogger("livefeed.demo")
# What every browser sends with a request (a click without it is a script's: core/classify.py).
BROWSER = {"accept-language": "en-GB,en;q=0.9"}

DEMO_WORKSPACE = "Demo Co"
DEMO_EMAIL = "demo@livefeed.example"
PEOPLE = [
    "Ana Souza <ana.souza@acme-logistics.example>",
    "Ben Carter <ben@northwind.example>",
    "Chloé Martin <chloe.martin@bluebird.example>",
    "Daniel Kim <dkim@summit-health.example>",
    "Erik Lindqvist <erik@nordic-steel.example>",
    "Fatima Zahra <fatima@atlas-retail.example>",
]
SUBJECTS = [
    "Quick question about your Q3 rollout",
    "Following up on our call",
    "Pricing for 250 seats",
    "Case study: how Northwind cut onboarding time",
    "Intro: LiveFeed <> your team",
]
# Addresses that GeoLite2 places in a city (checked against the shipped database).
PLACES = ["81.2.69.142", "89.160.20.112", "24.24.24.24", "46.101.0.1", "2.125.160.216", "41.0.0.1"]
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
GMAIL_PROXY = ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "66.249.84.1")
APPLE_MPP = ("Mozilla/5.0", "17.58.0.1")
SAFE_LINKS = (DESKTOP, "40.107.22.10")
SCORE_RISE_CHANCE = 0.15  # after a step, a demo person's lead score rises this often
REPLY_CHANCE = 0.5  # a reader answers this often (through the inbound SMTP path)
REPLY = "reply"  # a scenario step that is a reply mail, not a request
REPLIES = [
    "Thanks, this looks good. Can we talk on Tuesday?",
    "Could you send the pricing for 300 seats?",
    "Looping in my colleague who owns the budget.",
    "Interesting — what does onboarding look like?",
]
MARKETING_CHANCE = 0.12  # after a step, Marketo reports a moment or a form fill this often
MOMENTS = [
    ("Web", "Viewed the pricing page 3 times this week"),
    ("Email", "Opened the November newsletter twice"),
    ("Milestone", "Registered for the product webinar"),
    ("Web", "Downloaded the security whitepaper"),
]
NEWCOMERS = [
    ("Grace Hopper", "grace@compilers.example", "Compilers Inc"),
    ("Hiro Tanaka", "hiro@kaizen-tools.example", "Kaizen Tools"),
    ("Ines Duarte", "ines@porto-foods.example", "Porto Foods"),
]


@dataclass
class DemoRep:
    user_id: int
    email: str


def ensure_demo(rt: Runtime) -> tuple[DemoRep | None, str | None]:
    """Create the demo workspace and rep on an empty database; return the rep and a new password."""
    with rt.engine.connect() as conn:
        existing = conn.execute(
            select(users.c.id, users.c.email)
            .join(workspaces, workspaces.c.id == users.c.workspace_id)
            .where(workspaces.c.name == DEMO_WORKSPACE)
        ).first()
        anyone = conn.execute(select(users.c.id).limit(1)).first()
    if existing:
        return DemoRep(existing.id, existing.email), None
    if anyone:
        return None, None  # a real install: never add a demo beside real users
    password = secrets.token_urlsafe(9)
    user_id = actions.add_user(
        rt.engine,
        email=DEMO_EMAIL,
        name="Dana Demo",
        timezone="Europe/London",
        workspace=DEMO_WORKSPACE,
        password=password,
        now=rt.clock(),
    )
    seed_people_and_tasks(rt, user_id)
    return DemoRep(user_id, DEMO_EMAIL), password


# People of the demo: (entry in PEOPLE, title, phone, LinkedIn handle, first lead score)
PROFILES = [
    ("Ana Souza", "Head of Operations", "+55 11 5555 0101", "ana-souza", 72),
    ("Ben Carter", "VP Sales", "+1 415 555 0123", None, 55),
    ("Chloé Martin", "CTO", None, "chloe-martin", 88),
    ("Daniel Kim", "Procurement Lead", "+1 617 555 0199", "danielkim", 34),
    ("Erik Lindqvist", "CFO", "+46 8 555 010 20", None, 61),
    ("Fatima Zahra", "Director of IT", None, None, 47),
]


DEMO_TEMPLATES = [
    (
        "First touch",
        "{{company}} and LiveFeed",
        "<p>Hi {{first_name}},</p><p>I noticed {{company}} is growing its sales team. "
        "Teams like yours use us to see <b>the moment</b> a prospect engages. Here is a two-minute overview: "
        '<a href="https://example.com/overview">overview</a>.</p><p>Worth a short call this week?</p><p>{{sender_name}}</p>',
        True,
    ),
    (
        "Follow-up after a call",
        "Following up, {{first_name}}",
        "<p>Hi {{first_name}},</p><p>Thanks for your time today. As promised:</p>"
        '<ul><li><a href="https://example.com/pricing">pricing</a></li><li><a href="https://example.com/security">security overview</a></li></ul>'
        "<p>{{sender_name}}</p>",
        False,
    ),
]


def seed_people_and_tasks(rt: Runtime, user_id: int) -> None:
    """The demo rep owns the demo people (with scores), has a few tasks (one overdue) and two templates."""
    from datetime import timedelta

    from .actions import people, tasks
    from .actions import templates as email_templates
    from .core.taskdates import local_today, zone

    now = rt.clock()
    records = []
    for index, (entry, (name, title, phone, handle, score)) in enumerate(zip(PEOPLE, PROFILES)):
        _, email = split_recipient(entry)
        first, _, last = name.partition(" ")
        record = {
            "email": email,
            "first_name": first,
            "last_name": last,
            "title": title,
            "company": email.split("@")[1].split(".")[0].replace("-", " ").title(),
            "owner_email": DEMO_EMAIL,
            "lead_score": score,
            "phone": phone,
        }
        if handle:
            record["linkedin_url"] = f"https://www.linkedin.com/in/{handle}"
        records.append((index + 1, record))
    today = local_today(now, zone("Europe/London"))
    with rt.engine.begin() as conn:
        user = conn.execute(select(users).where(users.c.id == user_id)).mappings().one()
        applied, _ = people.apply_people(conn, workspace_id=user["workspace_id"], records=records, source="import", now=now)
        ids = list(applied.ids.values())
        for title, kind, day, at, person in [
            ("Call Ana about the Q3 rollout", "call", 0, "15:00", ids[0]),
            ("Send Chloé the security whitepaper", "email", 0, None, ids[2]),
            ("Connect with Daniel on LinkedIn", "linkedin", 1, None, ids[3]),
            ("Chase Ben for the signed order form", "email", -2, None, ids[1]),
            ("Prepare the Nordic Steel demo", "custom", 3, "10:00", None),
        ]:
            fields = {"type": kind, "title": title, "due_date": (today + timedelta(days=day)).isoformat(), "person_id": person}
            if at:
                fields["due_time"] = at
            tasks.create_task(conn, user, fields, now=now, changes=Changes())  # seeding: no window is open yet
        for name, subject, html, shared in DEMO_TEMPLATES:
            email_templates.create(conn, user, {"name": name, "subject": subject, "html": html, "shared": shared}, now=now)


async def start_demo(rt: Runtime, *, tick: float = 2.5, seed: int | None = None) -> None:
    """Lifespan hook for `serve --demo`."""
    rep, password = await asyncio.to_thread(ensure_demo, rt)
    if rep is None:
        log.warning("--demo ignored: this database already has real users")
        return
    from .actions.sessions import signin_url

    link = signin_url(rt.signer, rt.settings.public_url, user_id=rep.user_id, now=rt.clock())
    lines = ["", "  LiveFeed demo is running.", f"  Sign in at {rt.settings.public_url}/signin as {rep.email}"]
    if password:
        lines.append(f"  password: {password}")
    lines += [f"  or open this sign-in link (valid 15 min): {link}", "  Then press 'Live Feed' in the web app.", ""]
    print("\n".join(lines), flush=True)
    simulator = Simulator(rt, rep, tick=tick, rng=random.Random(seed))
    await simulator.open_inbound()
    rt.background.append(asyncio.create_task(simulator.run(), name="livefeed-demo"))


class Simulator:
    """Sends emails and then plays a scenario for each recipient, one step per tick."""

    def __init__(self, rt: Runtime, rep: DemoRep, *, tick: float, rng: random.Random):
        self.rt, self.rep, self.tick, self.rng = rt, rep, tick, rng
        self.steps: list = []
        self.smtp_port: int | None = None  # the demo's own inbound SMTP server (replies arrive there)
        self.hook: tuple[str, str] | None = None  # the Marketo webhook's path and secret

    async def open_inbound(self) -> None:
        """Start an inbound SMTP server for the demo's replies and set a Marketo webhook secret,
        so replies and Interesting Moments take the same paths as real ones."""
        from .actions.replies import serve_smtp
        from .core.secrets import new_secret, secret_hash

        server = await serve_smtp(self.rt, "127.0.0.1", 0)
        self.smtp_port = server.sockets[0].getsockname()[1]

        async def keep() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                server.close()

        self.rt.background.append(asyncio.create_task(keep(), name="livefeed-demo-smtpd"))
        secret = new_secret("lfwh_")
        user = await asyncio.to_thread(self._user)

        def store() -> str:
            with self.rt.engine.begin() as conn:
                conn.execute(
                    workspaces.update()
                    .where(workspaces.c.id == user["workspace_id"])
                    .values(marketo_hook_secret_hash=secret_hash(secret))
                )
                return conn.execute(select(workspaces.c.site_key).where(workspaces.c.id == user["workspace_id"])).scalar_one()

        self.hook = (f"/hooks/marketo/{await asyncio.to_thread(store)}", secret)

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.rt.settings.public_url, timeout=10) as client:
            while True:
                try:
                    if not self.steps:
                        await self.send_one()
                    step = self.steps.pop(0)  # the requests of one step go out together
                    await asyncio.gather(
                        *(
                            self.reply(int(path))
                            if ip == REPLY
                            else client.get(path, headers={"x-forwarded-for": ip, "user-agent": agent, **BROWSER})
                            for ip, agent, path in step
                        )
                    )
                    if self.rng.random() < SCORE_RISE_CHANCE:
                        await self.raise_a_score()
                    if self.rng.random() < MARKETING_CHANCE:
                        await self.marketing(client)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("demo step failed")
                await asyncio.sleep(self.tick * self.rng.uniform(0.4, 1.6))

    async def send_one(self) -> None:
        to = self.rng.sample(PEOPLE, k=self.rng.choice((1, 1, 2)))
        user = await asyncio.to_thread(self._user)
        body = (
            "Hi,\n\nHere is the deck we discussed: https://example.com/deck\n"
            "Pricing is at https://example.com/pricing and a case study at https://example.com/case-study\n\nBest,\nDana"
        )
        draft = actions.validate_draft(to=to, cc=[], subject=self.rng.choice(SUBJECTS), html=None, text=body)
        sent = await self.rt.sender.send_email(user, draft)
        for recipient in sent.recipients:
            link_ids = await asyncio.to_thread(self._link_ids, recipient["recipient_id"])
            self.steps.extend(self.scenario(recipient["recipient_id"], link_ids))

    async def raise_a_score(self) -> None:
        """Marketo-like: someone's lead score rises (a Target list move and a feed row)."""
        from .actions import people

        user = await asyncio.to_thread(self._user)
        _, email = split_recipient(self.rng.choice(PEOPLE))
        current = await asyncio.to_thread(self._score, user["workspace_id"], email)
        if current is None:
            return
        record = {"email": email, "lead_score": current + self.rng.choice((5, 10, 15, 25))}
        await people.upsert_people(self.rt, workspace_id=user["workspace_id"], records=[(1, record)], source="marketo")

    async def marketing(self, client: httpx.AsyncClient) -> None:
        """Marketo, through its webhook: an Interesting Moment of a demo person, or a form fill by
        someone not yet in LiveFeed (a purple row with the down-arrow to add them)."""
        user = await asyncio.to_thread(self._user)
        if self.rng.random() < 0.6:
            _, email = split_recipient(self.rng.choice(PEOPLE))
            moment_type, text = self.rng.choice(MOMENTS)
            body = {"type": "interesting_moment", "moment_type": moment_type, "description": text, "lead": {"email": email}}
        else:
            name, email, company = self.rng.choice(NEWCOMERS)
            first, last = name.split(" ", 1)
            body = {
                "type": "form_fill",
                "description": "Contact Us – Enterprise",
                "owner_email": user["email"],
                "lead": {"email": email, "firstName": first, "lastName": last, "company": company},
            }
        body["activity_id"] = f"demo-{self.rng.getrandbits(48)}"
        if self.hook is None:
            raise RuntimeError("the demo's Marketo webhook is set up when the demo starts")
        path, secret = self.hook
        answer = await client.post(path, json=body, headers={"x-livefeed-secret": secret})
        answer.raise_for_status()

    async def reply(self, recipient_id: int) -> None:
        """The prospect answers: a reply mail delivered to the demo's inbound SMTP server."""
        import aiosmtplib

        address, subject = await asyncio.to_thread(self._copy, recipient_id)
        message = EmailMessage()
        message["From"], message["To"] = address, DEMO_EMAIL
        message["Subject"] = f"Re: {subject}"
        message["Message-ID"] = f"<demo-{self.rng.getrandbits(64):x}@{address.rpartition('@')[2]}>"
        message["In-Reply-To"] = message["References"] = self.rt.sender.message_id(recipient_id)
        message.set_content(self.rng.choice(REPLIES) + "\n\nOn Tue, Dana wrote:\n> Hi,\n")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=self.smtp_port)

    def _copy(self, recipient_id: int) -> tuple[str, str]:
        with self.rt.engine.connect() as conn:
            row = conn.execute(
                select(recipients.c.address, emails.c.subject)
                .join(emails, emails.c.id == recipients.c.email_id)
                .where(recipients.c.id == recipient_id)
            ).one()
        return row.address, row.subject

    def _score(self, workspace_id: int, email: str) -> int | None:
        from .db.tables import people as people_table

        with self.rt.engine.connect() as conn:
            return conn.execute(
                select(people_table.c.lead_score).where(
                    people_table.c.workspace_id == workspace_id, people_table.c.email == email
                )
            ).scalar()

    def _user(self):
        with self.rt.engine.connect() as conn:
            return conn.execute(select(users).where(users.c.id == self.rep.user_id)).mappings().one()

    def _link_ids(self, recipient_id: int) -> list[int]:
        with self.rt.engine.connect() as conn:
            return list(
                conn.execute(select(links.c.id).where(links.c.recipient_id == recipient_id).order_by(links.c.id)).scalars()
            )

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
        steps = [[(home, device, pixel)], [(home, device, pixel)], [(home, DESKTOP, self.rng.choice(clicks))]]
        if self.smtp_port and self.rng.random() < REPLY_CHANCE:
            steps.append([(REPLY, "", str(recipient_id))])
        return steps

"""Reply to window through Microsoft Graph: by change notification, and by the 10-second poll.

    .venv/bin/python bench/reply_provider.py [--notified 20] [--polled 6]

A LiveFeed server (in this process, real uvicorn) with one rep whose Microsoft account is
connected; the suite's Microsoft stand-ins (OpenID provider and Graph) on loopback. Each sample:
a reply to the rep's email lands in the rep's Inbox at the stand-in, and the clock runs until the
reply's row arrives on the rep's open live stream. "Notified": Graph's change notification to
/hooks/graph makes LiveFeed read the delta at once. "Polled": no notifications; the background
poller reads every 10 s, and the reply lands at a random moment of that interval.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "src"))

from sqlalchemy import insert  # noqa: E402
from tests.conftest import LiveServer, SseReader  # noqa: E402
from tests.mail_apis import MailApiStandIn  # noqa: E402
from tests.oidc_provider import OpenIdStandIn  # noqa: E402

from livefeed import actions  # noqa: E402
from livefeed.actions.connections import connection_vault  # noqa: E402
from livefeed.db import migrate  # noqa: E402
from livefeed.db.engine import make_engine  # noqa: E402
from livefeed.db.tables import mail_connections  # noqa: E402
from livefeed.edge.mailpoll import PollTiming  # noqa: E402
from livefeed.integrations.services import ServiceTiming  # noqa: E402
from livefeed.settings import OidcSettings, Settings  # noqa: E402

SECRET = b"bench-secret-key-0123456789abcdef-0123456789"


def utc_now() -> datetime:
    return datetime.now(UTC)


async def run(notified: bool, samples: int) -> list[float]:
    folder = Path(tempfile.mkdtemp(prefix="livefeed-replies-"))
    url = f"sqlite:///{folder / 'livefeed.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = utc_now()
    user_id = actions.add_user(engine, email="rita@seller.test", name="Rita", timezone="UTC", now=now)
    token = actions.create_token(engine, email="rita@seller.test", now=now)
    async with (
        OpenIdStandIn("microsoft", client_id="bench", client_secret="s", clock=utc_now) as microsoft,
        MailApiStandIn(microsoft) as graph,
    ):
        microsoft.refresh_tokens["rt-bench"] = "openid email offline_access Mail.Send Mail.Read"
        with engine.begin() as conn:
            conn.execute(
                insert(mail_connections).values(
                    user_id=user_id,
                    workspace_id=1,
                    provider="microsoft",
                    address="rita@seller.test",
                    secret=connection_vault(SECRET).seal("rt-bench"),
                    token_endpoint=f"{microsoft.url}/token",
                    status="connected",
                    created_at=now,
                    updated_at=now,
                )
            )
        settings = Settings(
            database_url=url,
            public_url="http://bench.test",
            secret_key=SECRET,
            var_dir=folder,
            microsoft=OidcSettings("bench", "s", microsoft.discovery_url),
            graph_api_url=graph.url,
            graph_notifications=notified,
        )
        timing = ServiceTiming(poll=PollTiming(poll_seconds=3600 if notified else 10.0))
        async with LiveServer(settings, utc_now, services=timing) as server:
            await server.runtime.services.held.wait()
            headers = {"authorization": f"Bearer {token}"}
            async with server.client() as client:
                sent = (
                    await client.post(
                        "/api/v1/emails", headers=headers, json={"to": ["paul@prospect.test"], "subject": "Hello", "text": "hi"}
                    )
                ).json()
                message_id = server.runtime.sender.message_id(sent["recipients"][0]["recipient_id"])
                await server.runtime.services.poller.poll_all()  # the delta's place (and the subscription)
                latencies = []
                async with client.stream("GET", "/api/v1/feed/stream", headers=headers) as response:
                    reader = SseReader(response)
                    await reader.next_event("ready")
                    for n in range(samples):
                        if not notified:
                            await asyncio.sleep(random.uniform(0, 10))  # a reply lands anywhere in the poll interval
                        raw = (
                            f"From: paul@prospect.test\r\nTo: rita@seller.test\r\nSubject: Re: Hello\r\n"
                            f"Message-ID: <bench-{n}@prospect.test>\r\nIn-Reply-To: {message_id}\r\n\r\nReply {n}\r\n"
                        ).encode()
                        started = time.perf_counter()
                        arrived = graph.deliver(raw)
                        if notified:
                            await graph.notify(arrived)
                        await reader.next_event("hit", timeout=30)
                        latencies.append(time.perf_counter() - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notified", type=int, default=20)
    parser.add_argument("--polled", type=int, default=6)
    args = parser.parse_args()
    for notified, samples in ((True, args.notified), (False, args.polled)):
        if not samples:
            continue
        found = asyncio.run(run(notified, samples))
        print(
            f"{'notification' if notified else 'polling (10 s)'}: {samples} replies, median {statistics.median(found) * 1000:.0f} ms, "
            f"max {max(found) * 1000:.0f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""How many connected reps one process polls within the 10-second interval.

    .venv/bin/python bench/mailpoll.py [--reps 1000] [--latency 0.05] [--concurrency 20 50] [--runs 3]

The Google stand-ins of the test suite (OpenID provider and Gmail API) answer every request after
`--latency` seconds (the issue's 50 ms). `--reps` reps are connected; after a first round (tokens
refreshed, each mailbox's place taken) every round reads each rep's Gmail history once. Printed:
the median duration of a steady round for each concurrency, and the reps that fit in 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
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
from tests.mail_apis import MailApiStandIn  # noqa: E402
from tests.oidc_provider import OpenIdStandIn  # noqa: E402

from livefeed import actions  # noqa: E402
from livefeed.actions.connections import connection_vault  # noqa: E402
from livefeed.db import migrate  # noqa: E402
from livefeed.db.engine import make_engine  # noqa: E402
from livefeed.db.tables import mail_connections  # noqa: E402
from livefeed.edge.mailpoll import MailPoller, PollTiming  # noqa: E402
from livefeed.runtime import Runtime  # noqa: E402
from livefeed.settings import OidcSettings, Settings  # noqa: E402

SECRET = b"bench-secret-key-0123456789abcdef-0123456789"


class Slow:
    """ASGI wrapper: every request waits `seconds` first (a provider's round trip)."""

    def __init__(self, app, seconds: float):
        self.app, self.seconds = app, seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


async def measure(reps: int, latency: float, concurrency: int, runs: int) -> list[float]:
    now = datetime.now(UTC)
    folder = Path(tempfile.mkdtemp(prefix="livefeed-poll-"))
    url = f"sqlite:///{folder / 'livefeed.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    clock = lambda: now  # noqa: E731
    async with OpenIdStandIn("google", client_id="bench", client_secret="s", clock=clock) as google:
        gmail = MailApiStandIn(google)
        gmail.app = Slow(gmail.app, latency)
        google.app = Slow(google.app, latency)
        async with gmail:
            vault = connection_vault(SECRET)
            rows = []
            for n in range(reps):
                user_id = actions.add_user(engine, email=f"rep{n}@bench.test", name=f"Rep {n}", timezone="UTC", now=now)
                token = f"rt-bench-{n}"
                google.refresh_tokens[token] = "openid email"
                rows.append(
                    {
                        "user_id": user_id,
                        "workspace_id": 1,
                        "provider": "google",
                        "address": f"rep{n}@bench.test",
                        "secret": vault.seal(token),
                        "token_endpoint": f"{google.url}/token",
                        "status": "connected",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            with engine.begin() as conn:
                conn.execute(insert(mail_connections), rows)
            settings = Settings(
                database_url=url,
                public_url="http://bench.test",
                secret_key=SECRET,
                var_dir=folder,
                google=OidcSettings("bench", "s", google.discovery_url),
                gmail_api_url=gmail.url,
            )
            rt = await Runtime.start(settings, clock=clock, engine=engine)
            try:
                poller = MailPoller(rt, timing=PollTiming(concurrency=concurrency))
                await poller.poll_all()  # tokens refreshed, places taken
                gmail.deliver(b"From: someone@example.test\r\nSubject: hi\r\n\r\nnot for LiveFeed\r\n")  # one new message each
                durations = []
                for _ in range(runs):
                    started = time.perf_counter()
                    await poller.poll_all()
                    durations.append(time.perf_counter() - started)
                return durations
            finally:
                await rt.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for concurrency in args.concurrency:
        durations = asyncio.run(measure(args.reps, args.latency, concurrency, args.runs))
        median = statistics.median(durations)
        print(
            f"{args.reps} reps, {args.latency * 1000:.0f} ms a request, {concurrency} at a time: steady round median "
            f"{median:.2f} s (runs: {', '.join(f'{d:.2f}' for d in durations)}); "
            f"{int(args.reps * 10 / median)} reps fit in 10 s",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Reply detection latency over IMAP IDLE: a reply lands in the rep's inbox → its row on the stream.

    .venv/bin/python bench/reply_latency.py [--replies 40]

A real dovecot (started here on a free port as `nobody`, like the tests' fixture) holds the rep's
mailbox; LiveFeed runs as `livefeed serve` on SQLite with the mailbox connected through the API.
Each reply is APPENDed to the inbox (what the mail server's delivery does) at t0; t1 is when the
reply's `hit` frame arrives on the rep's open stream. Replies go one at a time, so each figure is
one IDLE wake-up → fetch → record → publish.
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import json
import sys
import time

import httpx

from common import ROOT, SECRET, SseClient, Workspace, free_port, livefeed_server, machine, percentile

sys.path.insert(0, str(ROOT))
from tests.imapserver import Dovecot, available  # noqa: E402  (the same dovecot set-up as the tests)

PASSWORD = "bench-password"


def reply(message_id: str, n: int) -> bytes:
    return (
        f"From: Paul Prospect <p{n}@prospect.test>\r\nTo: rep0@bench.test\r\nSubject: Re: Bench\r\n"
        f"Message-ID: <reply-{n}-{time.time_ns()}@prospect.test>\r\nIn-Reply-To: {message_id}\r\nReferences: {message_id}\r\n"
        f"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\nSounds good, let's talk tomorrow.\r\n"
    ).encode()


async def run(args) -> None:
    ok, reason = available()
    if not ok:
        sys.exit(reason)
    sys.path.insert(0, str(ROOT / "src"))
    from livefeed.core.tokens import MESSAGE, TokenSigner

    dovecot = Dovecot.in_temp_dir(free_port(), {"rep0@bench.test": PASSWORD}).start()
    workspace = Workspace()
    data = await workspace._prepare(1, args.replies, 1)
    port = free_port()
    server = livefeed_server(workspace, port)
    signer = TokenSigner(SECRET.encode())
    samples = []
    try:
        token = data["tokens"][0]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {token}"}) as client:
            answer = await client.put(
                "/api/v1/mailbox",
                json={
                    "host": "127.0.0.1",
                    "port": dovecot.port,
                    "security": "plain",
                    "username": "rep0@bench.test",
                    "password": PASSWORD,
                },
            )
            answer.raise_for_status()
            for _ in range(200):  # the watcher is in IDLE once the mailbox says so
                if (await client.get("/api/v1/mailbox")).json()["status"] == "idle":
                    break
                await asyncio.sleep(0.05)
        from livefeed.core.tokens import OPEN

        recipients = [signer.verify(OPEN, path[3:-4]) for path in data["opens"]]  # the copies sent in prepare()
        stream = await SseClient.connect(port, token, "?backlog=0")
        imap = imaplib.IMAP4("127.0.0.1", dovecot.port)
        imap.login("rep0@bench.test", PASSWORD)
        for n, recipient_id in enumerate(recipients[: args.replies]):
            message_id = f"<lf.{signer.sign(MESSAGE, recipient_id)}@127.0.0.1>"
            t0 = time.perf_counter()
            imap.append("INBOX", None, None, reply(message_id, n))
            while True:
                frame = await asyncio.wait_for(stream.frame(), 10)
                if frame.get("event") == "hit" and json.loads(frame["data"])["kind"] == "reply":
                    break
            samples.append((time.perf_counter() - t0) * 1000)
        imap.logout()
        stream.close()
    finally:
        server.stop()
        dovecot.stop()
        workspace.cleanup()
    print(f"\n{machine()}; dovecot {dovecot_version()}; SQLite; {len(samples)} replies one at a time\n")
    print("| reply in the inbox → row on the stream | p50 | p95 | max |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| IMAP IDLE | {percentile(samples, 50):.0f} ms | {percentile(samples, 95):.0f} ms | {max(samples):.0f} ms |")


def dovecot_version() -> str:
    import subprocess

    return subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replies", type=int, default=40)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

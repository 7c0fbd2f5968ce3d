"""Crash safety: SIGKILL the server at random moments under load; nothing acknowledged is lost.

    .venv/bin/python bench/crash.py [--cycles 200] [--backend sqlite|postgresql|both]

Each cycle starts `livefeed serve`, fires opens, clicks and API sends concurrently, each request
carrying a unique marker (the user agent of a hit, the subject of an email), and keeps a ledger of
what was sent and what was acknowledged (200 / 302 / 201). At a random moment the server is
killed with SIGKILL. With the server down, the database is checked: every acknowledged request is
stored exactly once, and every stored one was sent (no phantom, no duplicate).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import Workspace, drop_database, free_port, livefeed_server, machine, postgres_workspace  # noqa: E402

CONCURRENCY = 24


@dataclass
class Ledger:
    sent: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)


@dataclass
class Report:
    cycles: int = 0
    sent: int = 0
    acked: int = 0
    stored: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    phantoms: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.phantoms)

    def line(self, name: str) -> str:
        return (
            f"{name}: {self.cycles} kill cycles, {self.sent} requests sent, {self.acked} acknowledged, "
            f"{self.stored} stored; lost {len(self.lost)}, duplicated {len(self.duplicated)}, phantom {len(self.phantoms)}"
        )


async def fire(
    port: int, token: str, opens: list[str], clicks: list[str], ledger: Ledger, cycle: int, stop: asyncio.Event
) -> None:
    counter = 0

    async def worker(number: int) -> None:
        nonlocal counter
        while not stop.is_set():
            counter += 1
            marker = f"crash-{cycle}-{number}-{counter}"
            choice = counter % 5
            ledger.sent.add(marker)
            try:
                if choice == 4:
                    response = await client.post(
                        "/api/v1/emails",
                        headers={"authorization": f"Bearer {token}"},
                        json={"to": ["crash@prospect.test"], "subject": marker, "text": "x"},
                    )
                    ok = response.status_code == 201
                else:
                    path = random.choice(clicks if choice == 3 else opens)
                    response = await client.get(path, headers={"user-agent": f"Mozilla/5.0 {marker}"})
                    ok = response.status_code in (200, 302)
            except httpx.HTTPError:
                ok = False
                await asyncio.sleep(0.01)  # the server is gone; the cycle is ending
            if ok:
                ledger.acked.add(marker)

    # One client for all workers: building one costs ≈ 50 ms (TLS context), longer than a cycle's load.
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=3, limits=httpx.Limits(max_connections=CONCURRENCY)
    ) as client:
        await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))


def stored_markers(database_url: str) -> list[str]:
    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    with engine.connect() as conn:
        hits = conn.execute(text("SELECT user_agent FROM events WHERE user_agent LIKE 'Mozilla/5.0 crash-%'")).scalars().all()
        mails = conn.execute(text("SELECT subject FROM emails WHERE subject LIKE 'crash-%'")).scalars().all()
    engine.dispose()
    return [ua.split(" ", 1)[1] for ua in hits] + list(mails)


def run_cycles(workspace: Workspace, data: dict, cycles: int, *, seed: int = 1) -> Report:
    rng = random.Random(seed)
    report = Report()
    ledger = Ledger()
    token = data["tokens"][0]
    for cycle in range(cycles):
        port = free_port()
        server = livefeed_server(workspace, port)
        stop = asyncio.Event()

        async def cycle_run(port=port, server=server, stop=stop, cycle=cycle):
            task = asyncio.create_task(fire(port, token, data["opens"], data["clicks"], ledger, cycle, stop))
            await asyncio.sleep(rng.uniform(0.2, 1.2))
            server.stop(signal.SIGKILL)  # mid-flight: requests are being written and committed
            await asyncio.sleep(0.05)
            stop.set()
            await task

        asyncio.run(cycle_run())
        report.cycles += 1
    stored = stored_markers(workspace.database_url)
    counts: dict[str, int] = {}
    for marker in stored:
        counts[marker] = counts.get(marker, 0) + 1
    report.sent, report.acked, report.stored = len(ledger.sent), len(ledger.acked), len(stored)
    report.lost = sorted(m for m in ledger.acked if m not in counts)
    report.duplicated = sorted(m for m, n in counts.items() if n > 1)
    report.phantoms = sorted(m for m in counts if m not in ledger.sent)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    reports = {}
    for backend in backends:
        workspace = postgres_workspace() if backend == "postgresql" else Workspace()
        data = workspace.prepare(reps=1, recipients_per_rep=20, links=3)
        started = time.perf_counter()
        reports[backend] = run_cycles(workspace, data, args.cycles)
        print(reports[backend].line(backend) + f" ({time.perf_counter() - started:.0f} s)", flush=True)
        drop_database(workspace)
        workspace.cleanup()
    print(f"\n{machine()}")
    sys.exit(0 if all(r.ok for r in reports.values()) else 1)


if __name__ == "__main__":
    main()

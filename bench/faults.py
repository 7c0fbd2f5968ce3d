"""Faults that lose nothing: requests acknowledged vs stored across a database outage.

    .venv/bin/python bench/faults.py [--backend postgresql|sqlite|both] [--outage 30] [--runs 1]

`livefeed serve` runs under a steady load of opens, clicks and API sends, each carrying a unique
marker (a hit's user agent, an email's subject). Then the database goes away for `--outage`
seconds — PostgreSQL: every connection through an unpluggable proxy is cut and new ones refused,
as a restart or a network cut looks to the server; SQLite: its disk (a small tmpfs, root only) is
filled to the last byte — and comes back. The load goes on throughout. Afterwards, with the server
stopped, the database is read: every acknowledged request (200, 302, 201) must be stored exactly
once, and nothing stored that was not sent. Printed per run: requests sent, acknowledged, answered
503, other errors, stored, lost, duplicated, and how long the spool took to drain.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from tests.faults import Unpluggable, fill, small_disk  # noqa: E402

from common import Workspace, drop_database, free_port, livefeed_server, machine, postgres_workspace  # noqa: E402

WORKERS = 8
PAUSE = 0.01  # per worker between requests: a steady few hundred requests a second in all


@dataclass
class Tally:
    sent: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    answers: Counter = field(default_factory=Counter)


async def load(port: int, token: str, data: dict, tally: Tally, stop: asyncio.Event, phase: list[str]) -> None:
    counter = 0

    async def worker(number: int) -> None:
        nonlocal counter
        while not stop.is_set():
            counter += 1
            marker = f"fault-{number}-{counter}"
            tally.sent.add(marker)
            try:
                if counter % 10 == 0:
                    response = await client.post(
                        "/api/v1/emails",
                        headers={"authorization": f"Bearer {token}"},
                        json={"to": ["fault@prospect.test"], "subject": marker, "text": "x"},
                    )
                    ok = response.status_code in (201, 202)
                else:
                    path = (
                        data["clicks"][counter % len(data["clicks"])]
                        if counter % 4 == 0
                        else data["opens"][counter % len(data["opens"])]
                    )
                    response = await client.get(path, headers={"user-agent": f"Mozilla/5.0 {marker}"})
                    ok = response.status_code in (200, 302)
                tally.answers[(phase[0], response.status_code)] += 1
            except httpx.HTTPError as exc:
                ok = False
                kind = "send" if counter % 10 == 0 else "click" if counter % 4 == 0 else "open"
                tally.answers[(phase[0], f"{kind} {type(exc).__name__}")] += 1
            if ok:
                tally.acked.add(marker)
            await asyncio.sleep(PAUSE)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        await asyncio.gather(*(worker(n) for n in range(WORKERS)))


def stored(database_url: str) -> list[str]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        hits = conn.execute(text("SELECT user_agent FROM events WHERE user_agent LIKE 'Mozilla/5.0 fault-%'")).scalars().all()
        mails = conn.execute(text("SELECT subject FROM emails WHERE subject LIKE 'fault-%'")).scalars().all()
    engine.dispose()
    return [ua.split(" ", 1)[1] for ua in hits] + list(mails)


async def spool_drained(folder: Path, timeout: float = 60) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if not any(p.stat().st_size for p in folder.glob("spool/spool-*.jsonl")):
            return time.perf_counter() - started
        await asyncio.sleep(0.1)
    return float("nan")


def one_run(backend: str, outage: float) -> str:
    disk_context = disk = None
    if backend == "postgresql":
        workspace = postgres_workspace("faults")
    else:
        disk_context = small_disk("32m")
        disk = disk_context.__enter__()
        if disk is None:
            disk_context.__exit__(None, None, None)
            return "sqlite: skipped (mounting a tmpfs needs root)"
        workspace = Workspace(f"sqlite:///{disk / 'livefeed.db'}")
        shutil.rmtree(workspace.dir)
        workspace.dir = disk
        workspace.env["LIVEFEED_VAR_DIR"] = str(disk)
    real_url = workspace.database_url
    data = workspace.prepare(reps=1, recipients_per_rep=20, links=3)
    try:
        return asyncio.run(under_load(backend, workspace, data, real_url, disk, outage))
    finally:
        if disk_context is not None:
            disk_context.__exit__(None, None, None)
        else:
            drop_database(workspace)
            workspace.cleanup()


async def under_load(backend: str, workspace: Workspace, data: dict, real_url: str, disk: Path | None, outage: float) -> str:
    proxy = filler = None
    if backend == "postgresql":
        proxy = await Unpluggable().start()
        workspace.env["LIVEFEED_DATABASE_URL"] = proxy.url(real_url)
    port = free_port()
    server = await asyncio.to_thread(livefeed_server, workspace, port)
    tally, stop, phase = Tally(), asyncio.Event(), ["before"]
    task = asyncio.create_task(load(port, data["tokens"][0], data, tally, stop, phase))
    await asyncio.sleep(3)
    phase[0] = "outage"
    if proxy is not None:
        proxy.cut()
    else:
        filler = fill(disk)
    await asyncio.sleep(outage)
    phase[0] = "after"
    if proxy is not None:
        proxy.restore()
    else:
        filler.unlink()
    drain = await spool_drained(Path(workspace.env["LIVEFEED_VAR_DIR"]))
    await asyncio.sleep(3)
    stop.set()
    await task
    await asyncio.to_thread(server.stop)
    if proxy is not None:
        await proxy.stop()
    found = stored(real_url)
    counts = Counter(found)
    lost = [m for m in tally.acked if m not in counts]
    duplicated = [m for m, n in counts.items() if n > 1]
    phantoms = [m for m in counts if m not in tally.sent]
    during = {str(k[1]): v for k, v in tally.answers.items() if k[0] == "outage"}
    after = {str(k[1]): v for k, v in tally.answers.items() if k[0] == "after"}
    odd = {f"{k[0]} {k[1]}": v for k, v in tally.answers.items() if k[1] not in (200, 201, 202, 302, 503)}
    errors = sum(odd.values())
    return (
        f"{backend}: {outage:.0f} s outage; {len(tally.sent)} requests sent, {len(tally.acked)} acknowledged, "
        f"{sum(v for k, v in tally.answers.items() if k[1] == 503)} answered 503, {errors} other errors, {len(found)} stored; "
        f"lost {len(lost)}, duplicated {len(duplicated)}, phantom {len(phantoms)}; spool drained {drain:.1f} s after; "
        f"answers during the outage: {dict(sorted(during.items()))}, after it: {dict(sorted(after.items()))}"
        + (f"; other answers: {odd}" if odd else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds the database is away")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    for backend in ("postgresql", "sqlite") if args.backend == "both" else (args.backend,):
        for _ in range(args.runs):
            print(one_run(backend, args.outage), flush=True)
    print(f"\n{machine()}")


if __name__ == "__main__":
    main()

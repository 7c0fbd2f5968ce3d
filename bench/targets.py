"""GET /api/v1/targets and GET /api/v1/tasks?due=today on a big workspace, SQLite and PostgreSQL.

Data: 1,000,000 people and 200 reps in one workspace; rep 1 owns 100,000 of them, the others about
4,500 each; 70 % of people have had a score increase (so are on their owner's list); one score
change each, plus a recent rise for 10 %. 100,000 tasks over a year, 5,000 of them rep 1's.

Measured, per backend: the ranking query alone (in process), the whole list build (query, score
changes and reasons, in process), and end to end over HTTP against `livefeed serve` (keep-alive,
one request at a time) for the 100k-owner rep and a 4.5k-owner rep, with GET /api/v1/me on the
same server as the baseline (authentication and routing alone).

    .venv/bin/python bench/targets.py [--people 1000000] [--backend sqlite|postgresql|both] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import date, timedelta

from common import (
    ROOT,
    HttpClient,
    Workspace,
    drop_database,
    free_port,
    livefeed_server,
    machine,
    median,
    percentile,
    postgres_workspace,
)

sys.path.insert(0, str(ROOT / "src"))

REPS = 200
BIG_OWNER_SHARE = 0.10
CHUNK = 50_000


def generate(workspace: Workspace, people: int, tasks: int) -> dict:
    from sqlalchemy import insert, select

    from livefeed import actions
    from livefeed.core.secrets import new_secret, secret_hash
    from livefeed.db import migrate
    from livefeed.db.bulk import Bulk
    from livefeed.db.engine import make_engine
    from livefeed.db.tables import api_tokens, now_utc, score_changes, users
    from livefeed.db.tables import people as people_table
    from livefeed.db.tables import tasks as tasks_table

    engine = make_engine(workspace.database_url)
    migrate.upgrade(engine)
    now = now_utc()
    rng = random.Random(7)
    started = time.perf_counter()
    with engine.begin() as conn:
        workspace_id = actions.ensure_workspace(conn, "Bench", now=now)
        conn.execute(
            insert(users),
            [
                {
                    "workspace_id": workspace_id,
                    "email": f"rep{n}@bench.test",
                    "name": f"Rep {n}",
                    "timezone": "America/New_York",
                    "created_at": now,
                }
                for n in range(REPS)
            ],
        )
        rep_ids = list(conn.execute(select(users.c.id).order_by(users.c.id)).scalars())
        tokens = [new_secret("lf_") for _ in rep_ids]
        conn.execute(
            insert(api_tokens), [{"user_id": u, "token_hash": secret_hash(t), "created_at": now} for u, t in zip(rep_ids, tokens)]
        )
    big = int(people * BIG_OWNER_SHARE)
    person_columns = (
        "workspace_id",
        "email",
        "name",
        "company",
        "title",
        "created_at",
        "owner_id",
        "lead_score",
        "score_source",
        "score_changed_at",
        "last_increase_at",
        "updated_at",
    )
    for start in range(0, people, CHUNK):
        rows = []
        for n in range(start, min(start + CHUNK, people)):
            owner = rep_ids[0] if n < big else rep_ids[1 + n % (REPS - 1)]
            risen = rng.random() < 0.7
            at = now - timedelta(minutes=rng.randrange(60 * 24 * 60))
            rows.append(
                {
                    "workspace_id": workspace_id,
                    "email": f"person{n}@company{n % 20000}.test",
                    "name": f"Person {n}",
                    "company": f"Company {n % 20000}",
                    "title": "Director",
                    "created_at": at,
                    "owner_id": owner,
                    "lead_score": rng.randrange(1, 1000),
                    "score_source": "import",
                    "score_changed_at": at,
                    "last_increase_at": at if risen else None,
                    "updated_at": at,
                }
            )
        with engine.begin() as conn:
            Bulk(conn).insert(people_table, person_columns, rows)
    with engine.connect() as conn:
        first_id = conn.execute(select(people_table.c.id).order_by(people_table.c.id).limit(1)).scalar()
    for start in range(0, people, CHUNK):
        changes = []
        for n in range(start, min(start + CHUNK, people)):
            pid = first_id + n
            changes.append(
                {
                    "workspace_id": workspace_id,
                    "person_id": pid,
                    "at": now - timedelta(days=30),
                    "old": None,
                    "new": 100,
                    "source": "import",
                }
            )
            if n % 10 == 0:
                changes.append(
                    {
                        "workspace_id": workspace_id,
                        "person_id": pid,
                        "at": now - timedelta(hours=rng.randrange(1, 160)),
                        "old": 100,
                        "new": 100 + rng.randrange(1, 80),
                        "source": "marketo",
                    }
                )
        with engine.begin() as conn:
            Bulk(conn).insert(score_changes, ("workspace_id", "person_id", "at", "old", "new", "source"), changes)
    today = now.date()
    task_columns = (
        "workspace_id",
        "assignee_id",
        "created_by",
        "person_id",
        "type",
        "title",
        "notes",
        "priority",
        "status",
        "due_date",
        "created_at",
        "updated_at",
    )
    for start in range(0, tasks, CHUNK):
        # rep 1 is a busy rep with 5,000 of them (≈ 14 a day); the rest are spread over the others
        rows = [
            {
                "workspace_id": workspace_id,
                "assignee_id": rep_ids[0] if n < 5000 else rep_ids[1 + n % (REPS - 1)],
                "created_by": rep_ids[0],
                "person_id": first_id + n,
                "type": "call",
                "title": f"Call person {n}",
                "notes": "",
                "priority": "normal",
                "status": "open" if rng.random() < 0.8 else "done",
                "due_date": today + timedelta(days=rng.randrange(-180, 185)),
                "created_at": now,
                "updated_at": now,
            }
            for n in range(start, min(start + CHUNK, tasks))
        ]
        with engine.begin() as conn:
            Bulk(conn).insert(tasks_table, task_columns, rows)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    print(f"  generated {people:,} people, {REPS} reps, {tasks:,} tasks in {time.perf_counter() - started:.0f} s", flush=True)
    return {"tokens": tokens, "rep_ids": rep_ids, "workspace_id": workspace_id}


def in_process(workspace: Workspace, data: dict, rounds: int) -> dict:
    """The ranking query alone, and the whole list (query, changes, reasons), in milliseconds."""
    from livefeed.db.engine import make_engine
    from livefeed.db.tables import now_utc
    from livefeed.db.targets import list_sql, target_list, workspace_tiers

    engine = make_engine(workspace.database_url)
    results = {}
    with engine.connect() as conn:
        tiers_started = time.perf_counter()
        tiers = workspace_tiers(conn, data["workspace_id"], now_utc())
        results["tiers_ms"] = (time.perf_counter() - tiers_started) * 1000
        for label, rep in (("big", data["rep_ids"][0]), ("typical", data["rep_ids"][5])):
            sql = list_sql(engine.dialect.name).ranked
            params = (rep, data["workspace_id"])
            for name, run in (
                ("query", lambda sql=sql, params=params: conn.exec_driver_sql(sql, params).all()),
                (
                    "list",
                    lambda rep=rep: target_list(conn, workspace_id=data["workspace_id"], user_id=rep, tiers=tiers, now=now_utc()),
                ),
            ):
                for _ in range(50):
                    run()
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    run()
                    times.append((time.perf_counter() - started) * 1000)
                results[f"{name}_{label}"] = (percentile(times, 50), percentile(times, 99))
            assert len(conn.exec_driver_sql(sql, params).all()) == 50
    engine.dispose()
    return results


async def over_http(port: int, token: str, path: str, requests: int) -> tuple[float, float]:
    client = HttpClient(port)
    header = f"Authorization: Bearer {token}\r\n"
    for _ in range(100):
        assert await client.get(path, header) == 200
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        status = await client.get(path, header)
        times.append((time.perf_counter() - started) * 1000)
        assert status == 200
    return percentile(times, 50), percentile(times, 99)


def run_backend(backend: str, people: int, tasks: int, requests: int, rounds: int) -> dict:
    workspace = postgres_workspace("targets") if backend == "postgresql" else Workspace()
    try:
        data = generate(workspace, people, tasks)
        results = in_process(workspace, data, requests)
        big, typical = data["tokens"][0], data["tokens"][5]
        runs = {
            "me": [],
            "targets_big": [],
            "targets_typical": [],
            "tasks_today": [],
            "targets_big_uncached": [],
            "targets_typical_uncached": [],
        }
        for cache in ("30", "0"):  # the default Target list cache, then none (every request builds)
            workspace.env["LIVEFEED_TARGET_CACHE_SECONDS"] = cache
            port = free_port()
            server = livefeed_server(workspace, port)
            suffix = "" if cache != "0" else "_uncached"
            try:
                for _ in range(rounds):
                    if cache != "0":
                        runs["me"].append(asyncio.run(over_http(port, big, "/api/v1/me", requests)))
                        runs["tasks_today"].append(asyncio.run(over_http(port, big, "/api/v1/tasks?due=today", requests)))
                    runs["targets_big" + suffix].append(asyncio.run(over_http(port, big, "/api/v1/targets", requests)))
                    runs["targets_typical" + suffix].append(asyncio.run(over_http(port, typical, "/api/v1/targets", requests)))
            finally:
                server.stop()
        for name, values in runs.items():
            results[name] = (median([v[0] for v in values]), median([v[1] for v in values]))
        return results
    finally:
        drop_database(workspace)
        workspace.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="HTTP rounds; medians of their p50 and p99 are reported")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    print(f"# {machine()}, {date.today()}; {args.people:,} people, {REPS} reps, {args.tasks:,} tasks")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    table = {}
    for backend in backends:
        print(f"{backend}:", flush=True)
        table[backend] = run_backend(backend, args.people, args.tasks, args.requests, args.rounds)
        for name, value in table[backend].items():
            print(
                f"  {name:18} {value:.2f} ms"
                if isinstance(value, float)
                else f"  {name:18} p50 {value[0]:.3f} ms  p99 {value[1]:.3f} ms",
                flush=True,
            )
    if len(table) == 2:
        print("\nside by side (p50 / p99, ms)      SQLite            PostgreSQL")
        for name in table["sqlite"]:
            a, b = table["sqlite"][name], table["postgresql"][name]
            if isinstance(a, float):
                print(f"  {name:28} {a:8.1f}          {b:8.1f}")
            else:
                print(f"  {name:28} {a[0]:6.3f} / {a[1]:6.3f}   {b[0]:6.3f} / {b[1]:6.3f}")


if __name__ == "__main__":
    main()

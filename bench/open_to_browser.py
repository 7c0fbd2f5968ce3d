"""Open-to-stream latency under load: pixel request sent → event received on that rep's stream.

    .venv/bin/python bench/open_to_browser.py [--reps 1000] [--rate 1000] [--seconds 10] [--runs 3]

Every rep has one stream open. A paced load of `rate` opens a second is spread over all reps'
recipients; for each open the latency from writing the request to reading the event on the rep's
stream is recorded (the events carry the person, so each is matched to its request).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import random
import time

import uvloop

from common import (
    HttpClient,
    SseClient,
    Workspace,
    drop_database,
    free_port,
    livefeed_server,
    machine,
    median,
    percentile,
    postgres_workspace,
)


async def run(port: int, data: dict, rate: int, seconds: float) -> dict:
    streams = await asyncio.gather(*(SseClient.connect(port, token) for token in data["tokens"]))
    # This client's own generation-2 collections (40-50 ms with 1,000 streams) would be counted as
    # the server's latency: what it holds from here on is left out of them. Only a freeze (instant),
    # no collection: the opens start as soon as the streams are up, as before.
    gc.freeze()
    pending: dict[int, collections.deque] = collections.defaultdict(collections.deque)  # person id → send times
    latencies: list[float] = []
    answers: list[float] = []  # request sent → the pixel's answer read (the hit is committed by then)
    person_of = {}

    async def listen(stream: SseClient):
        while True:
            frame = await stream.frame()
            if frame.get("event") == "hit":
                person = json.loads(frame["data"])["person"]["id"]
                if pending[person]:
                    latencies.append(time.perf_counter() - pending[person].popleft())

    listeners = [asyncio.create_task(listen(s)) for s in streams]
    opens = data["opens"]
    clients = [HttpClient(port) for _ in range(32)]
    queue: asyncio.Queue = asyncio.Queue()

    async def worker(client: HttpClient):
        while True:
            path, index = await queue.get()
            sent_at = time.perf_counter()
            pending[person_of.get(index, -1)].append(sent_at)
            await client.get(path)
            answers.append(time.perf_counter() - sent_at)

    workers = [asyncio.create_task(worker(c)) for c in clients]
    for index in range(len(opens)):
        person_of[index] = data["person_ids"][index]
    interval = 1 / rate
    start = time.perf_counter()
    sent = 0
    rng = random.Random(7)
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) / interval) - sent
        for _ in range(due):
            index = rng.randrange(len(opens))
            queue.put_nowait((opens[index], index))
        sent += max(due, 0)
        await asyncio.sleep(0.001)
    await asyncio.sleep(1)
    for task in listeners + workers:
        task.cancel()
    for stream in streams:
        stream.close()
    achieved = sent / seconds
    return {
        "sent": sent,
        "rate": achieved,
        "received": len(latencies),
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "answer_p50": percentile(answers, 50) * 1000,
        "answer_p99": percentile(answers, 99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL row")
    args = parser.parse_args()
    setups = [("SQLite, 1 process", Workspace(), ())]
    if not args.no_postgres:
        setups.append(("PostgreSQL, 2 workers", postgres_workspace("o2b"), ("--workers", "2")))
    running = []
    try:
        for name, workspace, extra in setups:
            data = workspace.prepare(reps=args.reps, recipients_per_rep=1)
            port = free_port()
            running.append((name, workspace, data, port, livefeed_server(workspace, port, *extra)))
        results: dict[str, list[dict]] = {name: [] for name, *_ in setups}
        for n in range(args.runs):
            for name, _, data, port, _ in running:
                r = uvloop.run(run(port, data, args.rate, args.seconds))
                results[name].append(r)
                print(
                    f"run {n + 1} {name}: {r['sent']} opens at {r['rate']:.0f}/s, {r['received']} received; "
                    f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms (answered: p50 {r['answer_p50']:.1f} ms, "
                    f"p99 {r['answer_p99']:.1f} ms)",
                    flush=True,
                )
    finally:
        for _, workspace, _, _, server in running:
            server.stop()
            drop_database(workspace)
            workspace.cleanup()
    print(f"\n{machine()}; {args.reps} streams, {args.rate} opens/s for {args.seconds:.0f} s; medians of {args.runs} runs\n")
    print("| setup | on the stream p50 | p99 | worst run's p99 | pixel answered p50 | p99 | received / sent |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        print(
            f"| {name} | {median([r['p50'] for r in runs]):.1f} ms | {median([r['p99'] for r in runs]):.1f} ms | "
            f"{max(r['p99'] for r in runs):.1f} ms | {median([r['answer_p50'] for r in runs]):.1f} ms | "
            f"{median([r['answer_p99'] for r in runs]):.1f} ms | "
            f"{sum(r['received'] for r in runs)} / {sum(r['sent'] for r in runs)} |"
        )


if __name__ == "__main__":
    main()

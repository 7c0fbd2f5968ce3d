"""Many concurrent streams in one process: memory per stream and fan-out time.

    .venv/bin/python bench/streams.py [--streams 10000] [--reps 100] [--runs 3]

N SSE connections (N / reps per rep) are opened on one LiveFeed process; its RSS before and after
gives the memory per stream. Then one open per rep is recorded through the pixel, and the time
from the first pixel request until every one of the N streams has received its event is measured
client-side, so it includes this client's own time to read 10,000 sockets on the same cores. The
client reads them as bare protocols (a callback per frame, no task per stream); the half-way
figure is when half the streams had theirs.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop

from common import (
    HttpClient,
    SseWatcher,
    Tally,
    Workspace,
    cpu_seconds,
    free_port,
    livefeed_server,
    machine,
    median,
    rss_kb,
)


async def run(port: int, pid: int, data: dict, streams: int, rounds: int) -> dict:
    tokens = data["tokens"]
    before = rss_kb(pid)
    clients: list[SseWatcher] = []
    sem = asyncio.Semaphore(200)

    async def connect(index: int):
        async with sem:
            clients.append(await SseWatcher.open(port, tokens[index % len(tokens)]))

    started = time.perf_counter()
    await asyncio.gather(*(connect(i) for i in range(streams)))
    connect_seconds = time.perf_counter() - started
    await asyncio.sleep(1)
    after = rss_kb(pid)
    fanouts, halves, answered, user, system = [], [], [], [], []
    pixel_clients = [HttpClient(port) for _ in range(10)]
    for _ in range(rounds):
        tally = Tally(len(clients))
        for client in clients:
            client.arm(b"event: hit", tally)
        cpu_before = cpu_seconds(pid)
        t0 = time.perf_counter()
        await asyncio.gather(*(fire(pixel_clients, data["opens"], offset) for offset in range(10)))
        answered.append(time.perf_counter() - t0)
        await asyncio.wait_for(tally.done, 30)
        assert tally.received == len(clients) and not tally.lost
        fanouts.append(tally.times[-1] - t0)
        cpu_after = cpu_seconds(pid)
        user.append(cpu_after[0] - cpu_before[0])
        system.append(cpu_after[1] - cpu_before[1])
        halves.append(tally.times[len(tally.times) // 2] - t0)  # counted in arrival order
        await asyncio.sleep(0.5)
    for client in clients:
        client.close()
    return {
        "connect_s": connect_seconds,
        "kb_per_stream": (after - before) / streams,
        "rss_mb": after / 1024,
        "fanout_ms": [f * 1000 for f in fanouts],
        "half_ms": [f * 1000 for f in halves],
        "answered_ms": [f * 1000 for f in answered],
        "user_ms": [f * 1000 for f in user],
        "system_ms": [f * 1000 for f in system],
    }


async def fire(pixel_clients, opens, offset):
    for path in opens[offset::10]:
        assert await pixel_clients[offset].get(path) == 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    workspace = Workspace()
    data = workspace.prepare(reps=args.reps, recipients_per_rep=1)
    port = free_port()
    server = livefeed_server(workspace, port)
    try:
        result = uvloop.run(run(port, server.proc.pid, data, args.streams, args.runs))
    finally:
        server.stop()
        workspace.cleanup()
    print(f"\n{machine()}")
    print(
        f"{args.streams} streams ({args.reps} reps) connected in {result['connect_s']:.1f} s; server RSS {result['rss_mb']:.0f} MB"
    )
    print(f"memory per stream: {result['kb_per_stream']:.1f} KB")
    print(
        f"one open per rep → all {args.streams} streams received their event: "
        f"{', '.join(f'{v:.0f}' for v in result['fanout_ms'])} ms (median {median(result['fanout_ms']):.0f} ms); "
        f"half of them by {median(result['half_ms']):.0f} ms; the {args.reps} pixels answered by "
        f"{median(result['answered_ms']):.0f} ms"
    )
    print(
        f"server CPU for those (medians): user {median(result['user_ms']):.0f} ms, "
        f"system {median(result['system_ms']):.0f} ms (loopback: the kernel's receiving side runs in the writer's system time)"
    )


if __name__ == "__main__":
    main()

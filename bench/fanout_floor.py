"""The server-side floor of fan-out: one event per rep reaching N streams, with no HTTP server and
no client parsing.

    .venv/bin/python bench/fanout_floor.py [N] [--runs 5]

N socket pairs in one process, N / 100 subscriptions per rep. Two ways, side by side:
- woken: one consumer task per subscription waits on its Mailbox and writes the chunk-framed
  event to its socket (what a stream did before the in-place write);
- in place: each Mailbox has a sink that writes the frame at once, as `web/stream.py` sets up,
  so publishing costs a socket write per stream and no task switch.
"""

import argparse
import asyncio
import socket
import statistics
import sys
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from livefeed.live.hub import MemoryHub, Message  # noqa: E402

FRAME = b"id: 1\nevent: hit\ndata: " + b"x" * 600 + b"\n\n"


async def once(n: int, in_place: bool) -> float:
    hub = MemoryHub(queue_size=256)
    done = 0
    all_done = asyncio.Event()
    keep, tasks = [], []

    def written() -> None:
        nonlocal done
        done += 1
        if done == n:
            all_done.set()

    async def consumer(subscription, writer):
        message = await subscription.queue.get()
        writer.write(b"%x\r\n" % len(message.frame) + message.frame + b"\r\n")
        written()

    def sink(writer):
        def write(message):
            writer.write(b"%x\r\n" % len(message.frame) + message.frame + b"\r\n")
            written()

        return write

    for index in range(n):
        a, b = socket.socketpair()
        _, writer = await asyncio.open_connection(sock=a)
        keep.append((a, b, writer))
        subscription = hub.subscribe(index % 100)
        tasks.append(asyncio.create_task(consumer(subscription, writer)))
        if in_place:
            subscription.queue.sink = sink(writer)
    await asyncio.sleep(0.1)  # every consumer is waiting on its Mailbox
    started = time.perf_counter()
    await hub.publish([Message(user, 1, FRAME) for user in range(100)])
    await all_done.wait()
    elapsed = time.perf_counter() - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for _a, b, writer in keep:
        writer.close()
        b.close()
    return elapsed * 1000


async def main(n: int, runs: int) -> None:
    results: dict[str, list[float]] = {"woken": [], "in place": []}
    for _ in range(runs):  # alternated, so drift on a noisy machine hits both alike
        results["woken"].append(await once(n, False))
        results["in place"].append(await once(n, True))
    for name, values in results.items():
        print(
            f"{name:>8}: fan-out to {n} streams {statistics.median(values):.0f} ms (median of {runs}; {', '.join(f'{v:.0f}' for v in values)})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", nargs="?", type=int, default=9000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    uvloop.run(main(args.n, args.runs))

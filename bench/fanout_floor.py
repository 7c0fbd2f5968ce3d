"""The server-side floor of fan-out: the hub waking N consumer tasks that each write one frame.

    .venv/bin/python bench/fanout_floor.py [N]

No HTTP server and no client parsing: N socket pairs in one process, one consumer task per
subscription writing the chunk-framed event to its socket, as the stream handler does.
"""

import asyncio
import socket
import sys
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from livefeed.live.hub import MemoryHub, Message  # noqa: E402


async def main(n: int) -> None:
    hub = MemoryHub(queue_size=256)
    done = 0
    all_done = asyncio.Event()
    keep = []

    async def consumer(subscription, writer):
        nonlocal done
        message = await subscription.queue.get()
        writer.write(b"%x\r\n" % len(message.frame) + message.frame + b"\r\n")
        done += 1
        if done == n:
            all_done.set()

    for index in range(n):
        a, b = socket.socketpair()
        _, writer = await asyncio.open_connection(sock=a)
        keep.append((a, b, writer))
        asyncio.create_task(consumer(hub.subscribe(index % 100), writer))
    await asyncio.sleep(0.1)
    frame = b"id: 1\nevent: hit\ndata: " + b"x" * 600 + b"\n\n"
    started = time.perf_counter()
    await hub.publish([Message(user, 1, frame) for user in range(100)])
    await all_done.wait()
    print(f"server-side fan-out to {n} streams: {(time.perf_counter() - started) * 1000:.0f} ms")


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 9000))

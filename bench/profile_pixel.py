"""Where an open pixel's time goes: py-spy samples the SQLite server (every thread) while wrk
sends opens, then the functions are ranked by the share of samples they appear in.

    .venv/bin/python bench/profile_pixel.py [--seconds 10] [--connections 50] [--top 25]

py-spy is installed into the venv when absent (it is a bench tool, not a dependency). Only samples
holding the interpreter lock count (py-spy --gil): the event loop and the writer thread take turns
on it, so these shares are where the process's one core of Python goes; the database's fsync and
the sockets' waits, which run without the lock, are not in them.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from common import PYTHON, Workspace, free_port, livefeed_server, machine
from pixel import ensure_wrk_and_nginx, wrk


def ensure_py_spy() -> str:
    found = Path(PYTHON).with_name("py-spy")
    if not found.exists():
        subprocess.run([PYTHON, "-m", "pip", "install", "-q", "py-spy"], check=True)
    return str(found)


def summarise(raw: Path, top: int) -> None:
    """Collapsed stacks ("a;b;c 12") → inclusive and self shares per function, and per thread."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        threads[frames[0]] += n
        names = [_short(f) for f in frames[1:]]
        for name in set(names):
            inclusive[name] += n
        if names:
            own[names[-1]] += n
    print(f"{total} samples")
    print("\n| thread | share |\n| --- | ---: |")
    for name, n in threads.most_common(6):
        print(f"| {name} | {n / total:.0%} |")
    print("\n| function (file:line) | in stack | self |\n| --- | ---: | ---: |")
    for name, n in inclusive.most_common(top):
        print(f"| {name} | {n / total:.1%} | {own[name] / total:.1%} |")
    print("\n| top self (file:line) | self |\n| --- | ---: |")
    for name, n in own.most_common(top):
        print(f"| {name} | {n / total:.1%} |")


def _short(frame: str) -> str:
    """'fn (path/to/module.py:12)' → 'fn (module.py)': a function counts once whatever the line."""
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(file).parts
    keep = "/".join(parts[parts.index("livefeed") + 1 :]) if "livefeed" in parts else Path(file).name
    return f"{name} ({keep})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--kind", choices=("opens", "clicks"), default="opens")
    args = parser.parse_args()
    ensure_wrk_and_nginx()
    spy = ensure_py_spy()
    workspace = Workspace()
    data = workspace.prepare(reps=10, recipients_per_rep=100, links=1)
    port = free_port()
    server = livefeed_server(workspace, port)
    raw = Path(tempfile.mkstemp(suffix=".txt")[1])
    try:
        wrk(port, paths=data[args.kind][:50], seconds=2, connections=args.connections)  # warm up
        record = threading.Thread(
            target=subprocess.run,
            args=(
                [spy, "record", "--pid", str(server.proc.pid), "--duration", str(args.seconds - 1), "--rate", "500"]
                + ["--format", "raw", "--threads", "--gil", "--nonblocking", "--output", str(raw)],
            ),
            kwargs={"capture_output": True},
        )
        record.start()
        rps, p99 = wrk(port, paths=data[args.kind], seconds=args.seconds, connections=args.connections)
        record.join()
    finally:
        server.stop()
        workspace.cleanup()
    print(f"{machine()}; wrk -c{args.connections} {args.kind} for {args.seconds}s: {rps:,.0f} req/s, p99 {p99:.2f} ms")
    summarise(raw, args.top)
    raw.unlink()


if __name__ == "__main__":
    if not shutil.which("wrk"):
        print("wrk is needed (installed from Debian when run as root)", file=sys.stderr)
    main()

"""Faults on demand for tests and bench/faults.py: a TCP proxy in front of PostgreSQL that can be
unplugged (as a restart or a network cut looks to the server), and a small full disk."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
from pathlib import Path


class Unpluggable:
    """127.0.0.1:<port> → `upstream`; `cut()` drops every connection and refuses new ones until
    `restore()` — what the server sees while PostgreSQL restarts."""

    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)):
        self.upstream = upstream
        self.cut_off = False
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> Unpluggable:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, database_url: str) -> str:
        """`database_url` (postgresql://user@host:port/db) through this proxy."""
        head, _, tail = database_url.partition("@")
        return f"{head}@127.0.0.1:{self.port}/{tail.split('/', 1)[1]}"

    async def _accept(self, reader, writer) -> None:
        if self.cut_off:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._pipes |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    async def _pipe(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._pipes.discard(writer)
            writer.close()

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    def restore(self) -> None:
        self.cut_off = False

    async def stop(self) -> None:
        self.cut()
        self._server.close()


@contextlib.contextmanager
def small_disk(size: str = "4m"):
    """A tmpfs of `size` mounted on a new folder (root only): yields the folder, or None when this
    machine cannot mount one."""
    folder = Path(tempfile.mkdtemp(prefix="livefeed-disk-"))
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield folder if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        folder.rmdir()


def fill(folder: Path) -> Path:
    """Fill the disk under `folder` to the last byte; the filler file (delete it to free the disk)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                out.write(b"\0")
        except OSError:
            pass
    return filler

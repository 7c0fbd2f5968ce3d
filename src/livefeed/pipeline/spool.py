"""The hit spool: opens and clicks kept durably on local disk while the database cannot take them.

When PostgreSQL restarts or is unreachable, or SQLite reports a full disk, the recorder appends
the batch's hits to this process's spool file and fsyncs it before anyone is answered: the pixel
and the redirect are then acknowledged as usual, and nothing acknowledged is lost. Once the
database answers again the hits are replayed through the ordinary writer, each with a key of its
own (`spool:<uuid>`, the event's idempotency key), so a replay interrupted half-way and run again
records each hit once. A spool file is locked by the process writing it; a process that finds a
file nobody holds (its writer died) replays it too.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path

from ..core.model import Hit

log = logging.getLogger(__name__)
PREFIX = "spool-"


class SpoolError(OSError):
    """The spool could not be written either (the disk is full): the hits are not stored."""


class Spool:
    """One process's spool file under `folder`, and the replay of every spool file there."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._fd: int | None = None
        self.spooled = 0  # hits written since start (tests and the log read it)

    def append(self, hits: list[Hit]) -> list[Hit]:
        """Write `hits` durably (fsync); the hits as spooled, each with its replay key."""
        keyed = [h if h.key else replace(h, key=f"spool:{uuid.uuid4().hex}") for h in hits]
        data = "".join(json.dumps(_to_json(h), separators=(",", ":")) + "\n" for h in keyed).encode()
        try:
            fd = self._open()
            written = os.write(fd, data)
            if written != len(data):
                raise OSError("short write")
            os.fsync(fd)
        except OSError as exc:
            raise SpoolError(f"hits not spooled: {exc}") from exc
        if not self.spooled:
            log.warning("the database cannot take hits: spooling them to %s until it can", self.path)
        self.spooled += len(keyed)
        return keyed

    def _open(self) -> int:
        if self._fd is None:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours while we live
            self._fd = fd
        return self._fd

    def pending(self) -> bool:
        """Whether any spool file (ours or a dead writer's) waits to be replayed."""
        return any(p.stat().st_size for p in self.folder.glob(PREFIX + "*.jsonl")) if self.folder.exists() else False

    def take(self) -> list[tuple[Path, list[Hit]]]:
        """Every replayable file with its hits: ours, and those whose writer is gone."""
        found = []
        for path in sorted(self.folder.glob(PREFIX + "*.jsonl")) if self.folder.exists() else []:
            if path == self.path:
                if self._fd is not None:
                    found.append((path, _read(path)))
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another live process's
                os.close(fd)
                continue
            os.close(fd)  # the writer is gone; a second replayer racing us is harmless (keys)
            found.append((path, _read(path)))
        return found

    def done(self, path: Path) -> None:
        """The hits of `path` are in the database: forget them."""
        if path == self.path and self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
            self.spooled = 0  # the next outage is announced again
        else:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if self.path.exists() and not self.path.stat().st_size:
                self.path.unlink()


def _to_json(hit: Hit) -> dict:
    data = asdict(hit)
    data["at"] = hit.at.isoformat()
    return data


def _read(path: Path) -> list[Hit]:
    hits = []
    for line in path.read_text().splitlines():
        try:
            data = json.loads(line)
            data["at"] = datetime.fromisoformat(data["at"])
            hits.append(Hit(**data))
        except (ValueError, TypeError, KeyError):  # a line cut by a crash mid-write: never acknowledged
            continue
    return hits

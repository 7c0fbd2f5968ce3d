"""What an action changed, and what follows its commit — in one place, never by hand after a write.

An action notes what it changed on a `Changes` inside its transaction (`changes.tasks_of(rep)`,
`changes.targets_of(owners)`, `changes.scores_in(workspace)`, `changes.settings_of(workspace)`);
`commit()` runs the transaction and, only once it committed, resets this process's caches and
tells the windows (the hub's `changed` frames, which reach other workers through the hub). A
rolled-back transaction publishes nothing. This is Zulip's `send_event_on_commit`, made explicit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection

T = TypeVar("T")


@dataclass
class Changes:
    """Filled by an action inside its transaction; published by `after_commit`."""

    tasks: set[int] = field(default_factory=set)  # reps whose task lists changed
    targets: set[int] = field(default_factory=set)  # reps whose Target lists changed (an owner, a score)
    scores: set[int] = field(default_factory=set)  # workspaces whose lead scores changed (tier cut points move)
    settings: set[int] = field(default_factory=set)  # workspaces whose settings changed (secret, origins, tiers)

    def tasks_of(self, *user_ids: int | None) -> Changes:
        self.tasks.update(u for u in user_ids if u)
        return self

    def targets_of(self, user_ids) -> Changes:
        self.targets.update(u for u in user_ids if u)
        return self

    def scores_in(self, workspace_id: int) -> Changes:
        self.scores.add(workspace_id)
        return self

    def settings_of(self, workspace_id: int) -> Changes:
        self.settings.add(workspace_id)
        return self

    def __bool__(self) -> bool:
        return bool(self.tasks or self.targets or self.scores or self.settings)


async def commit(rt, job: Callable[[Connection, Changes], T]) -> T:
    """Run `job(conn, changes)` in one transaction, then what its changes call for."""
    changes = Changes()

    def run() -> T:
        with rt.engine.begin() as conn:
            return job(conn, changes)

    result = await asyncio.to_thread(run)
    await after_commit(rt, changes)
    return result


async def after_commit(rt, changes: Changes) -> None:
    """Caches first (so a window's reload reads fresh), then the frames. Only after a commit."""
    for workspace_id in changes.settings:
        for listener in rt.settings_listeners:  # the tracking edge's webhook keys and site origins
            listener(workspace_id)
    for workspace_id in changes.scores | changes.settings:
        if rt.tiers is not None:
            rt.tiers.forget(workspace_id)  # this process's next list uses the new scores or tiers
    if rt.target_lists is not None:
        if changes.settings:
            rt.target_lists.forget_all()  # tier cut points may have moved for every rep
        elif changes.targets:
            rt.target_lists.forget(changes.targets)
    if changes.targets:
        await rt.hub.signal(set(changes.targets), "targets")
    if changes.tasks:
        await rt.hub.signal(set(changes.tasks), "tasks")

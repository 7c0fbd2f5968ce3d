"""What an action changed is published after its commit, in one place, and never on a rollback."""

from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text

from livefeed.actions.changes import Changes, after_commit, commit


class Recorded:
    def __init__(self):
        self.calls = []

    async def signal(self, user_ids, what):
        self.calls.append(("signal", what, sorted(user_ids)))

    def forget(self, arg):
        self.calls.append(("forget", sorted(arg) if isinstance(arg, set) else arg))

    def forget_all(self):
        self.calls.append(("forget_all",))


def _runtime(tmp_path):
    seen = Recorded()
    rt = SimpleNamespace(
        engine=create_engine(f"sqlite:///{tmp_path}/x.db"),
        hub=seen,
        tiers=seen,
        target_lists=seen,
        settings_listeners=[lambda workspace_id: seen.calls.append(("settings", workspace_id))],
    )
    with rt.engine.begin() as conn:
        conn.execute(text("create table t (v int)"))
    return rt, seen


async def test_the_windows_hear_of_a_change_only_after_it_committed(tmp_path):
    rt, seen = _runtime(tmp_path)

    def job(conn, changes):
        conn.execute(text("insert into t values (1)"))
        changes.tasks_of(7, None, 8)
        assert seen.calls == []  # inside the transaction: nothing yet
        return "done"

    assert await commit(rt, job) == "done"
    assert seen.calls == [("signal", "tasks", [7, 8])]


async def test_a_rolled_back_change_publishes_nothing(tmp_path):
    rt, seen = _runtime(tmp_path)

    def job(conn, changes):
        conn.execute(text("insert into t values (1)"))
        changes.tasks_of(7).targets_of({7})
        raise ValueError("refused")

    with pytest.raises(ValueError):
        await commit(rt, job)
    with rt.engine.connect() as conn:
        assert conn.execute(text("select count(*) from t")).scalar() == 0
    assert seen.calls == []


async def test_scores_settings_and_targets_reset_the_caches_before_the_frames(tmp_path):
    rt, seen = _runtime(tmp_path)
    await after_commit(rt, Changes().targets_of({3, 4}).scores_in(1))
    assert seen.calls == [("forget", 1), ("forget", [3, 4]), ("signal", "targets", [3, 4])]
    seen.calls.clear()
    await after_commit(rt, Changes().settings_of(2))
    assert seen.calls == [("settings", 2), ("forget", 2), ("forget_all",)]
    seen.calls.clear()
    await after_commit(rt, Changes())
    assert seen.calls == [] and not Changes()

"""The background services run in one process: the worker holding the lease (a PostgreSQL session
advisory lock on a connection of its own); another takes over when the holder goes."""

import pytest

from livefeed.integrations.services import Lease


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


def test_one_worker_holds_the_lease_and_another_takes_over_when_it_goes(engine, backend):
    first, second = Lease(engine), Lease(engine)
    try:
        assert first.try_acquire() is True
        if backend == "sqlite":  # one process on SQLite: it always holds it
            assert second.try_acquire() is True
            return
        assert second.try_acquire() is False  # one holder at a time
        assert second.try_acquire() is False  # retrying changes nothing while the holder lives
        first.release()  # the holder's connection goes (a crashed worker's goes with it)
        assert second.try_acquire() is True
        assert first.try_acquire() is False  # and the old holder, back, waits its turn
    finally:
        first.release()
        second.release()

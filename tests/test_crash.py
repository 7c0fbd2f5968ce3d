"""A short run of bench/crash.py: SIGKILL under load, then every acknowledged request is stored
exactly once and nothing was stored that was not sent. The benchmark runs 200 cycles."""

import sys
from pathlib import Path

import pytest

from .conftest import require

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import crash  # noqa: E402

CYCLES = 3


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nothing_acknowledged_is_lost_when_the_server_is_killed(backend, pg_template):
    if backend == "postgresql":
        require(pg_template[0] is not None, pg_template[1] or "")
    workspace = crash.postgres_workspace() if backend == "postgresql" else crash.Workspace()
    try:
        data = workspace.prepare(reps=1, recipients_per_rep=10, links=3)
        report = crash.run_cycles(workspace, data, CYCLES, seed=7)
    finally:
        crash.drop_database(workspace)
        workspace.cleanup()
    assert report.acked > 0, "no request was acknowledged: the run proved nothing"
    assert report.lost == [] and report.duplicated == [] and report.phantoms == [], report.line(backend)

"""Schemathesis over the whole OpenAPI description: valid and invalid requests to every operation,
as a signed-in admin, find no 5xx. A fixed seed and a small budget keep it a test, not a campaign
(the adversarial pass that found the 500s ran 50,000 requests)."""

from __future__ import annotations

import asyncio
import ipaddress
import threading

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from livefeed.core.outbound import Allowlist
from livefeed.db import migrate
from livefeed.db.engine import make_engine
from livefeed.settings import Settings
from livefeed.web.app import create_app

from .conftest import SECRET, Clock, free_port, make_rep

EXAMPLES = 20  # per operation and generation mode (valid, invalid): ≈ 2,000 requests in all


def _description() -> dict:
    """The served OpenAPI description (built without a database: it needs none)."""
    app = create_app(Settings(database_url="sqlite:///:memory:", public_url="http://fuzz.test", secret_key=SECRET))
    return app.app.openapi()


schema = schemathesis.openapi.from_dict(_description())
schema.config.generation.update(max_examples=EXAMPLES)


async def _nowhere(host: str, port: int):
    """Every name the fuzzer types resolves to a documentation address (RFC 5737) the outbound
    policy refuses: no connection leaves this machine, whatever it generates."""
    return [ipaddress.ip_address("192.0.2.1")]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A real server in a thread of its own (the fuzzer's calls are synchronous) and an admin's token."""
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'livefeed.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    clock = Clock()
    rep = make_rep(engine, clock, "ada@seller.test", password="correct horse battery")
    make_rep(engine, clock, "bob@seller.test")
    engine.dispose()
    port = free_port()
    config = Settings(
        database_url=url,
        public_url=f"http://127.0.0.1:{port}",
        secret_key=SECRET,
        var_dir=folder,
        outbound_allow=Allowlist(),
        outbound_timeout_seconds=1.0,
    )
    app = create_app(config, clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.01)
    app.app.state.runtime.outbound.resolver = _nowhere
    yield f"http://127.0.0.1:{port}", {"authorization": f"Bearer {rep.token}"}
    server.should_exit = True
    thread.join(10)


@schema.parametrize()
@settings(derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error(case, api):
    base_url, headers = api
    response = case.call(base_url=base_url, headers=headers, timeout=10)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:500]}"

"""The Marketo and Salesforce stand-in (tests/vendors.py) served on a local port."""

from __future__ import annotations

import asyncio

import pytest
import uvicorn

from ..conftest import free_port
from ..vendors import Vendors


@pytest.fixture
async def vendors():
    fake = Vendors()
    fake.port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake, host="127.0.0.1", port=fake.port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    fake.url = f"http://127.0.0.1:{fake.port}"
    yield fake
    server.should_exit = True
    await task

"""What every vendor stand-in shares: its FastAPI app served by uvicorn on a loopback port of its
own, on the test's event loop, for the length of an `async with`."""

from __future__ import annotations

import asyncio

import uvicorn

from .conftest import free_port


class StandIn:
    app = None  # set by the subclass before entering

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    async def __aenter__(self):
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.should_exit = True
        await self._task

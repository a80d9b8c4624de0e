"""A loopback WebSocket relay a test can cut: drop every connection, refuse new ones, restore.

It stands between an adapter and a real upstream (anvil) so a test can
reproduce a network drop at a moment of its choosing.
"""

from __future__ import annotations

import asyncio
import contextlib

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed


class WsProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.accepting = True
        self.accepted = 0
        self.refused = 0
        self._server: Server | None = None
        self._live: set[ServerConnection] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"

    async def __aenter__(self) -> WsProxy:
        self._server = await serve(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def drop(self) -> None:
        """Cut every live connection abruptly (no close frame) and refuse new ones."""
        self.accepting = False
        for conn in list(self._live):
            conn.transport.abort()

    def restore(self) -> None:
        self.accepting = True

    async def _handle(self, client: ServerConnection) -> None:
        if not self.accepting:
            self.refused += 1
            await client.close(1013, "try again later")
            return
        self.accepted += 1
        self._live.add(client)
        try:
            async with connect(self.upstream) as upstream:
                await _relay(client, upstream)
        finally:
            self._live.discard(client)


async def _relay(a, b) -> None:
    async def pipe(src, dst):
        with contextlib.suppress(ConnectionClosed):
            async for message in src:
                await dst.send(message)

    tasks = [asyncio.create_task(pipe(a, b)), asyncio.create_task(pipe(b, a))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

"""A scripted local WebSocket server (127.0.0.1) replaying recorded-format frames.

Each test gives a script ``async def script(conn, n)`` run for the n-th
connection (1-based); the server records what each connection asked for
(path) and sent, so tests can check subscriptions and resubscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

FRAMES = Path(__file__).parent / "frames"

Script = Callable[["Conn", int], Awaitable[None]]


def server_frames(name: str) -> list[str]:
    """The ``<<`` lines of a frames file, in order."""
    lines = (FRAMES / name).read_text().splitlines()
    return [line[3:] for line in lines if line.startswith("<< ")]


@dataclass
class Conn:
    ws: ServerConnection
    path: str
    received: list[Any] = field(default_factory=list)

    async def send(self, frame: str | dict[str, Any]) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv_json(self, within: float = 5.0) -> Any:
        async with asyncio.timeout(within):
            message = json.loads(await self.ws.recv())
        self.received.append(message)
        return message

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (a network failure)."""
        self.ws.transport.abort()

    async def hold(self) -> None:
        """Keep the connection open until the client leaves."""
        with contextlib.suppress(ConnectionClosed):
            await self.ws.wait_closed()


class ReplayServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.conns: list[Conn] = []
        self.errors: list[BaseException] = []
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"

    async def __aenter__(self) -> ReplayServer:
        self._server = await serve(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        if self.errors:
            raise self.errors[0]

    async def _handle(self, ws: ServerConnection) -> None:
        conn = Conn(ws, ws.request.path if ws.request else "")
        self.conns.append(conn)
        try:
            await self.script(conn, len(self.conns))
        except ConnectionClosed:
            pass
        except Exception as exc:  # surfaced when the test leaves the server
            self.errors.append(exc)
            raise


async def collect(feed, predicate: Callable[[list[Any]], bool], within: float = 5.0) -> list[Any]:
    """Consume ``feed.events()`` until ``predicate(events)`` holds, then close the feed."""
    events: list[Any] = []
    async with asyncio.timeout(within), contextlib.aclosing(feed.events()) as stream:
        async for event in stream:
            events.append(event)
            if predicate(events):
                break
    return events

"""A minimal HTTP/1.1 client over asyncio streams, for sending hostile bytes quickly.

httpx refuses to send malformed requests (bad header bytes, conflicting
lengths, garbage request lines) and costs a few ms of CPU per request, as much
as the server under test; this client writes exactly the bytes it is given and
reads one response (``Content-Length``, chunked, or until close). Connections
are reused while the server keeps them alive and dropped once idle for a
second, well before the server's keep-alive timeout, so a reset always means
the server closed a connection it should have answered on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from tests.server.hostile import Req

IDLE_SECONDS = 1.0
REPLY_SECONDS = 30.0


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def serialize(req: Req, host: str) -> bytes:
    """The request as HTTP/1.1 bytes (Content-Length set when there is a body)."""
    target = req.path + (f"?{urlencode(req.params)}" if req.params else "")
    lines = [f"{req.method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items()]
    body = req.content or b""
    if req.content is not None or req.method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head + body


class Closed(Exception):
    """The server closed the connection before a complete response."""


async def read_reply(reader: asyncio.StreamReader) -> tuple[Reply, bool]:
    """One response, and whether the connection may be reused."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise Closed(f"closed after {len(exc.partial)} header bytes") from exc
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    reply = Reply(status=int(parts[1]))
    for line in header_lines:
        if ":" in line:
            name, _, value = line.partition(":")
            reply.headers[name.strip().lower()] = value.strip()
    try:
        if "content-length" in reply.headers:
            reply.body = await reader.readexactly(int(reply.headers["content-length"]))
        elif reply.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunks.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            reply.body = b"".join(c[:-2] for c in chunks)
        elif reply.status not in (204, 304):
            reply.body = await reader.read()
            return reply, False
    except asyncio.IncompleteReadError as exc:
        raise Closed("closed in the middle of a body") from exc
    return reply, reply.headers.get("connection", "").lower() != "close"


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    async def _ensure(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        stale = time.monotonic() - self.last_used > IDLE_SECONDS
        if self.writer is None or self.reader is None or stale or self.reader.at_eof():
            await self.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self.reader, self.writer

    async def send(self, data: bytes) -> Reply:
        reader, writer = await self._ensure()
        async with asyncio.timeout(REPLY_SECONDS):
            writer.write(data)
            await writer.drain()
            reply, reusable = await read_reply(reader)
        self.last_used = time.monotonic()
        if not reusable:
            await self.close()
        return reply

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def one_shot(host: str, port: int, data: bytes) -> Reply | None:
    """Send raw bytes on a fresh connection; the reply, or None if the server just closed."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        async with asyncio.timeout(REPLY_SECONDS):
            writer.write(data)
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            try:
                reply, _ = await read_reply(reader)
            except Closed:
                return None
            return reply
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

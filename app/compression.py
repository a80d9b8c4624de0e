"""Response compression: brotli when the client accepts ``br``, else gzip.

Starlette's ``GZipMiddleware`` has no brotli, which shrinks JSON noticeably
more at similar speed. Bodies under ``min_size`` are sent as they are (the
headers would outweigh the gain). Whole bodies are compressed in one go;
streamed bodies (static files) are compressed chunk by chunk, flushing each
chunk so nothing waits in the compressor. Event streams and multipart
responses are never compressed: their frames must reach the client at once.
``Vary: Accept-Encoding`` is set on every compressible response, compressed or
not, so caches keep the variants apart.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BROTLI_QUALITY = 4  # quality 11 (the default) costs ~50x the CPU for a few % more
GZIP_LEVEL = 6

_COMPRESSIBLE = (
    "application/json",
    "application/graphql-response+json",
    "application/javascript",
    "application/xml",
    "image/svg+xml",
    "text/",
)
_NEVER = ("text/event-stream", "multipart/")


def choose_encoding(accept_encoding: str) -> str | None:
    """``br`` or ``gzip`` from an ``Accept-Encoding`` header (q=0 excludes)."""
    accepted: dict[str, float] = {}
    for part in accept_encoding[:1024].split(","):
        name, *params = part.strip().split(";")
        q = 1.0
        for param in params:
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        accepted[name.strip().lower()] = q
    wildcard = accepted.get("*", 0.0)
    for encoding in ("br", "gzip"):
        if accepted.get(encoding, wildcard) > 0:
            return encoding
    return None


def _compressible(headers: Headers) -> bool:
    ctype = headers.get("content-type", "").lower()
    return (
        "content-encoding" not in headers
        and ctype.startswith(_COMPRESSIBLE)
        and not ctype.startswith(_NEVER)
    )


class _Stream:
    def __init__(self, encoding: str) -> None:
        self._br: Any = brotli.Compressor(quality=BROTLI_QUALITY) if encoding == "br" else None
        self._gz = (
            None if self._br else zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        )

    def chunk(self, data: bytes, *, last: bool) -> bytes:
        if self._br is not None:
            head: bytes = self._br.process(data)
            tail: bytes = self._br.finish() if last else self._br.flush()
            return head + tail
        assert self._gz is not None
        head = self._gz.compress(data)
        return head + self._gz.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def compress(data: bytes, encoding: str) -> bytes:
    if encoding == "br":
        out: bytes = brotli.compress(data, quality=BROTLI_QUALITY)
        return out
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


class CompressionMiddleware:
    def __init__(self, app: ASGIApp, *, min_size: int) -> None:
        self.app = app
        self.min_size = min_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        encoding = choose_encoding(Headers(scope=scope).get("accept-encoding", ""))
        await self.app(scope, receive, _Responder(send, encoding, self.min_size).send)


class _Responder:
    def __init__(self, send: Send, encoding: str | None, min_size: int) -> None:
        self._send = send
        self.encoding = encoding
        self.min_size = min_size
        self.start: Message | None = None
        self.stream: _Stream | None = None
        self.decided = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message  # held until the first body chunk shows the size
            return
        if message["type"] != "http.response.body" or self.decided:
            if self.stream is not None and message["type"] == "http.response.body":
                last = not message.get("more_body", False)
                message["body"] = self.stream.chunk(message.get("body", b""), last=last)
            await self._send(message)
            return
        self.decided = True
        assert self.start is not None
        headers = MutableHeaders(scope=self.start)
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        if self.start["status"] in (204, 304) or not _compressible(headers):
            await self._flush(message)
            return
        headers.add_vary_header("Accept-Encoding")
        declared = headers.get("content-length")
        size = int(declared) if declared and declared.isdigit() else len(body)
        if self.encoding is None or (size < self.min_size and (declared or not more)):
            await self._flush(message)
            return
        headers["Content-Encoding"] = self.encoding
        if not more:
            message["body"] = compress(body, self.encoding)
            headers["Content-Length"] = str(len(message["body"]))
        else:
            del headers["Content-Length"]
            self.stream = _Stream(self.encoding)
            message["body"] = self.stream.chunk(body, last=False)
        await self._flush(message)

    async def _flush(self, message: Message) -> None:
        assert self.start is not None
        await self._send(self.start)
        await self._send(message)

"""Drive the speed bench's app with raw ASGI calls: no HTTP client, no sockets.

Shared by ``bench instructions`` and ``bench gc_cost``, which measure the server's
own work and must not count a client's.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Any


async def serve(
    query: str,
    n: int,
    requests: int,
    *,
    encoding: str = "identity",
    inflight: int = 1,
    before: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
) -> None:
    """Serve five warm-up requests, then ``requests`` more shared by ``inflight`` workers.

    ``before`` and ``after`` are called around the measured requests (not the
    warm-up). Exits with a message when a request fails.
    """
    import orjson

    from bench.speed import QUERIES
    from bench.speed_app import app

    body = orjson.dumps({"query": QUERIES[query], "variables": {"n": n}})
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"accept-encoding", encoding.encode()),
    ]

    async with app.router.lifespan_context(app) as state:

        async def one() -> int:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/graphql",
                "raw_path": b"/graphql",
                "query_string": b"",
                "root_path": "",
                "headers": headers,
                "client": ("127.0.0.1", 1),
                "server": ("bench", 80),
                "state": dict(state or {}),
            }
            sent = False
            status = 0

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                await asyncio.sleep(3600)  # the app never asks again for one body
                return {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]

            await app(scope, receive, send)
            return status

        for _ in range(5):
            if (status := await one()) != 200:
                raise SystemExit(f"query failed with HTTP {status}")
        left = requests
        failed = 0

        async def worker() -> None:
            nonlocal left, failed
            while left > 0:
                left -= 1
                if await one() != 200:
                    failed += 1

        _call(before)
        await asyncio.gather(*(worker() for _ in range(inflight)))
        _call(after)
        if failed:
            raise SystemExit(f"{failed} of {requests} requests failed")


def set_young_threshold(threshold: str | None) -> None:
    """The cyclic GC's young threshold: a whole number, ``off`` (GC disabled) or
    ``None`` (leave the app's own)."""
    if threshold == "off":
        gc.disable()
    elif threshold is not None:
        gc.set_threshold(int(threshold), *gc.get_threshold()[1:])


def collections() -> list[int]:
    """Collections so far, per generation."""
    return [s["collections"] for s in gc.get_stats()]


def _call(hook: Callable[[], None] | None) -> None:
    if hook is not None:
        hook()

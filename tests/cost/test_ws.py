"""WebSocket subscriptions go through the same cost analysis as HTTP.

A real uvicorn server (in the test's event loop) and a ``graphql-transport-ws``
client: a subscription above the maximum is refused with the documented code
before it starts; an admitted one is charged its estimate at subscribe time,
visible to the same caller over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator

import httpx
import uvicorn
from websockets.asyncio.client import connect

from app.main import create_app
from tests.conftest import make_settings

TIERS = {"anonymous": {"capacity": 100, "restore_rate": 0.001}}
EXPENSIVE = 'subscription { prices(assetIds: ["bitcoin"]) { price { value sources { source } } } }'
CHEAP = 'subscription { prices(assetIds: ["bitcoin"]) { seq } }'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(app) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


async def remaining(base: str) -> int:
    async with httpx.AsyncClient(timeout=5) as http:
        resp = await http.post(
            f"http://{base}/graphql", json={"query": "{ rateLimit(dryRun: true) { remaining } }"}
        )
        return int(resp.json()["data"]["rateLimit"]["remaining"])


async def test_subscriptions_are_priced_limited_and_charged(db):
    app = create_app(make_settings(db.url, cost_tiers=TIERS, cost_max_operation=5))
    async with (
        serve(app) as base,
        connect(f"ws://{base}/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"

        # 1 (update) + 1 (price) + 10 (sources) = 12 > 5: refused before it starts
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": EXPENSIVE}}))
        async with asyncio.timeout(10):
            msg = json.loads(await ws.recv())
        assert (msg["type"], msg["id"]) == ("error", "1")
        ext = msg["payload"][0]["extensions"]
        assert ext == {
            "code": "COST_ESTIMATED_TOO_EXPENSIVE",
            "cost": {"estimated": 12, "max": 5},
        }
        assert await remaining(base) == 100  # nothing charged

        # 1 point: admitted and charged once at subscribe time
        await ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": {"query": CHEAP}}))
        for _ in range(200):  # the admission runs in its own task: poll, bounded
            if await remaining(base) == 99:
                break
            await asyncio.sleep(0.05)
        assert await remaining(base) == 99
        await ws.send(json.dumps({"id": "2", "type": "complete"}))

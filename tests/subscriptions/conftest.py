"""Fixtures for the subscription tests.

* ``broker``: both backends (memory, and Redis under a unique namespace).
* ``live``: the full app served by a real uvicorn server on a free loopback
  port, in the test's event loop, on a SQLite copy of the migrated template
  with a few assets; ``live.publish(...)`` goes through the app's own broker.
  Parametrise it indirectly with ``{"redis": True, ...settings}`` for Redis.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.main import create_app
from pubsub import channels, messages
from pubsub.factory import running_broker
from pubsub.memory import MemoryBroker
from pubsub.redis import RedisBroker
from tests.conftest import REDIS_TEST_URL, make_settings
from tests.factories import Factory

ASSETS = ("bitcoin", "ethereum", "solana")


async def until(predicate: Callable[[], bool], wait: float = 10.0, step: float = 0.01) -> None:
    """Poll ``predicate`` until true; ``TimeoutError`` after ``wait`` seconds."""
    async with asyncio.timeout(wait):
        for _ in itertools.count():
            if predicate():
                return
            await asyncio.sleep(step)


def unique_namespace() -> str:
    return f"cqtest:{uuid.uuid4().hex[:12]}:"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[MemoryBroker | RedisBroker]:
    url = REDIS_TEST_URL if request.param == "redis" else ""
    async with running_broker(
        url, replay_window=50, queue_size=500, namespace=unique_namespace()
    ) as b:
        yield b


async def seed(db_url: str) -> None:
    from storage.engine import make_engine, make_session_factory

    engine = make_engine(db_url)
    try:
        f = Factory(make_session_factory(engine))
        for name in ASSETS:
            await f.asset(name, symbol=name[:3].upper())
        await f.chain("ethereum")
    finally:
        await engine.dispose()


@pytest.fixture
async def seeded_db(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    path = tmp_path / "live.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    url = f"sqlite+aiosqlite:///{path}"
    await seed(url)
    return url


@dataclass
class Live:
    url: str
    server: uvicorn.Server
    settings: Any
    seq: dict[str, int] = field(default_factory=dict)

    @property
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.server.lifespan.state["services"]
        return services

    @property
    def broker(self) -> Any:
        return self.services["broker"]

    @property
    def ws_server(self) -> Any:
        """The app's :class:`app.ws.LiveSocketServer` (connections and stats)."""
        return self.server.config.app.state.live

    @property
    def hub(self) -> Any:
        return self.services["topics"]

    async def attached(self, n: int = 1, wait: float = 10.0) -> None:
        """Wait until ``n`` subscriptions are attached to topics (live)."""
        await until(lambda: self.hub.subscriber_count() >= n, wait)

    async def until_detached(self, wait: float = 10.0) -> None:
        """Wait until no subscription is attached (a closed client was cleaned up)."""
        await until(lambda: self.hub.subscriber_count() == 0, wait)

    async def tick(
        self, asset: str, price: str | Decimal, source: str = "sim", quote: str = "USD"
    ) -> int:
        msg = messages.price_tick(
            asset=asset,
            quote=quote,
            source=source,
            price=Decimal(str(price)),
            observed_at=datetime.now(UTC),
        )
        return int(await self.broker.publish(channels.prices(asset, quote), msg))

    async def block(self, number: int, chain: str = "ethereum") -> int:
        msg = messages.block_head(
            chain=chain,
            source="anvil",
            number=number,
            hash=f"0x{number:064x}",
            parent_hash=f"0x{number - 1:064x}",
            timestamp=datetime.now(UTC),
            gas_used=21000,
            gas_limit=30_000_000,
            tx_count=1,
        )
        return int(await self.broker.publish(channels.blocks(chain), msg))


@asynccontextmanager
async def serve(db_url: str, **overrides: Any) -> AsyncIterator[Live]:
    """The full app on a real uvicorn server (this event loop), stopped on exit."""
    settings = make_settings(db_url, **overrides)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ws_ping_interval=None,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("uvicorn exited during start-up")
                await asyncio.sleep(0.01)
        yield Live(url=f"ws://127.0.0.1:{port}/graphql", server=server, settings=settings)
    finally:
        server.should_exit = True
        async with asyncio.timeout(30):
            await task


def live_overrides(param: Any) -> dict[str, Any]:
    opts = dict(param or {})
    if opts.pop("redis", False):
        opts.setdefault("redis_url", REDIS_TEST_URL)
        tag = uuid.uuid4().hex[:10]
        opts.setdefault("pubsub_namespace", f"cqtest:{tag}:")
        opts.setdefault("key_invalidation_channel", f"cqtest:{tag}:keys:invalidate")
        opts.setdefault("cost_redis_prefix", f"cqtest:{tag}:budget:")
    return opts


@pytest.fixture
async def live(
    seeded_db: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Live]:
    opts = live_overrides(getattr(request, "param", None))
    opts.setdefault("data_dir", tmp_path)
    async with serve(seeded_db, **opts) as server:
        yield server


# --- a small graphql-transport-ws / graphql-ws client over `websockets` -------------------


class WsClient:
    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    async def send(self, message: dict[str, Any]) -> None:
        await self.conn.send(orjson.dumps(message).decode())

    async def recv(self, wait: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(wait):
            while True:
                raw = await self.conn.recv()
                msg: dict[str, Any] = orjson.loads(raw)
                if msg.get("type") not in ("ping", "ka"):
                    return msg
                if msg.get("type") == "ping":
                    await self.send({"type": "pong"})

    async def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.send({"type": "connection_init", **({"payload": payload} if payload else {})})
        return await self.recv()

    async def subscribe(
        self, op_id: str, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        kind = "subscribe" if self.conn.subprotocol == "graphql-transport-ws" else "start"
        await self.send(
            {"type": kind, "id": op_id, "payload": {"query": query, "variables": variables or {}}}
        )

    async def closed(self, wait: float = 10.0) -> tuple[int | None, str]:
        """Wait for the server to close; returns (code, reason)."""
        async with asyncio.timeout(wait):
            try:
                while True:
                    await self.conn.recv()
            except ConnectionClosed:
                pass
        rcvd = self.conn.protocol.close_rcvd
        return (rcvd.code, rcvd.reason) if rcvd else (None, "")


@asynccontextmanager
async def ws_client(
    url: str, protocol: str = "graphql-transport-ws", **kw: Any
) -> AsyncIterator[WsClient]:
    async with connect(url, subprotocols=[protocol], open_timeout=5, **kw) as conn:  # type: ignore[list-item]
        yield WsClient(conn)


PRICES = """
subscription P($ids: [String!]!, $after: String) {
  prices(assetIds: $ids, after: $after) {
    seq ts cursor assetId quote
    price { value sourceCount method sources { source price used } }
    tick { source price }
  }
}
"""

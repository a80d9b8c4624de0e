"""50 subscribers that stop reading while a fast feed runs: bounded, isolated, closed 4013."""

from __future__ import annotations

import asyncio
import socket
from contextlib import AsyncExitStack
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

import app.ws
from tests.subscriptions.conftest import ASSETS, Live, WsClient, until

SLOW = 50
HEALTHY = 5
DOC = """subscription P($ids: [String!]!) { prices(assetIds: $ids) {
  seq ts assetId price { value sources { source price } } tick { source price observedAt } } }"""
BLOCKS = 'subscription { blocks(chainId: "ethereum") { seq block { number hash parentHash } } }'


class StalledClient:
    """A graphql-transport-ws client on a raw socket that stops reading after subscribing.

    Sans-I/O ``websockets`` builds the frames; nothing reads the socket until
    :meth:`drain`, so the server sees exactly what a frozen browser tab looks
    like: a full receive window and no pongs.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.proto = ClientProtocol(
            parse_uri(url), subprotocols=[Subprotocol("graphql-transport-ws")]
        )
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.setblocking(False)

    @property
    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])

    async def _flush(self) -> None:
        data = b"".join(self.proto.data_to_send())
        if data:
            await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def _next_event(self) -> Any:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(10):
            while True:
                events = self.proto.events_received()
                if events:
                    return events[0]
                chunk = await loop.sock_recv(self.sock, 65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.proto.receive_data(chunk)

    async def open(self, ids: list[str], doc: str) -> None:
        host, port = self.url.removeprefix("ws://").split("/")[0].split(":")
        await asyncio.get_running_loop().sock_connect(self.sock, (host, int(port)))
        self.proto.send_request(self.proto.connect())
        await self._flush()
        await self._next_event()  # the 101 response
        self.proto.send_text(orjson.dumps({"type": "connection_init"}))
        await self._flush()
        await self._next_event()  # connection_ack
        variables = {"ids": ids} if ids else {}
        msg = {"type": "subscribe", "id": "s", "payload": {"query": doc, "variables": variables}}
        self.proto.send_text(orjson.dumps(msg))
        await self._flush()

    async def drain(self) -> int | None:
        """Read everything until the server's close; return its close code."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(30):
            while self.proto.close_rcvd is None:
                chunk = await loop.sock_recv(self.sock, 1 << 20)
                if not chunk:
                    break
                self.proto.receive_data(chunk)
                self.proto.events_received()
        self.sock.close()
        return self.proto.close_rcvd.code if self.proto.close_rcvd else None


def _constrain_path(live: Live, clients: list[StalledClient]) -> None:
    """Give the server side of these sockets a small send buffer (a slow network path).

    Linux grows a loopback socket's send buffer to megabytes, so without this a
    stalled reader would absorb the whole test feed in kernel memory instead of
    pushing back on the server as a real slow client does.
    """
    ports = {c.local_port for c in clients}
    for proto in live.server.server_state.connections:
        transport = getattr(proto, "transport", None)
        peer = transport.get_extra_info("peername") if transport else None
        if peer and peer[1] in ports:
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


def _pending_frames(live: Live) -> int:
    return sum(
        len(op.queue) + len(op.pending)
        for conn in live.ws_server.connections
        for op in conn.ops.values()
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "live",
    [
        {
            "ws_keepalive_seconds": 0.2,
            "ws_pong_timeout_seconds": 120,
            "ws_slow_close_seconds": 1.0,
            "ws_max_connections_per_key": 100,
            "cost_enforce": False,  # one anonymous budget for 55 subscribers: not under test
        }
    ],
    indirect=True,
)
async def test_stalled_price_subscribers_are_shed_and_healthy_ones_keep_up(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.ws, "CLOSE_DEADLINE_SECONDS", 15.0)
    ids = list(ASSETS)
    async with AsyncExitStack() as stack:
        healthy = []
        for _ in range(HEALTHY):
            conn = await stack.enter_async_context(
                connect(live.url, subprotocols=["graphql-transport-ws"], open_timeout=5)  # type: ignore[list-item]
            )
            c = WsClient(conn)
            await c.init()
            await c.subscribe("h", DOC, {"ids": ids})
            healthy.append(c)
        stalled = [StalledClient(live.url) for _ in range(SLOW)]
        for client in stalled:
            await client.open(ids, DOC)
        _constrain_path(live, stalled)
        try:
            await live.attached(SLOW + HEALTHY)
        except TimeoutError:
            raise AssertionError((live.hub.subscriber_count(), live.ws_server.stats)) from None

        last: dict[str, dict[str, Any]] = {}
        received = [0] * HEALTHY

        async def read(i: int, c: WsClient) -> None:
            while True:
                msg = await c.recv(wait=30)
                p = msg["payload"]["data"]["prices"]
                last[f"{i}:{p['assetId']}"] = p
                received[i] += 1

        readers = [asyncio.create_task(read(i, c)) for i, c in enumerate(healthy)]
        peak = 0
        final: dict[str, int] = {}
        try:
            # The fast feed: 1,800 ticks as fast as the topic takes them (each stalled
            # socket needs only ~150 frames to fill its path).
            for n in range(600):
                for asset in ids:
                    final[asset] = await live.tick(asset, 1000 + n, source=f"s{n % 3}")
                if n % 50 == 0:
                    peak = max(peak, _pending_frames(live))
                    await asyncio.sleep(0.01)
            try:
                await until(
                    lambda: (
                        live.hub.subscriber_count() == HEALTHY
                        and all(
                            last.get(f"{i}:{a}", {}).get("seq") == final[a]
                            for i in range(HEALTHY)
                            for a in ids
                        )
                    ),
                    wait=60,
                )
            except TimeoutError:
                raise AssertionError(
                    (
                        live.hub.subscriber_count(),
                        final,
                        {k: v["seq"] for k, v in last.items()},
                        live.ws_server.stats,
                        live.hub.stats,
                        [r.done() for r in readers],
                        len(live.ws_server.connections),
                    )
                ) from None
        finally:
            for r in readers:
                r.cancel()
        codes = await asyncio.gather(*(s.drain() for s in stalled))
    # Every stalled subscriber was shed with the documented code …
    assert codes == [4013] * SLOW
    # … while queued frames stayed bounded by one per (subscription, asset) …
    assert peak <= (SLOW + HEALTHY) * len(ids)
    # … and every healthy subscriber got the latest value of every asset.
    assert all(n > 0 for n in received)
    assert live.ws_server.stats.closes.get(4013) == SLOW


@pytest.mark.parametrize(
    "live",
    [
        {
            "ws_keepalive_seconds": 0.2,
            "ws_pong_timeout_seconds": 120,
            "ws_slow_close_seconds": 120,
            "ws_send_queue_size": 16,
            "ws_drop_close_threshold": 100,
        }
    ],
    indirect=True,
)
async def test_stalled_block_subscriber_drops_oldest_then_is_closed(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.ws, "CLOSE_DEADLINE_SECONDS", 15.0)
    client = StalledClient(live.url)
    await client.open([], BLOCKS)
    _constrain_path(live, [client])
    await live.attached(1)
    peak = 0
    for n in range(1, 3000):
        await live.block(n)
        if n % 20 == 0:
            peak = max(peak, _pending_frames(live))
            await asyncio.sleep(0)
        if live.hub.subscriber_count() == 0:
            break
    await live.until_detached(wait=30)  # shed by the server, before the client reads again
    code = await client.drain()
    assert code == 4013
    assert peak <= 16
    assert live.ws_server.stats.frames_dropped >= 100

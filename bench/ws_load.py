"""A lean graphql-transport-ws load client: thousands of subscribers in one process.

Each subscriber is an asyncio ``Protocol`` driving a sans-I/O
``websockets.client.ClientProtocol`` (no task, no queue per connection), so one
process holds 10,000 sockets with little CPU and memory of its own — on a
2-core box the load client competes with the server, and a heavy client would
measure itself. Frames are not JSON-decoded: ``seq`` and ``ts`` are sliced out
of the payload bytes to compute the delivery latency (receipt time minus the
broker's publish time, same host clock) and to detect sequence gaps.

Run alone against a server (``python -m bench.ws_load --help``) or driven by
``bench/subscriptions.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

DOC = (
    "subscription P($ids: [String!]!) { prices(assetIds: $ids) "
    "{ seq ts assetId price { value sourceCount } } }"
)


@dataclass
class LoadStats:
    connected: int = 0
    live: int = 0
    messages: int = 0
    gaps: int = 0
    closed: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    recording: bool = False

    def reset_window(self) -> None:
        self.latencies = []
        self.messages = 0
        self.gaps = 0


def _slice(data: bytes, key: bytes, end: bytes) -> bytes | None:
    i = data.find(key)
    if i < 0:
        return None
    i += len(key)
    j = data.find(end, i)
    return data[i:j] if j > 0 else None


class Subscriber(asyncio.Protocol):
    def __init__(self, url: str, variables: dict[str, Any], stats: LoadStats, op_id: str) -> None:
        self.ws = ClientProtocol(parse_uri(url), subprotocols=[Subprotocol("graphql-transport-ws")])
        self.variables = variables
        self.stats = stats
        self.op_id = op_id
        self.transport: asyncio.Transport | None = None
        self.state = "handshake"
        self.last_seq: int | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _flush(self) -> None:
        data = b"".join(self.ws.data_to_send())
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _send(self, message: dict[str, Any]) -> None:
        if self.ws.state is not State.OPEN:
            return
        self.ws.send_text(orjson.dumps(message))
        self._flush()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if event.status_code != 101:
                    self._fail()
                    return
                self.stats.connected += 1
                self.state = "init"
                self._send({"type": "connection_init"})
            elif isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self._on_text(bytes(event.data), now)
                elif event.opcode is Opcode.CLOSE:
                    self._on_close()
        self._flush()  # pongs for protocol pings

    def _on_text(self, data: bytes, now: float) -> None:
        if data.startswith(b'{"type":"next"'):
            stats = self.stats
            seq_raw = _slice(data, b'"seq":', b",")
            ts_raw = _slice(data, b'"ts":"', b'"')
            if seq_raw is not None:
                seq = int(seq_raw)
                if self.last_seq is not None and seq != self.last_seq + 1:
                    stats.gaps += max(0, seq - self.last_seq - 1)
                self.last_seq = seq
            stats.messages += 1
            if stats.recording and ts_raw is not None:
                stats.latencies.append(now - datetime.fromisoformat(ts_raw.decode()).timestamp())
        elif b'"ping"' in data[:20]:
            self._send({"type": "pong"})
        elif b'"connection_ack"' in data[:40]:
            self.state = "live"
            self.stats.live += 1
            payload = {"query": DOC, "variables": self.variables}
            self._send({"type": "subscribe", "id": self.op_id, "payload": payload})
            if not self.ready.done():
                self.ready.set_result(None)
        elif b'"error"' in data[:20]:
            self.stats.errors += 1

    def _on_close(self) -> None:
        rcvd = self.ws.close_rcvd
        code = rcvd.code if rcvd else 1006
        self.stats.closed[code] = self.stats.closed.get(code, 0) + 1
        self._fail()

    def _fail(self) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("subscriber failed"))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state == "live":
            self.stats.live -= 1
        self.state = "closed"
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("connection lost"))


async def open_subscribers(
    url: str,
    n: int,
    variables_for: Callable[[int], dict[str, Any]],
    stats: LoadStats,
    *,
    start: int = 0,
    concurrency: int = 100,
) -> list[Subscriber]:
    """Open ``n`` subscribers (``start`` numbers them), ``concurrency`` handshakes at a time."""
    loop = asyncio.get_running_loop()
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    subs: list[Subscriber] = []
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            for _attempt in range(3):  # an overloaded server may shed a handshake: retry
                sub = Subscriber(url, variables_for(i), stats, str(i))
                try:
                    await loop.create_connection(lambda: sub, host, int(port))  # noqa: B023
                    async with asyncio.timeout(60):
                        await sub.ready
                except (OSError, ConnectionError, TimeoutError):
                    stats.errors += 1
                    if sub.transport is not None:
                        sub.transport.close()
                    continue
                subs.append(sub)
                return

    await asyncio.gather(*(one(start + i) for i in range(n)))
    return subs


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _main(args: argparse.Namespace) -> None:
    stats = LoadStats()
    assets = args.assets.split(",")
    subs = await open_subscribers(
        args.url, args.n, lambda i: {"ids": [assets[i % len(assets)]]}, stats
    )
    print(f"{len(subs)} subscribers live; recording {args.duration} s")
    stats.recording = True
    stats.reset_window()
    await asyncio.sleep(args.duration)
    lat = stats.latencies
    print(
        f"messages {stats.messages} gaps {stats.gaps} closed {stats.closed} "
        f"p50 {percentile(lat, 0.5) * 1000:.1f} ms p99 {percentile(lat, 0.99) * 1000:.1f} ms"
    )
    for s in subs:
        if s.transport is not None:
            s.transport.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="ws://127.0.0.1:8000/graphql")
    p.add_argument("-n", type=int, default=1000, help="subscribers")
    p.add_argument("--assets", default="bitcoin,ethereum", help="comma-separated asset ids")
    p.add_argument("--duration", type=float, default=10.0, help="seconds to record")
    asyncio.run(_main(p.parse_args(argv)))


if __name__ == "__main__":
    main()

"""Long-running pumps as runner feeds: the exchange streams and the Ethereum pump.

A pump (``ingest.streams.StreamPump``, ``ingest.ethereum.EthereumPump``) has
its own ``run()`` that loops for ever and handles its upstream's failures
itself (reconnects, backoff, retrying a failed sync). Wrapped here, it becomes
a feed of the runner like the REST feeds: it runs until the runner stops,
an *unexpected* crash of the pump (a bug, a node on the wrong chain) is raised
to the runner's supervisor, which logs it and restarts the feed after a
growing pause, and ``aclose`` releases what the pump owns (the JSON-RPC client).

Exchange streams start only for exchanges whose REST side is reachable (in
``auto`` mode) or configured (``real`` mode), and only once the REST feed has
stored the market registry that maps the stream's symbols to canonical
assets: before that, every tick would only be counted as unmapped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ingest.ethereum import EthereumPump
from ingest.health import rest_health
from ingest.streams import StreamPump, binance_pump, coinbase_pump
from ingest.writer import Writer


async def run_until_stopped(start: Callable[[], Awaitable[object]], stop: asyncio.Event) -> None:
    """Run ``start()`` until ``stop`` is set; re-raise when it ends on its own by an error."""
    task = asyncio.ensure_future(start())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        task.cancel()  # a no-op when it already ended
        await asyncio.gather(task, stopper, return_exceptions=True)
    error = None if task.cancelled() else task.exception()
    if error is not None:
        raise error


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """Which exchange WebSocket streams to run (an empty URL disables one)."""

    binance_url: str = ""
    binance_symbols: tuple[str, ...] = ()
    binance_kline_intervals: tuple[str, ...] = ("1m",)
    coinbase_url: str = ""
    coinbase_products: tuple[str, ...] = ()
    flush_seconds: float = 1.0


class StreamFeed:
    """One exchange's live stream pump, supervised by the runner."""

    def __init__(self, source: str, pump: StreamPump, ready: asyncio.Event | None = None) -> None:
        self.source = source
        self.name = f"{source}-stream"
        self.pump = pump
        self.ready = ready

    async def run(self, stop: asyncio.Event) -> None:
        if self.ready is not None:  # the market registry first (see the module doc)
            await run_until_stopped(self.ready.wait, stop)
        if not stop.is_set():
            await run_until_stopped(self.pump.run, stop)

    def health(self) -> dict[str, dict[str, Any]]:
        h = self.pump.health
        stats = self.pump.feed.stats
        if h.connected:
            status = "ok"
        elif h.connects == 0 and h.disconnects == 0:
            status = "starting"
        else:
            status = "down"
        return {
            self.source: {
                "status": status,
                "stream": {
                    "status": status,
                    "connected": h.connected,
                    "connects": h.connects,
                    "disconnects": h.disconnects,
                    "sequence_gaps": h.sequence_gaps,
                    "missed_messages": h.missed_messages,
                    "events": h.events,
                    "written_quotes": h.written_quotes,
                    "written_candles": h.written_candles,
                    "failed_flushes": h.failed_flushes,
                    "parse_errors": stats.parse_errors,
                    "last_error": h.last_error or stats.last_error,
                },
            }
        }


def stream_feeds(
    writer: Writer,
    options: StreamOptions,
    sources: Sequence[str],
    ready: asyncio.Event | None = None,
) -> list[StreamFeed]:
    """The stream feeds for the exchanges in ``sources`` that have a URL and markets.

    ``ready`` (the REST feed's "registry stored" event) holds them back until the
    markets their symbols map through exist.
    """
    feeds: list[StreamFeed] = []
    o = options
    if "binance" in sources and o.binance_url and o.binance_symbols:
        feeds.append(
            StreamFeed(
                "binance",
                binance_pump(
                    writer,
                    url=o.binance_url,
                    symbols=o.binance_symbols,
                    kline_intervals=o.binance_kline_intervals,
                    flush_seconds=o.flush_seconds,
                ),
                ready,
            )
        )
    if "coinbase" in sources and o.coinbase_url and o.coinbase_products:
        feeds.append(
            StreamFeed(
                "coinbase",
                coinbase_pump(
                    writer,
                    url=o.coinbase_url,
                    products=o.coinbase_products,
                    flush_seconds=o.flush_seconds,
                ),
                ready,
            )
        )
    return feeds


class EthereumFeed:
    """The Ethereum pump (polling and, when configured, ``newHeads``) as a runner feed."""

    name = "ethereum"

    def __init__(self, pump: EthereumPump) -> None:
        self.pump = pump

    async def run(self, stop: asyncio.Event) -> None:
        await run_until_stopped(self.pump.run, stop)

    async def run_once(self) -> None:
        await self.pump.sync()

    async def aclose(self) -> None:
        await self.pump.aclose()

    def health(self) -> dict[str, dict[str, Any]]:
        pump = self.pump.health()
        entry = rest_health(self.pump.client.rpc.http.health())
        if pump["websocket"] and entry["status"] == "ok" and not pump["websocket_connected"]:
            entry["status"] = "degraded"  # polling only: heads arrive late, nothing is lost
        entry["chain"] = pump
        return {"ethereum": entry}


__all__ = ["EthereumFeed", "StreamFeed", "StreamOptions", "run_until_stopped", "stream_feeds"]

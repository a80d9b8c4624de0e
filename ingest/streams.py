"""Stream pumps: live exchange WebSocket feeds into quotes and candles.

A :class:`StreamPump` consumes one feed (:class:`~sources.binance_ws.BinanceStream`,
:class:`~sources.coinbase_ws.CoinbaseStream`) and hands what it saw to the
ingest :class:`~ingest.writer.Writer`, the single write path (identity mapping
through the stored markets, the record guard, idempotent upserts, rollups,
publishing after commit).

Live feeds are fast (a busy market trades many times a second) and writing
each tick would spend the database on values nobody reads, so ticks are
**conflated**: per market only the newest observation is kept, and every
``flush_seconds`` (default 1 s) the pending set is written as one transaction.
Trades and tickers both update a market's price; a ticker's 24 h figures
(volume, change, high/low) are carried over to later trade-driven quotes so a
quote never loses them. Candle updates are kept per ``(market, interval,
open time)``: the last update of a forming candle wins, and a closed candle
(``is_complete``) is written as such.

Connection events are counted in :attr:`StreamPump.health` (connects,
disconnects, sequence gaps) for ``/readyz``; a failed write is logged and the
batch is retried on the next flush (pending values merge, so nothing newer is
lost, and every write is an upsert).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ingest.writer import Writer
from sources.binance_ws import BinanceStream, stream_names
from sources.coinbase_ws import CoinbaseStream, SequenceGap
from sources.records import CandleRecord, MarketQuote, TradeRecord
from sources.ws_stream import Connected, Disconnected, WsFeed

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
#: Pending markets/candles beyond this trigger an early flush (bounded memory).
MAX_PENDING = 5000

MarketKey = tuple[str, str]
CandleKey = tuple[str, str, str, Any]


@dataclass
class StreamHealth:
    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    sequence_gaps: int = 0
    missed_messages: int = 0
    events: int = 0
    written_quotes: int = 0
    written_candles: int = 0
    failed_flushes: int = 0
    last_error: str | None = None
    extra: dict[str, int] = field(default_factory=dict)


def trade_quote(t: TradeRecord, ticker: MarketQuote | None) -> MarketQuote:
    """A trade as a price observation, keeping the market's last 24 h ticker figures."""
    if ticker is None:
        return MarketQuote(
            source=t.source,
            source_id=t.source_id,
            quote_currency=None,
            price=t.price,
            observed_at=t.ts,
        )
    return dataclasses.replace(ticker, price=t.price, observed_at=t.ts, bid=None, ask=None)


class StreamPump:
    def __init__(
        self,
        feed: WsFeed,
        writer: Writer,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.feed = feed
        self.writer = writer
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self.health = StreamHealth()
        self._quotes: dict[MarketKey, MarketQuote] = {}
        self._tickers: dict[MarketKey, MarketQuote] = {}
        self._candles: dict[CandleKey, CandleRecord] = {}
        self._full = asyncio.Event()
        self.flushing = False

    # ------------------------------------------------------------------ events

    def observe(self, event: Any) -> None:
        """Fold one feed event into the pending batch (or the health counters)."""
        h = self.health
        if isinstance(event, MarketQuote):
            key = (event.source, event.source_id)
            self._tickers[key] = event
            self._keep_newest(key, event)
        elif isinstance(event, TradeRecord):
            key = (event.source, event.source_id)
            self._keep_newest(key, trade_quote(event, self._tickers.get(key)))
        elif isinstance(event, CandleRecord):
            self._candles[(event.source, event.source_id, event.interval, event.open_time)] = event
        elif isinstance(event, Connected):
            h.connected, h.connects = True, h.connects + 1
        elif isinstance(event, Disconnected):
            h.connected, h.disconnects = False, h.disconnects + 1
            h.last_error = None if event.planned else event.reason
        elif isinstance(event, SequenceGap):
            h.sequence_gaps += 1
            h.missed_messages += event.missed
        else:
            name = type(event).__name__
            h.extra[name] = h.extra.get(name, 0) + 1
            return
        h.events += 1
        if len(self._quotes) + len(self._candles) >= self.max_pending:
            self._full.set()

    def _keep_newest(self, key: MarketKey, quote: MarketQuote) -> None:
        current = self._quotes.get(key)
        if current is None or quote.observed_at >= current.observed_at:
            self._quotes[key] = quote

    @property
    def pending(self) -> int:
        return len(self._quotes) + len(self._candles)

    # ------------------------------------------------------------------ writing

    async def flush(self) -> int:
        """Write everything pending in one transaction; returns the rows written.

        On failure (or cancellation mid-write) the batch goes back into the
        pending set, merged under anything newer that arrived meanwhile, so the
        next flush writes it: upserts make the retry harmless.
        """
        if not self.pending:
            return 0
        quotes, candles = self._quotes, self._candles
        self._quotes, self._candles = {}, {}
        self._full.clear()
        self.flushing = True
        try:
            result = await self.writer.write(
                quotes=list(quotes.values()), candles=list(candles.values())
            )
        except (SQLAlchemyError, OSError) as exc:
            self._restore(quotes, candles)
            self.health.failed_flushes += 1
            self.health.last_error = f"write failed: {type(exc).__name__}: {exc}"
            log.warning("stream %s: write failed, retrying next flush: %s", self.feed.source, exc)
            return 0
        except BaseException:
            self._restore(quotes, candles)
            raise
        finally:
            self.flushing = False
        self.health.written_quotes += len(result.quotes)
        self.health.written_candles += len(result.candles)
        return result.written

    def _restore(
        self, quotes: dict[MarketKey, MarketQuote], candles: dict[CandleKey, CandleRecord]
    ) -> None:
        for key, q in quotes.items():
            self._keep_newest(key, q)
        for ckey, c in candles.items():
            self._candles.setdefault(ckey, c)

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Consume the feed forever, flushing on a timer; cancel to stop (flushes last)."""
        consumer = asyncio.create_task(self._consume(), name=f"stream-{self.feed.source}")
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.flush_seconds)
                if consumer.done():
                    consumer.result()  # surface an unexpected crash of the feed
                await self.flush()
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush())

    async def _consume(self) -> None:
        async with contextlib.aclosing(self.feed.events()) as events:
            async for event in events:
                self.observe(event)


def binance_pump(
    writer: Writer,
    *,
    url: str,
    symbols: Sequence[str],
    kline_intervals: Sequence[str] = ("1m",),
    flush_seconds: float = FLUSH_SECONDS,
) -> StreamPump:
    """Trades, klines and mini-tickers of ``symbols`` (e.g. ``BTCUSDT``) from Binance."""
    streams = stream_names(symbols, trades=True, klines=kline_intervals, mini=True)
    return StreamPump(BinanceStream(streams, base_url=url), writer, flush_seconds=flush_seconds)


def coinbase_pump(
    writer: Writer, *, url: str, products: Sequence[str], flush_seconds: float = FLUSH_SECONDS
) -> StreamPump:
    """Tickers (with heartbeats) of ``products`` (e.g. ``BTC-USD``) from Coinbase."""
    return StreamPump(CoinbaseStream(products, url=url), writer, flush_seconds=flush_seconds)


__all__ = ["StreamHealth", "StreamPump", "binance_pump", "coinbase_pump", "trade_quote"]

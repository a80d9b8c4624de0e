"""Binance spot market streams over one combined WebSocket connection.

We connect to ``/stream?streams=a/b/c`` (every frame then arrives wrapped as
``{"stream": "<name>", "data": {...}}``) and turn three stream types into the
shared records:

- ``<symbol>@trade`` → :class:`~sources.records.TradeRecord`;
- ``<symbol>@kline_<interval>`` → :class:`~sources.records.CandleRecord`, keyed
  by the kline's open time ``k.t``; ``is_complete`` is ``k.x`` (the final update
  of a closed candle). Forming candles are pushed every 1–2 s and overwrite;
- ``<symbol>@miniTicker`` → :class:`~sources.records.MarketQuote` (24 h rolling
  window: last price ``c``, quote volume ``q``, base volume ``v``).

Stream names use lower-case symbols; records carry the exchange symbol in
upper case as ``source_id`` (``BTCUSDT``) with ``quote_currency=None``, since
splitting ``BTCUSDT`` into base and quote is the market registry's job.

Parsing is tolerant by design: unknown keys are ignored (the 2021 trade frame
still has the since-removed ``b``/``a`` order ids), optional keys may be missing
(a 1 s kline without ``B``); a frame missing a *required* field or with a
non-positive price is counted in ``stats.parse_errors`` and skipped.

Connection care (see :mod:`sources.ws_stream` for the loop): Binance sends a
ping frame every 20 s and drops clients that do not pong within a minute: the
``websockets`` library answers automatically (a test proves it). A connection
lives 24 h at most, so ``max_age`` defaults to 23 h 50 min and we reconnect on
our own schedule; a ``serverShutdown`` event (raw or as ``!serverShutdown`` in
a combined stream) triggers an immediate reconnect. Streams added at runtime
with :meth:`BinanceStream.subscribe` are sent as a ``SUBSCRIBE`` request and
also written into the URL of every later connection, so a reconnect
resubscribes everything. Binance allows 5 incoming messages per second per
connection and 1024 streams; ``SUBSCRIBE`` requests are chunked and paced.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sources.errors import SourceDecodeError
from sources.records import CandleRecord, MarketQuote, TradeRecord
from sources.ws_stream import ReconnectRequested, Sender, StreamPolicy, WsFeed

log = logging.getLogger(__name__)

SOURCE = "binance"
DEFAULT_WS_URL = "wss://data-stream.binance.vision"
#: Binance cuts connections at 24 h; leave ten minutes earlier.
MAX_CONNECTION_AGE_S = 24 * 3600.0 - 600.0
MAX_STREAMS_PER_CONNECTION = 1024
SUBSCRIBE_CHUNK = 100
#: Seconds between control messages (the limit is 5 incoming messages/s, pongs included).
CONTROL_MESSAGE_SPACING_S = 0.25


@dataclass(frozen=True, slots=True)
class SubscribeAck:
    """The answer to one of our ``SUBSCRIBE`` requests (``error`` set when it failed)."""

    request_id: int
    error: str | None = None


def stream_names(
    symbols: Iterable[str], *, trades: bool, klines: Sequence[str], mini: bool
) -> list[str]:
    """The stream names for ``symbols`` (``BTCUSDT`` → ``btcusdt@trade`` …)."""
    names: list[str] = []
    for sym in symbols:
        s = sym.lower()
        if trades:
            names.append(f"{s}@trade")
        names.extend(f"{s}@kline_{interval}" for interval in klines)
        if mini:
            names.append(f"{s}@miniTicker")
    return names


def _ms(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SourceDecodeError(SOURCE, f"timestamp is not an integer: {value!r}")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _dec(data: dict[str, Any], key: str, *, positive: bool = False) -> Decimal:
    raw = data[key]
    if not isinstance(raw, str | int):
        raise SourceDecodeError(SOURCE, f"{key} is not a decimal string: {raw!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SourceDecodeError(SOURCE, f"{key} is not a number: {raw!r}") from None
    if not value.is_finite() or value < 0 or (positive and value == 0):
        raise SourceDecodeError(SOURCE, f"{key} out of range: {raw!r}")
    return value


def parse_trade(d: dict[str, Any]) -> TradeRecord:
    maker = d.get("m")
    return TradeRecord(
        source=SOURCE,
        source_id=str(d["s"]).upper(),
        trade_id=str(d["t"]),
        price=_dec(d, "p", positive=True),
        quantity=_dec(d, "q"),
        ts=_ms(d.get("T", d.get("E"))),
        buyer_is_maker=maker if isinstance(maker, bool) else None,
    )


def parse_kline(d: dict[str, Any]) -> CandleRecord:
    k = d["k"]
    candle = CandleRecord(
        source=SOURCE,
        source_id=str(k.get("s") or d["s"]).upper(),
        quote_currency=None,
        interval=str(k["i"]),
        open_time=_ms(k["t"]),
        open=_dec(k, "o", positive=True),
        high=_dec(k, "h", positive=True),
        low=_dec(k, "l", positive=True),
        close=_dec(k, "c", positive=True),
        volume=_dec(k, "v") if "v" in k else None,
        quote_volume=_dec(k, "q") if "q" in k else None,
        trades=k["n"] if isinstance(k.get("n"), int) else None,
        is_complete=k.get("x") is True,
    )
    if (
        not candle.low
        <= min(candle.open, candle.close)
        <= max(candle.open, candle.close)
        <= candle.high
    ):
        raise SourceDecodeError(SOURCE, f"kline violates low <= open/close <= high: {k!r}")
    return candle


def parse_mini_ticker(d: dict[str, Any]) -> MarketQuote:
    close = _dec(d, "c", positive=True)
    open_ = _dec(d, "o", positive=True) if "o" in d else None
    change = (close - open_) / open_ * 100 if open_ else None
    return MarketQuote(
        source=SOURCE,
        source_id=str(d["s"]).upper(),
        quote_currency=None,
        price=close,
        observed_at=_ms(d["E"]),
        volume_24h=_dec(d, "q") if "q" in d else None,
        base_volume_24h=_dec(d, "v") if "v" in d else None,
        high_24h=_dec(d, "h") if "h" in d else None,
        low_24h=_dec(d, "l") if "l" in d else None,
        change_24h=change,
    )


_PARSERS = {"trade": parse_trade, "kline": parse_kline, "24hrMiniTicker": parse_mini_ticker}


class BinanceStream(WsFeed):
    """Trades, klines and mini-tickers of a set of symbols over one combined stream."""

    source = SOURCE

    def __init__(
        self,
        streams: Sequence[str],
        *,
        base_url: str = DEFAULT_WS_URL,
        policy: StreamPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        if policy is None:
            policy = StreamPolicy(max_age=MAX_CONNECTION_AGE_S)
        super().__init__(base_url.rstrip("/"), policy, **kwargs)
        self.streams: list[str] = []
        self._add(streams)
        if not self.streams:
            raise ValueError("a combined stream needs at least one stream name")
        self._ids = itertools.count(1)
        self._sent: list[str] = []

    def _add(self, streams: Iterable[str]) -> list[str]:
        new = [s for s in dict.fromkeys(streams) if s not in self.streams]
        if len(self.streams) + len(new) > MAX_STREAMS_PER_CONNECTION:
            raise ValueError(f"Binance allows {MAX_STREAMS_PER_CONNECTION} streams per connection")
        self.streams.extend(new)
        return new

    def connect_url(self) -> str:
        return f"{self.url}/stream?streams={'/'.join(self.streams)}"

    async def on_open(self, ws: Sender) -> Any:
        # Everything we want is in the URL: a reconnect resubscribes by construction.
        return tuple(self.streams)

    async def subscribe(self, streams: Sequence[str]) -> list[int]:
        """Add streams now (``SUBSCRIBE``) and to every later connection's URL.

        Returns the request ids; the acks arrive as :class:`SubscribeAck` events.
        When no connection is open the streams are only remembered.
        """
        new = self._add(streams)
        ids: list[int] = []
        for i in range(0, len(new), SUBSCRIBE_CHUNK):
            request_id = next(self._ids)
            chunk = new[i : i + SUBSCRIBE_CHUNK]
            if await self.send_json({"method": "SUBSCRIBE", "params": chunk, "id": request_id}):
                ids.append(request_id)
                await asyncio.sleep(CONTROL_MESSAGE_SPACING_S)
        return ids

    def parse(self, message: Any) -> Sequence[Any]:
        if isinstance(message, list):  # a raw ``!miniTicker@arr`` frame
            return [ev for item in message for ev in self.parse(item)]
        if not isinstance(message, dict):
            raise SourceDecodeError(SOURCE, f"unexpected frame: {message!r}")
        if "id" in message and ("result" in message or "code" in message or "error" in message):
            error = message.get("msg") or message.get("error")
            return (SubscribeAck(int(message["id"]), str(error) if error else None),)
        if "code" in message and "msg" in message:
            log.warning("binance stream error frame: %s", message)
            self.stats.bump("error_frames")
            return ()
        data = message.get("data", message)
        if isinstance(data, list):  # ``!miniTicker@arr`` inside a combined stream
            return [ev for item in data for ev in self.parse(item)]
        if not isinstance(data, dict):
            raise SourceDecodeError(SOURCE, f"unexpected payload: {message!r}")
        kind = data.get("e")
        if kind == "serverShutdown":
            self.stats.bump("server_shutdowns")
            raise ReconnectRequested("serverShutdown event")
        parser = _PARSERS.get(str(kind))
        if parser is None:
            self.stats.bump("ignored_frames")
            return ()
        return (parser(data),)


__all__ = [
    "DEFAULT_WS_URL",
    "SOURCE",
    "BinanceStream",
    "SubscribeAck",
    "parse_kline",
    "parse_mini_ticker",
    "parse_trade",
    "stream_names",
]

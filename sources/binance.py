"""Binance spot REST: klines, 24 h tickers and the market list (``exchangeInfo``).

Default host is ``data-api.binance.vision`` (market data only, no key). The
budget is Binance's ``REQUEST_WEIGHT`` of 6000 per minute per IP; each call
spends its documented weight (klines 2, ``ticker/24hr`` 2/40/80 by symbol
count, ``exchangeInfo`` 20), and every response's ``X-MBX-USED-WEIGHT-1M``
header is read back: above :data:`WEIGHT_HIGH_WATER` of the limit we stop
sending until the next minute starts, because the server's count includes
other clients on the same IP. 429 and 418 (IP ban) carry ``Retry-After`` and
block the client until it passes.

Prices and volumes are JSON **strings**, parsed exactly. Kline rows are keyed by
their open time already; a kline whose close time is still in the future is
the forming candle and comes back with ``is_complete=False``. A symbol like
``BTCUSDT`` is never split by guessing: pass the markets from
:meth:`Binance.exchange_info` to get ``quote_currency`` filled in.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx

from sources.base import HttpSettings, RestAdapter, Wiring
from sources.errors import (
    SourceAuthError,
    SourceDecodeError,
    SourceError,
    SourceRateLimited,
    SourceRequestError,
    SourceUnavailable,
)
from sources.http import RateLimit
from sources.records import Batch, CandleRecord, ExchangeMarket, MarketQuote
from sources.validate import (
    amount_of,
    as_array,
    as_object,
    check_candle,
    check_quote,
    decimal_of,
    int_of,
    optional,
    price_of,
    required,
    text_of,
    time_from_ms,
)

DATA_API_URL = "https://data-api.binance.vision"
WEIGHT_PER_MINUTE = 6000
WEIGHT_HIGH_WATER = 0.9
KLINE_INTERVALS = (
    *("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h"),
    *("4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"),
)
KLINES_MAX = 1000
WEIGHT_KLINES = 2
WEIGHT_EXCHANGE_INFO = 20
SYMBOL_RE = re.compile(r"^[A-Z0-9\-_.]{1,20}$")
#: Binance error codes that mean "the server is struggling", not "your request is wrong".
UNAVAILABLE_CODES = {-1000, -1001, -1006, -1007, -1008}
RATE_CODES = {-1003, -1015}


def ticker_weight(n_symbols: int | None) -> int:
    """``ticker/24hr`` weight: 2 for 1–20 symbols, 40 for 21–100, 80 for all."""
    if n_symbols is None or n_symbols > 100:
        return 80
    return 2 if n_symbols <= 20 else 40


@dataclass(frozen=True, slots=True)
class BinanceConfig:
    base_url: str = DATA_API_URL
    weight_per_minute: float = WEIGHT_PER_MINUTE
    http: HttpSettings = field(default_factory=HttpSettings)

    @property
    def rate_limit(self) -> RateLimit:
        return RateLimit(self.weight_per_minute, 60.0)


def _error_envelope(response: httpx.Response, body: Any) -> SourceError | None:
    """Map ``{"code": -1121, "msg": "Invalid symbol."}`` to the error tree."""
    if not isinstance(body, dict) or not isinstance(body.get("code"), int) or "msg" not in body:
        return None
    code = body["code"]
    message = f"error {code}: {body['msg']}"[:300]
    status = response.status_code
    if status in (429, 418):
        return None  # the status mapping reads Retry-After
    if code in RATE_CODES:
        return SourceRateLimited(Binance.source, message, status=status)
    if code in UNAVAILABLE_CODES:
        return SourceUnavailable(Binance.source, message, status=status)
    if status in (401, 403) or code in (-2014, -2015):
        return SourceAuthError(Binance.source, message, status=status)
    if response.is_success:
        return SourceDecodeError(Binance.source, message, status=status)
    return SourceRequestError(Binance.source, message, status=status)


def _symbol(symbol: str) -> str:
    if not SYMBOL_RE.match(symbol):
        raise ValueError(f"not a Binance symbol: {symbol!r}")
    return symbol


class Binance(RestAdapter):
    source: ClassVar[str] = "binance"

    def __init__(self, config: BinanceConfig | None = None, wiring: Wiring | None = None) -> None:
        self.config = config or BinanceConfig()
        self.used_weight: int | None = None
        super().__init__(
            self._client(
                self.config.base_url,
                self.config.http.policy(self.config.rate_limit),
                wiring,
                error_hook=_error_envelope,
                response_hook=self._observe_weight,
            )
        )

    def _observe_weight(self, response: httpx.Response) -> None:
        raw = response.headers.get("x-mbx-used-weight-1m")
        if raw is None or not raw.strip().isdigit():
            return
        self.used_weight = int(raw)
        if self.used_weight >= WEIGHT_HIGH_WATER * self.config.weight_per_minute:
            now = self.clock.now()
            to_next_minute = 60 - now.second - now.microsecond / 1e6
            self.client.limiter.block_for(to_next_minute)

    async def exchange_info(self, symbols: Sequence[str] = ()) -> Batch[ExchangeMarket]:
        params = {"symbols": _symbols_param(symbols)} if symbols else {}
        body = await self.client.get_json("/api/v3/exchangeInfo", params, cost=WEIGHT_EXCHANGE_INFO)
        if not isinstance(body, dict) or not isinstance(body.get("symbols"), list):
            raise SourceDecodeError(self.source, "exchangeInfo without a symbols array")
        return self._markets(body["symbols"], symbol="symbol", base="baseAsset", quote="quoteAsset")

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = KLINES_MAX,
        quote_currency: str | None = None,
    ) -> Batch[CandleRecord]:
        """Up to ``limit`` candles, oldest first (with ``start``), keyed by open time."""
        if interval not in KLINE_INTERVALS:
            raise ValueError(f"interval must be one of {KLINE_INTERVALS}")
        params: dict[str, str | int] = {
            "symbol": _symbol(symbol),
            "interval": interval,
            "limit": max(1, min(limit, KLINES_MAX)),
        }
        if start is not None:
            params["startTime"] = math.floor(start.timestamp() * 1000)
        if end is not None:
            params["endTime"] = math.floor(end.timestamp() * 1000)
        body = await self.client.get_json("/api/v3/klines", params, cost=WEIGHT_KLINES)
        if not isinstance(body, list):
            raise SourceDecodeError(self.source, "klines reply is not an array")
        now = self.clock.now()

        def parse(row: Any) -> CandleRecord:
            cols = as_array(row, 7)
            close_time = time_from_ms(cols[6], "closeTime")
            return check_candle(
                CandleRecord(
                    source=self.source,
                    source_id=symbol,
                    quote_currency=quote_currency,
                    interval=interval,
                    open_time=time_from_ms(cols[0], "openTime"),
                    open=price_of(cols[1], "open"),
                    high=price_of(cols[2], "high"),
                    low=price_of(cols[3], "low"),
                    close=price_of(cols[4], "close"),
                    volume=amount_of(cols[5], "volume"),
                    quote_volume=optional(amount_of, _at(cols, 7), "quoteVolume"),
                    trades=optional(int_of, _at(cols, 8), "trades"),
                    is_complete=close_time < now,
                )
            )

        return self._collect("candle", body, parse)

    async def tickers_24h(
        self,
        symbols: Sequence[str] | None = None,
        *,
        markets: Mapping[str, ExchangeMarket] | None = None,
    ) -> Batch[MarketQuote]:
        """24 h rolling tickers for ``symbols`` (all symbols when ``None``, weight 80)."""
        params: dict[str, str | int] = {}
        if symbols is not None:
            if not symbols:
                return Batch()
            if len(symbols) == 1:
                params["symbol"] = _symbol(symbols[0])
            else:
                params["symbols"] = _symbols_param(symbols)
        cost = ticker_weight(None if symbols is None else len(symbols))
        body = await self.client.get_json("/api/v3/ticker/24hr", params, cost=cost)
        rows = body if isinstance(body, list) else [body]
        known = markets or {}

        def parse(row: Any) -> MarketQuote:
            obj = as_object(row)
            symbol = text_of(required(obj, "symbol"), "symbol")
            market = known.get(symbol)
            bid = optional(amount_of, obj.get("bidPrice"), "bidPrice")
            ask = optional(amount_of, obj.get("askPrice"), "askPrice")
            change = obj.get("priceChangePercent")
            return check_quote(
                MarketQuote(
                    source=self.source,
                    source_id=symbol,
                    quote_currency=market.quote if market else None,
                    price=price_of(required(obj, "lastPrice"), "lastPrice"),
                    observed_at=time_from_ms(required(obj, "closeTime"), "closeTime"),
                    volume_24h=optional(amount_of, obj.get("quoteVolume"), "quoteVolume"),
                    base_volume_24h=optional(amount_of, obj.get("volume"), "volume"),
                    high_24h=optional(price_of, obj.get("highPrice"), "highPrice"),
                    low_24h=optional(price_of, obj.get("lowPrice"), "lowPrice"),
                    change_24h=None if change is None else decimal_of(change, "priceChangePct"),
                    # An empty book side is sent as "0.00000000": that is "no quote", not a price.
                    bid=bid or None,
                    ask=ask or None,
                )
            )

        return self._collect("market_quote", rows, parse)


def _at(cols: list[Any], i: int) -> Any:
    return cols[i] if len(cols) > i else None


def _symbols_param(symbols: Sequence[str]) -> str:
    return json.dumps([_symbol(s) for s in symbols], separators=(",", ":"))


__all__ = ["Binance", "BinanceConfig", "ticker_weight"]

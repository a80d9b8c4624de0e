"""Typed records the source adapters hand to ingest.

Adapters translate each provider's wire format into these frozen dataclasses
so nothing downstream ever sees a provider's JSON. The conventions are fixed
here, once, because the providers disagree on all of them:

- money, prices, volumes and percentages are :class:`~decimal.Decimal`
  (CoinGecko sends floats, exchanges send strings; both parse exactly);
- every timestamp is a timezone-aware UTC ``datetime``;
- a candle is keyed by its **open** time (CoinGecko OHLC sends the close time
  and is shifted back by one interval in the adapter);
- ``source_id`` is the provider's own name for what was observed (a CoinGecko
  id, an exchange market symbol such as ``BTCUSDT`` / ``BTC-USD``, a Token
  Metrics ``token_id``). Mapping it to a canonical asset is the job of
  :mod:`sources.identity`, never of an adapter;
- ``quote_currency`` is an upper-case currency code (``USD``, ``USDT``, ``EUR``):
  USDT is not USD, so the quote is always explicit, or ``None`` when only the
  market registry knows it (a Binance symbol like ``BTCUSDT`` is not split by
  guessing).

Records that fail validation never appear in a :class:`Batch`'s ``records``;
they are listed in ``quarantined`` instead (see :mod:`sources.validate`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class MarketQuote:
    """One source's observation of a price and its market figures.

    ``volume_24h`` is in the *quote* currency (CoinGecko ``total_volume``,
    Binance ``quoteVolume``) so volumes from different sources are comparable;
    ``base_volume_24h`` keeps the base-unit figure when the source sends it.
    Percent changes are percentages (``2.5`` means +2.5 %).
    """

    source: str
    source_id: str
    quote_currency: str | None
    price: Decimal
    observed_at: datetime
    volume_24h: Decimal | None = None
    base_volume_24h: Decimal | None = None
    market_cap: Decimal | None = None
    high_24h: Decimal | None = None
    low_24h: Decimal | None = None
    change_1h: Decimal | None = None
    change_24h: Decimal | None = None
    change_7d: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    circulating_supply: Decimal | None = None
    total_supply: Decimal | None = None
    max_supply: Decimal | None = None
    symbol: str | None = None
    name: str | None = None
    rank: int | None = None


#: Interval names used everywhere (Binance's spelling; ``1M`` is a calendar month).
INTERVAL_SECONDS: Mapping[str, int] = {
    "1s": 1,
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "4d": 345600,
    "1w": 604800,
}


def interval_delta(interval: str) -> timedelta:
    """The fixed length of an interval (``1M`` has none and raises ``KeyError``)."""
    return timedelta(seconds=INTERVAL_SECONDS[interval])


@dataclass(frozen=True, slots=True)
class CandleRecord:
    """OHLC(V) for one interval, keyed by its open time.

    ``volume`` is in base units (``None`` when the source has none: CoinGecko
    OHLC). ``is_complete`` is false for the still-forming latest candle, which
    ingest may overwrite later.
    """

    source: str
    source_id: str
    quote_currency: str | None
    interval: str
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None = None
    quote_volume: Decimal | None = None
    trades: int | None = None
    is_complete: bool = True


@dataclass(frozen=True, slots=True)
class PricePoint:
    """A point of a price history (CoinGecko ``market_chart``), in ``quote_currency``."""

    source: str
    source_id: str
    quote_currency: str
    ts: datetime
    price: Decimal
    market_cap: Decimal | None = None
    volume_24h: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One exchange trade (stream adapters)."""

    source: str
    source_id: str
    trade_id: str
    price: Decimal
    quantity: Decimal
    ts: datetime
    buyer_is_maker: bool | None = None


@dataclass(frozen=True, slots=True)
class CoinListing:
    """A CoinGecko coin and its contracts: ``platforms`` is ``((platform_id, address), …)``.

    Addresses are kept as the provider sent them (lower-casing EVM ones is
    :mod:`sources.identity`'s job, since non-EVM addresses are case-sensitive).
    Native coins have no platforms.
    """

    id: str
    symbol: str
    name: str
    platforms: tuple[tuple[str, str], ...] = ()

    def platform_map(self) -> dict[str, str]:
        return dict(self.platforms)


@dataclass(frozen=True, slots=True)
class AssetPlatform:
    """A CoinGecko asset platform; ``chain_identifier`` is the EVM chain id, or ``None``."""

    id: str
    chain_identifier: int | None
    name: str
    shortname: str | None = None
    native_coin_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExchangeMarket:
    """An exchange pair as the exchange itself describes it (``exchangeInfo``, ``products``).

    ``base``/``quote`` are the exchange's currency codes, upper-case.
    """

    source: str
    symbol: str
    base: str
    quote: str
    status: str | None = None


@dataclass(frozen=True, slots=True)
class ExchangeTicker:
    """A CoinGecko ``/coins/{id}/tickers`` row: the authoritative bridge from an
    exchange's base/target codes to CoinGecko ids."""

    exchange: str
    base: str
    target: str
    coin_id: str | None
    target_coin_id: str | None


@dataclass(frozen=True, slots=True)
class TokenListing:
    """A Token Metrics token: its integer id, symbol and name (no contracts)."""

    source: str
    token_id: str
    symbol: str
    name: str


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """A trading signal from a provider, kept with its provenance.

    ``signal`` is ``1`` bullish, ``-1`` bearish, ``0`` none; ``trend`` the last
    non-zero signal. The returns are cumulative ROI figures, not prices.
    ``horizon`` is the signal's cadence (``1d`` daily, ``1h`` hourly).
    """

    source: str
    source_id: str
    symbol: str | None
    observed_at: datetime
    horizon: str
    signal: int
    trend: int | None = None
    signal_returns: Decimal | None = None
    holding_returns: Decimal | None = None
    trader_grade: Decimal | None = None
    investor_grade: Decimal | None = None

    @property
    def direction(self) -> str:
        return {1: "bullish", -1: "bearish"}.get(self.signal, "neutral")


@dataclass(frozen=True, slots=True)
class GradeRecord:
    """A provider grade (0–100) with its component scores by name.

    ``kind`` is ``trader`` or ``investor``; ``components`` maps lower-case
    component names (``ta_grade``, ``quant_grade`` …) to their scores.
    """

    source: str
    source_id: str
    symbol: str | None
    kind: str
    observed_at: datetime
    grade: Decimal
    change_24h_pct: Decimal | None = None
    components: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A record that failed validation: why, and a bounded excerpt of what arrived."""

    source: str
    kind: str
    reason: str
    raw: str


@dataclass(frozen=True, slots=True)
class Batch(Generic[T]):
    """The good records of one upstream response, and the bad ones set aside."""

    records: tuple[T, ...] = ()
    quarantined: tuple[Quarantined, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[T]:
        return iter(self.records)


__all__ = [
    "INTERVAL_SECONDS",
    "AssetPlatform",
    "Batch",
    "CandleRecord",
    "CoinListing",
    "ExchangeMarket",
    "ExchangeTicker",
    "GradeRecord",
    "MarketQuote",
    "PricePoint",
    "Quarantined",
    "SignalRecord",
    "TokenListing",
    "TradeRecord",
    "interval_delta",
]

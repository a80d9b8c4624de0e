"""A simulated market: seeded, deterministic, random-access, clearly labelled.

Used when no real upstream is reachable (offline demos), for load tests and for
the crash test. Every record it makes carries a ``source`` starting with
``simulated`` (one per simulated venue: ``simulated:alpha`` …), so a simulated
value can never be mistaken for a real one.

The price path is a geometric Brownian motion built so that *any instant can
be computed on its own*, without replaying history: the value at second ``t``
is a pure function of ``(seed, asset, t)``. That is what makes backfills
resumable and idempotent (the candle for 12:03 is the same whether it is
computed live, in a backfill, or after a crash), and it is built in three
levels, each a Brownian bridge pinned to the level above:

1. daily anchors: a random walk in log price from a fixed reference day
   (stablecoins instead draw each day independently around their peg);
2. minute points: a Brownian bridge between two daily anchors;
3. second points: a Brownian bridge between two minute points.

A bridge of a Brownian motion pinned at both ends *is* that motion
conditioned on its ends, so the stitched path has the right statistics at
every scale. Normal draws come from ``random.Random`` seeded by a hash of
``(seed, level, asset, index)``.

Venues quote the same path scaled by a fixed bias and a small per-minute
noise, so they disagree by a few basis points (consensus has something to
agree on). Scaling by a positive factor keeps the OHLC invariants
(``low <= open, close <= high``) that the reference candle has by
construction.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sources.records import INTERVAL_SECONDS, CandleRecord, MarketQuote

SOURCE_PREFIX = "simulated"
QUOTE = "USD"
#: The day whose anchor is each asset's ``start_price``; walks go both ways from it.
REFERENCE_DAY = datetime(2026, 1, 1, tzinfo=UTC)
_DAY = 86_400
_MINUTES_PER_DAY = 1440
_YEAR_DAYS = 365.0


def is_simulated(source: str) -> bool:
    return source == SOURCE_PREFIX or source.startswith(SOURCE_PREFIX + ":")


@dataclass(frozen=True, slots=True)
class SimAsset:
    """One simulated asset: identity plus the parameters of its price process."""

    canonical_id: str
    symbol: str
    name: str
    kind: str
    rank: int
    start_price: float
    annual_vol: float
    daily_volume_usd: float
    circulating_supply: float
    max_supply: float | None = None
    categories: tuple[str, ...] = ()
    pegged: bool = False


@dataclass(frozen=True, slots=True)
class SimVenue:
    source: str
    bias_bps: float
    noise_bps: float
    volume_share: float


@dataclass(frozen=True, slots=True)
class SimChain:
    id: str
    name: str
    caip2: str
    evm_chain_id: int
    native_asset: str


@dataclass(frozen=True, slots=True)
class SimContract:
    asset: str
    chain_id: str
    address: str
    decimals: int


ASSETS: tuple[SimAsset, ...] = (
    SimAsset("bitcoin", "BTC", "Bitcoin", "coin", 1, 87_000.0, 0.55, 30e9, 19.9e6, 21e6,
             ("layer-1", "store-of-value")),
    SimAsset("ethereum", "ETH", "Ethereum", "coin", 2, 2_950.0, 0.70, 15e9, 120.7e6, None,
             ("layer-1", "smart-contract-platform")),
    SimAsset("tether", "USDT", "Tether", "stablecoin", 3, 1.0, 0.01, 50e9, 185e9, None,
             ("stablecoins",), pegged=True),
    SimAsset("binancecoin", "BNB", "BNB", "coin", 4, 860.0, 0.50, 1.5e9, 139e6, 200e6,
             ("layer-1", "exchange-token")),
    SimAsset("solana", "SOL", "Solana", "coin", 5, 125.0, 0.85, 3e9, 560e6, None,
             ("layer-1", "smart-contract-platform")),
    SimAsset("usd-coin", "USDC", "USDC", "stablecoin", 6, 1.0, 0.01, 8e9, 75e9, None,
             ("stablecoins",), pegged=True),
    SimAsset("ripple", "XRP", "XRP", "coin", 7, 1.85, 0.75, 2.5e9, 60e9, 100e9, ("payments",)),
    SimAsset("cardano", "ADA", "Cardano", "coin", 8, 0.36, 0.80, 0.6e9, 36e9, 45e9,
             ("layer-1", "smart-contract-platform")),
    SimAsset("dogecoin", "DOGE", "Dogecoin", "coin", 9, 0.13, 0.95, 1.2e9, 150e9, None,
             ("meme",)),
)  # fmt: skip

VENUES: tuple[SimVenue, ...] = (
    SimVenue("simulated:alpha", 0.0, 2.0, 0.5),
    SimVenue("simulated:beta", 4.0, 3.0, 0.3),
    SimVenue("simulated:gamma", -3.0, 3.0, 0.2),
)

CHAINS: tuple[SimChain, ...] = (SimChain("ethereum", "Ethereum", "eip155:1", 1, "ethereum"),)

CONTRACTS: tuple[SimContract, ...] = (
    SimContract("tether", "ethereum", "0xdac17f958d2ee523a2206206994597c13d831ec7", 6),
    SimContract("usd-coin", "ethereum", "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", 6),
)


def market_symbol(asset: SimAsset) -> str:
    """The simulated venues' market symbol, e.g. ``BTC-USD`` (exchange style, base-quote)."""
    return f"{asset.symbol}-{QUOTE}"


def _epoch_seconds(ts: datetime) -> int:
    return math.floor(ts.timestamp())


def _to_dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _dec(x: float) -> Decimal:
    """A float as a Decimal with 10 significant digits (what a venue would print)."""
    return Decimal(f"{x:.10g}")


class _LRU(OrderedDict[tuple[int, int], list[float]]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: tuple[int, int], value: list[float]) -> list[float]:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class SimulatedMarket:
    """The deterministic market for one ``seed``; all reads are pure functions of time."""

    def __init__(
        self,
        seed: int = 42,
        *,
        assets: Sequence[SimAsset] = ASSETS,
        venues: Sequence[SimVenue] = VENUES,
    ) -> None:
        self.seed = seed
        self.assets = tuple(assets)
        self.venues = tuple(venues)
        self._index = {a.canonical_id: i for i, a in enumerate(self.assets)}
        self._forward: dict[int, list[float]] = {i: [0.0] for i in self._index.values()}
        self._backward: dict[int, list[float]] = {i: [0.0] for i in self._index.values()}
        self._days = _LRU(64)
        self._minutes = _LRU(8192)

    # -- randomness ---------------------------------------------------------------

    def _rng(self, *parts: object) -> random.Random:
        digest = hashlib.blake2b(repr((self.seed, *parts)).encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    def asset(self, canonical_id: str) -> SimAsset:
        return self.assets[self._index[canonical_id]]

    # -- level 1: daily anchors (log price relative to start_price) -----------

    def _anchor(self, ai: int, day: int) -> float:
        """Log price (relative to ``start_price``) at 00:00 UTC of ``day`` (0 = reference day).

        Walks are extended lazily in both directions from day 0 and memoised, so
        asking for any day costs at most one pass over the days not yet seen.
        """
        asset = self.assets[ai]
        if asset.pegged:
            return 0.0005 * self._rng("peg", ai, day).gauss(0.0, 1.0)
        sigma = asset.annual_vol / math.sqrt(_YEAR_DAYS)
        drift = -0.5 * sigma * sigma

        def step(k: int) -> float:  # the increment from day k to day k + 1
            return drift + sigma * self._rng("day", ai, k).gauss(0.0, 1.0)

        if day >= 0:
            seq = self._forward[ai]
            while len(seq) <= day:
                seq.append(seq[-1] + step(len(seq) - 1))
            return seq[day]
        seq = self._backward[ai]  # seq[j] is day -j
        while len(seq) <= -day:
            seq.append(seq[-1] - step(-len(seq)))
        return seq[-day]

    # -- level 2: minute points of one day -------------------------------------

    def _day_points(self, ai: int, day: int) -> list[float]:
        cached = self._days.get((ai, day))
        if cached is not None:
            return cached
        start, end = self._anchor(ai, day), self._anchor(ai, day + 1)
        sigma = self.assets[ai].annual_vol / math.sqrt(_YEAR_DAYS * _MINUTES_PER_DAY)
        return self._days.put((ai, day), _bridge(self._rng("min", ai, day), start, end,
                                                 _MINUTES_PER_DAY, sigma))  # fmt: skip

    def _minute_log(self, ai: int, minute: int) -> float:
        day, k = divmod(minute, _MINUTES_PER_DAY)
        return self._day_points(ai, day)[k]

    # -- level 3: second points of one minute ----------------------------------

    def _minute_points(self, ai: int, minute: int) -> list[float]:
        cached = self._minutes.get((ai, minute))
        if cached is not None:
            return cached
        start, end = self._minute_log(ai, minute), self._minute_log(ai, minute + 1)
        sigma = self.assets[ai].annual_vol / math.sqrt(_YEAR_DAYS * _DAY)
        return self._minutes.put(
            (ai, minute), _bridge(self._rng("sec", ai, minute), start, end, 60, sigma)
        )

    def _ref_log(self, ai: int, second: int) -> float:
        minute, s = divmod(second - _epoch_seconds(REFERENCE_DAY), 60)
        return self._minute_points(ai, minute)[s]

    def reference_price(self, canonical_id: str, ts: datetime) -> float:
        """The venue-independent price at ``ts`` (second resolution)."""
        ai = self._index[canonical_id]
        return self.assets[ai].start_price * math.exp(self._ref_log(ai, _epoch_seconds(ts)))

    # -- venues -------------------------------------------------------------------

    def _venue_factor(self, venue: SimVenue, ai: int, period: int) -> tuple[float, float]:
        """(price factor, volume factor) of ``venue`` for one period (minute or interval)."""
        rng = self._rng("venue", venue.source, ai, period)
        noise = rng.gauss(0.0, venue.noise_bps) / 10_000
        return math.exp(venue.bias_bps / 10_000 + noise), rng.lognormvariate(0.0, 0.5)

    def _ohlc(self, ai: int, start: int, end: int) -> tuple[float, float, float, float]:
        """Reference OHLC (log) over ``[start, end]`` seconds from the finest useful points."""
        span = end - start
        base = _epoch_seconds(REFERENCE_DAY)
        if span <= 60:
            minute, s0 = divmod(start - base, 60)
            pts = self._minute_points(ai, minute)[s0 : s0 + span + 1]
        else:
            m0, m1 = (start - base) // 60, (end - base) // 60
            day, k0 = divmod(m0, _MINUTES_PER_DAY)
            if m1 - day * _MINUTES_PER_DAY <= _MINUTES_PER_DAY:  # within one day's bridge
                pts = self._day_points(ai, day)[k0 : m1 - day * _MINUTES_PER_DAY + 1]
            else:
                pts = [self._minute_log(ai, m) for m in range(m0, m1 + 1)]
        return pts[0], max(pts), min(pts), pts[-1]

    def candle(
        self,
        canonical_id: str,
        venue: SimVenue,
        interval: str,
        open_time: datetime,
        now: datetime | None = None,
    ) -> CandleRecord:
        """The candle of ``interval`` opening at ``open_time``; partial up to ``now`` if given.

        1m candles use second points (the same ones live ticks use); coarser
        intervals use minute points, which is cheap enough for long histories.
        """
        ai = self._index[canonical_id]
        asset = self.assets[ai]
        length = INTERVAL_SECONDS[interval]
        start = _epoch_seconds(open_time)
        if start % length:
            raise ValueError(f"{open_time} is not aligned to {interval}")
        end = start + length
        complete = True
        if now is not None and _epoch_seconds(now) < end:
            end, complete = max(start, _epoch_seconds(now)), False
        o, h, lo, c = self._ohlc(ai, start, end) if end > start else (self._ref_log(ai, start),) * 4
        factor, vol_factor = self._venue_factor(venue, ai, start // 60)
        p0 = asset.start_price * factor
        mid = asset.start_price * math.exp(o)
        usd_volume = asset.daily_volume_usd * venue.volume_share * (end - start) / _DAY
        return CandleRecord(
            source=venue.source,
            source_id=market_symbol(asset),
            quote_currency=QUOTE,
            interval=interval,
            open_time=open_time,
            open=_dec(p0 * math.exp(o)),
            high=_dec(p0 * math.exp(h)),
            low=_dec(p0 * math.exp(lo)),
            close=_dec(p0 * math.exp(c)),
            volume=_dec(usd_volume * vol_factor / mid),
            is_complete=complete,
        )

    def candles(
        self,
        canonical_id: str,
        venue: SimVenue,
        interval: str,
        start: datetime,
        end: datetime,
        now: datetime | None = None,
    ) -> Iterator[CandleRecord]:
        """Candles opening in ``[start, end)`` (``start`` aligned to the interval)."""
        step = timedelta(seconds=INTERVAL_SECONDS[interval])
        t = start
        while t < end:
            yield self.candle(canonical_id, venue, interval, t, now)
            t += step

    def quote(self, canonical_id: str, venue: SimVenue, ts: datetime) -> MarketQuote:
        """A venue's ticker at ``ts``: price, 24 h volume, market cap and changes."""
        ai = self._index[canonical_id]
        asset = self.assets[ai]
        second = _epoch_seconds(ts)
        ref = asset.start_price * math.exp(self._ref_log(ai, second))
        factor, _ = self._venue_factor(venue, ai, second // 60)
        price = ref * factor

        def change(seconds: int) -> Decimal:
            past = asset.start_price * math.exp(self._ref_log(ai, second - seconds))
            return Decimal(f"{(ref / past - 1) * 100:.4f}")

        day_factor = self._rng("vol24", venue.source, ai, second // _DAY).lognormvariate(0.0, 0.2)
        supply = Decimal(f"{asset.circulating_supply:.0f}")
        return MarketQuote(
            source=venue.source,
            source_id=market_symbol(asset),
            quote_currency=QUOTE,
            price=_dec(price),
            observed_at=_to_dt(second),
            volume_24h=_dec(asset.daily_volume_usd * venue.volume_share * day_factor),
            market_cap=_dec(ref * asset.circulating_supply),
            change_1h=change(3600),
            change_24h=change(_DAY),
            change_7d=change(7 * _DAY),
            circulating_supply=supply,
            max_supply=None if asset.max_supply is None else Decimal(f"{asset.max_supply:.0f}"),
            symbol=asset.symbol,
            name=asset.name,
            rank=asset.rank,
        )


def _bridge(rng: random.Random, start: float, end: float, steps: int, sigma: float) -> list[float]:
    """``steps + 1`` points of a Brownian bridge from ``start`` to ``end`` (step std ``sigma``)."""
    walk = [0.0]
    acc = 0.0
    for _ in range(steps):
        acc += rng.gauss(0.0, 1.0)
        walk.append(acc)
    last = walk[-1]
    return [
        start + (end - start) * k / steps + sigma * (w - last * k / steps)
        for k, w in enumerate(walk)
    ]


__all__ = [
    "ASSETS",
    "CHAINS",
    "CONTRACTS",
    "QUOTE",
    "REFERENCE_DAY",
    "SOURCE_PREFIX",
    "VENUES",
    "SimAsset",
    "SimChain",
    "SimContract",
    "SimVenue",
    "SimulatedMarket",
    "is_simulated",
    "market_symbol",
]

"""Technical indicators over a candle series, computed incrementally with talipp.

Why talipp (https://github.com/nardew/talipp, MIT): it is built for exactly our
shape of work, *incremental* updates. Each indicator object keeps its own
state and takes one new candle with ``add()`` in O(1) (O(period) for the
windowed ones), so a new 1h candle costs a handful of arithmetic operations
per asset instead of recomputing a 300-candle history through a DataFrame.
It is pure Python with no dependencies (no pandas/numpy in the server), its
indicator definitions follow the textbook ones (Wilder's RSI and ATR, EMA
based MACD, SMA based Bollinger bands), and it is maintained and typed
enough to wrap. The formulas here are the library's; our code only feeds
candles, reads the latest values, and annualises the realised volatility.

The realised volatility is talipp's (population) standard deviation of the
last ``vol`` log returns, annualised by √(periods per year).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from talipp.indicators import ATR, BB, EMA, MACD, RSI, SMA, StdDev  # type: ignore[import-untyped]
from talipp.ohlcv import OHLCV  # type: ignore[import-untyped]

from ingest.candles import seconds
from storage.repositories.ingest import CandleRow

YEAR_SECONDS = 365 * 86_400


@dataclass(frozen=True, slots=True)
class Params:
    sma_fast: int = 20
    sma_slow: int = 50
    ema_fast: int = 12
    ema_slow: int = 26
    rsi: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    bb_period: int = 20
    bb_k: float = 2.0
    atr: int = 14
    vol: int = 30

    @property
    def warmup(self) -> int:
        """Candles needed before every indicator has a value (the slowest one's need)."""
        return max(
            self.sma_slow,
            self.ema_slow,
            self.rsi + 1,
            self.macd_slow + self.macd_signal - 1,
            self.bb_period,
            self.atr,
            self.vol + 1,
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The latest value of every indicator (all warm) after the candle at ``open_time``."""

    close: float
    sma_fast: float
    sma_slow: float
    prev_sma_fast: float | None
    prev_sma_slow: float | None
    ema_fast: float
    ema_slow: float
    prev_ema_fast: float | None
    prev_ema_slow: float | None
    rsi: float
    macd: float
    macd_signal: float
    macd_histogram: float
    bb_lower: float
    bb_middle: float
    bb_upper: float
    atr: float
    volatility: float


def _prev(ind: SMA) -> float | None:
    if len(ind) < 2:
        return None
    value = ind[-2]
    return None if value is None else float(value)


class IndicatorSet:
    """All indicators for one (asset, interval, source) series, fed candle by candle."""

    def __init__(self, interval: str, params: Params | None = None) -> None:
        self.interval = interval
        self.params = p = params or Params()
        self.sma_fast, self.sma_slow = SMA(p.sma_fast), SMA(p.sma_slow)
        self.ema_fast, self.ema_slow = EMA(p.ema_fast), EMA(p.ema_slow)
        self.rsi = RSI(p.rsi)
        self.macd = MACD(p.macd_fast, p.macd_slow, p.macd_signal)
        self.bb = BB(p.bb_period, p.bb_k)
        self.atr = ATR(p.atr)
        self.returns = StdDev(p.vol)
        self._last_close: float | None = None
        self.count = 0
        self.annualise = math.sqrt(YEAR_SECONDS / seconds(interval))

    def add(self, candle: CandleRow) -> None:
        close = float(candle.close)
        for ind in (self.sma_fast, self.sma_slow, self.ema_fast, self.ema_slow, self.rsi):
            ind.add(close)
        self.macd.add(close)
        self.bb.add(close)
        self.atr.add(OHLCV(float(candle.open), float(candle.high), float(candle.low), close))
        if self._last_close is not None:
            self.returns.add(math.log(close / self._last_close))
        self._last_close = close
        self.count += 1

    def snapshot(self) -> Snapshot | None:
        """The current values, or ``None`` while any indicator is still warming up."""
        macd, bb = self.macd[-1] if len(self.macd) else None, self.bb[-1] if len(self.bb) else None
        latest = [
            ind[-1] if len(ind) else None
            for ind in (
                self.sma_fast,
                self.sma_slow,
                self.ema_fast,
                self.ema_slow,
                self.rsi,
                self.atr,
                self.returns,
            )
        ]
        values = [float(v) for v in latest if v is not None]
        if macd is None or bb is None or macd.signal is None or len(values) < len(latest):
            return None
        sma_f, sma_s, ema_f, ema_s, rsi, atr, std = values
        assert self._last_close is not None
        return Snapshot(
            close=self._last_close,
            sma_fast=sma_f,
            sma_slow=sma_s,
            prev_sma_fast=_prev(self.sma_fast),
            prev_sma_slow=_prev(self.sma_slow),
            ema_fast=ema_f,
            ema_slow=ema_s,
            prev_ema_fast=_prev(self.ema_fast),
            prev_ema_slow=_prev(self.ema_slow),
            rsi=rsi,
            macd=float(macd.macd),
            macd_signal=float(macd.signal),
            macd_histogram=float(macd.histogram),
            bb_lower=float(bb.lb),
            bb_middle=float(bb.cb),
            bb_upper=float(bb.ub),
            atr=atr,
            volatility=std * self.annualise,
        )


class Series:
    """An :class:`IndicatorSet` plus the recent candles it was fed (to rebuild it bounded).

    talipp keeps every value it has seen; once the set has eaten
    ``rebuild_after`` candles it is rebuilt from the last ``window`` ones, so
    memory stays bounded in a process that runs for months.
    """

    def __init__(self, interval: str, params: Params | None, window: int) -> None:
        self.interval, self.params, self.window = interval, params, window
        self.candles: deque[CandleRow] = deque(maxlen=window)
        self.indicators = IndicatorSet(interval, params)
        self.rebuild_after = 4 * window

    @property
    def last_open(self) -> datetime | None:
        return self.candles[-1].open_time if self.candles else None

    def add(self, candle: CandleRow) -> Snapshot | None:
        self.candles.append(candle)
        if self.indicators.count >= self.rebuild_after:
            self.indicators = IndicatorSet(self.interval, self.params)
            for c in self.candles:
                self.indicators.add(c)
        else:
            self.indicators.add(candle)
        return self.indicators.snapshot()


__all__ = ["IndicatorSet", "Params", "Series", "Snapshot"]
